"""Strict parsing of an RFC 3161 TimeStampReq into what the engine needs.

TimeStampReq ::= SEQUENCE {
   version        INTEGER { v1(1) },
   messageImprint MessageImprint,
   reqPolicy      TSAPolicyId       OPTIONAL,
   nonce          INTEGER           OPTIONAL,
   certReq        BOOLEAN           DEFAULT FALSE,
   extensions     [0] IMPLICIT Extensions OPTIONAL }

Every problem raises `Rejection` with the failInfo RFC 3161 names for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from court.der import (
    TAG_BOOLEAN,
    TAG_INTEGER,
    TAG_NULL,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    DerError,
    Tlv,
    decode_integer,
    decode_oid,
    read_children,
    read_tlv,
)
from notary.tsa.status import FailInfo, Rejection

TAG_EXTENSIONS = 0xA0  # [0] IMPLICIT, constructed
MAX_NONCE_BITS = 160


@dataclass(frozen=True)
class HashAlgorithm:
    """A message-imprint hash the TSA may accept."""

    name: str
    oid: str
    digest_size: int


HASH_ALGORITHMS: dict[str, HashAlgorithm] = {
    alg.oid: alg
    for alg in (
        HashAlgorithm("sha256", "2.16.840.1.101.3.4.2.1", 32),
        HashAlgorithm("sha384", "2.16.840.1.101.3.4.2.2", 48),
        HashAlgorithm("sha512", "2.16.840.1.101.3.4.2.3", 64),
        HashAlgorithm("sm3", "1.2.156.10197.1.401", 32),
        # Known so that they are refused by name rather than as "unknown".
        HashAlgorithm("md5", "1.2.840.113549.2.5", 16),
        HashAlgorithm("sha1", "1.3.14.3.2.26", 20),
    )
}
HASH_BY_NAME: dict[str, HashAlgorithm] = {alg.name: alg for alg in HASH_ALGORITHMS.values()}


@dataclass(frozen=True)
class TimeStampRequest:
    """A request that passed every check.

    `imprint_der` is the request's MessageImprint encoding, echoed verbatim into
    the TSTInfo; `nonce_der` likewise the nonce INTEGER (or b"" when absent).
    """

    hash_algorithm: HashAlgorithm
    digest: bytes
    imprint_der: bytes
    nonce: int | None
    nonce_der: bytes
    policy: str | None
    cert_req: bool


def _expect(element: Tlv, tag: int, what: str) -> Tlv:
    if element.tag != tag:
        raise Rejection(FailInfo.BAD_REQUEST, f"{what}: unexpected ASN.1 tag 0x{element.tag:02x}")
    return element


def parse_request(
    data: bytes, *, accepted_hashes: frozenset[str], accepted_policies: frozenset[str]
) -> TimeStampRequest:
    """Parse and check a DER TimeStampReq.

    Preconditions: `accepted_hashes` holds names from HASH_BY_NAME;
    `accepted_policies` holds dotted OIDs.
    Raises Rejection: badRequest for anything that is not a DER TimeStampReq v1
    (including trailing bytes), badAlg for a hash outside `accepted_hashes`,
    badDataFormat for a digest of the wrong length, unacceptedPolicy,
    unacceptedExtension.
    """
    try:
        return _parse(data, accepted_hashes, accepted_policies)
    except DerError as exc:
        raise Rejection(FailInfo.BAD_REQUEST, f"request is not valid DER: {exc}") from exc


def _parse(
    data: bytes, accepted_hashes: frozenset[str], accepted_policies: frozenset[str]
) -> TimeStampRequest:
    if not data:
        raise Rejection(FailInfo.BAD_REQUEST, "empty request")
    outer, end = read_tlv(data)
    if end != len(data):
        raise Rejection(FailInfo.BAD_REQUEST, f"{len(data) - end} trailing bytes after the request")
    _expect(outer, TAG_SEQUENCE, "TimeStampReq")
    fields = read_children(outer.contents)
    if len(fields) < 2:
        raise Rejection(FailInfo.BAD_REQUEST, "TimeStampReq needs version and messageImprint")

    version = decode_integer(_expect(fields[0], TAG_INTEGER, "version"))
    if version != 1:
        raise Rejection(FailInfo.BAD_REQUEST, f"unsupported request version {version}, expected 1")

    imprint = _expect(fields[1], TAG_SEQUENCE, "messageImprint")
    hash_algorithm, digest = _parse_imprint(imprint, accepted_hashes)

    policy: str | None = None
    nonce: int | None = None
    nonce_der = b""
    cert_req = False
    rest = fields[2:]
    index = 0
    if index < len(rest) and rest[index].tag == TAG_OID:
        policy = decode_oid(rest[index])
        index += 1
    if index < len(rest) and rest[index].tag == TAG_INTEGER:
        nonce = decode_integer(rest[index])
        if nonce < 0 or nonce.bit_length() > MAX_NONCE_BITS:
            raise Rejection(
                FailInfo.BAD_REQUEST, "nonce must be a non-negative integer of at most 160 bits"
            )
        nonce_der = rest[index].encoded
        index += 1
    if index < len(rest) and rest[index].tag == TAG_BOOLEAN:
        flag = rest[index].contents
        if flag != b"\xff":
            # DER: TRUE is 0xFF and the DEFAULT FALSE is omitted, never encoded.
            raise Rejection(FailInfo.BAD_REQUEST, "certReq must be omitted or DER TRUE (0xFF)")
        cert_req = True
        index += 1
    if index < len(rest) and rest[index].tag == TAG_EXTENSIONS:
        extensions = read_children(rest[index].contents)
        if not extensions:
            raise Rejection(FailInfo.BAD_REQUEST, "extensions present but empty")
        oids = ", ".join(_extension_oid(ext) for ext in extensions)
        raise Rejection(FailInfo.UNACCEPTED_EXTENSION, f"request extensions not supported: {oids}")
    if index != len(rest):
        raise Rejection(
            FailInfo.BAD_REQUEST,
            f"unexpected field with tag 0x{rest[index].tag:02x} in TimeStampReq",
        )
    if policy is not None and policy not in accepted_policies:
        raise Rejection(
            FailInfo.UNACCEPTED_POLICY,
            f"policy {policy} is not served here; served: {', '.join(sorted(accepted_policies))}",
        )
    return TimeStampRequest(
        hash_algorithm=hash_algorithm,
        digest=digest,
        imprint_der=imprint.encoded,
        nonce=nonce,
        nonce_der=nonce_der,
        policy=policy,
        cert_req=cert_req,
    )


def _parse_imprint(imprint: Tlv, accepted_hashes: frozenset[str]) -> tuple[HashAlgorithm, bytes]:
    parts = read_children(imprint.contents)
    if len(parts) != 2:
        raise Rejection(
            FailInfo.BAD_REQUEST, "messageImprint needs hashAlgorithm and hashedMessage"
        )
    algorithm = read_children(_expect(parts[0], TAG_SEQUENCE, "hashAlgorithm").contents)
    if not algorithm:
        raise Rejection(FailInfo.BAD_REQUEST, "hashAlgorithm is empty")
    oid = decode_oid(_expect(algorithm[0], TAG_OID, "hashAlgorithm.algorithm"))
    known = HASH_ALGORITHMS.get(oid)
    if known is None or known.name not in accepted_hashes:
        name = known.name if known else oid
        accepted = ", ".join(sorted(accepted_hashes))
        raise Rejection(FailInfo.BAD_ALG, f"hash algorithm {name} is not accepted; use {accepted}")
    params = algorithm[1:]
    if params and (len(params) > 1 or params[0].tag != TAG_NULL or params[0].contents):
        raise Rejection(FailInfo.BAD_ALG, f"{known.name} takes no parameters (absent or NULL)")
    digest = _expect(parts[1], TAG_OCTET_STRING, "hashedMessage").contents
    if len(digest) != known.digest_size:
        raise Rejection(
            FailInfo.BAD_DATA_FORMAT,
            f"{known.name} digest must be {known.digest_size} bytes, got {len(digest)}",
        )
    return known, digest


def _extension_oid(extension: Tlv) -> str:
    try:
        return decode_oid(read_children(extension.contents)[0])
    except (DerError, IndexError):
        return "(malformed extension)"

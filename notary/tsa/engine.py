"""The RFC 3161 time-stamp engine: request in, TimeStampResp out.

Everything in a token that does not change between tokens (policy, accuracy,
TSA name, signer identifier, algorithm identifiers, certificates, the constant
signed attributes) is DER-encoded once, when the engine is made. Per token the
engine encodes only the imprint, serial number, genTime and nonce, hashes the
TSTInfo, and makes one signature.

Token layout (RFC 3161, RFC 5652, RFC 5816):
  TimeStampResp { PKIStatusInfo{granted}, ContentInfo{ signedData, SignedData{
    version 3, digestAlgorithms, encapContentInfo{ id-ct-TSTInfo, TSTInfo },
    [0] certificates (when certReq), signerInfos { SignerInfo{ version 1,
    issuerAndSerialNumber, digestAlgorithm, [0] signedAttrs{ contentType,
    messageDigest, signingCertificateV2 }, signatureAlgorithm, signature }}}}}
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp, x509
from cryptography.hazmat.primitives import serialization

from court.der import (
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    TAG_SET,
    encode_integer,
    encode_length,
    generalized_time_ms,
    tlv,
)
from notary.tsa.config import TsaConfig
from notary.tsa.request import HASH_BY_NAME, parse_request
from notary.tsa.serial import SerialSource
from notary.tsa.signer import Signer
from notary.tsa.status import FailInfo, Rejection, rejection_response

log = logging.getLogger(__name__)

OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_GRANTED = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted(0) }
_VERSION_1 = b"\x02\x01\x01"
_VERSION_3 = b"\x02\x01\x03"
_TAG_CONTEXT_0 = 0xA0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """One granted time-stamp.

    `response` is the DER TimeStampResp; `token` is the TimeStampToken inside it
    (a CMS ContentInfo), which is what archives and `openssl ts -token_in` use.
    """

    response: bytes
    token: bytes
    serial: int
    gen_time_ms: int


class TimeStampAuthority:
    """An RFC 3161 TSA bound to one signer, one serial source and one policy.

    Thread-safe: any number of threads may call `respond` and `issue`.
    """

    def __init__(
        self,
        signer: Signer,
        serials: SerialSource,
        config: TsaConfig | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.config = config or TsaConfig()
        self._signer = signer
        self._serials = serials
        self._clock = clock
        self._accepted_hashes = self.config.accepted_hashes
        self._accepted_policies = self.config.accepted_policies
        self._second: tuple[int, str] = (-1, "")
        cert = signer.certificate
        self._valid_from_ms = int(cert.not_valid_before_utc.timestamp() * 1000)
        self._valid_until_ms = int(cert.not_valid_after_utc.timestamp() * 1000)
        self._encode_constants(cert.public_bytes(serialization.Encoding.DER))

    @property
    def signer(self) -> Signer:
        return self._signer

    # -- construction -------------------------------------------------------

    def _encode_constants(self, cert_der: bytes) -> None:
        cfg = self.config
        cert = x509.Certificate.load(cert_der)
        digest_name = self._signer.digest_algorithm
        self._attr_hash = getattr(hashlib, digest_name)

        # TSTInfo pieces around the per-token fields.
        self._tst_head = _VERSION_1 + core.ObjectIdentifier(cfg.policy).dump()
        seconds, millis = divmod(cfg.accuracy_ms, 1000)
        accuracy: dict[str, int] = {}
        if seconds:
            accuracy["seconds"] = seconds
        if millis:
            accuracy["millis"] = millis
        self._tst_accuracy = tsp.Accuracy(accuracy).dump()
        self._tst_tail = b""
        if cfg.include_tsa_name:
            name = x509.GeneralName(name="directory_name", value=cert.subject).dump()
            self._tst_tail = tlv(_TAG_CONTEXT_0, name)
        # Canonical imprint prefix per hash, for in-process `issue` calls.
        self._imprint_alg = {
            name: algos.DigestAlgorithm({"algorithm": name, "parameters": core.Null()}).dump()
            if name != "sm3"
            else tlv(TAG_SEQUENCE, core.ObjectIdentifier(HASH_BY_NAME["sm3"].oid).dump())
            for name in self._accepted_hashes
        }

        # Signed attributes: DER sorts a SET OF by encoding. Lengths are fixed,
        # so the order found with a placeholder digest holds for every token.
        content_type = cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump()
        digest_size = self._attr_hash().digest_size
        md_oid = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
        md_value_len = 2 + digest_size
        md_set = bytes((TAG_SET,)) + encode_length(md_value_len)
        md_body_len = len(md_oid) + len(md_set) + md_value_len
        self._md_attr_prefix = (
            bytes((TAG_SEQUENCE,))
            + encode_length(md_body_len)
            + md_oid
            + md_set
            + bytes((TAG_OCTET_STRING, digest_size))
        )
        signing_cert = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    tsp.SigningCertificateV2(
                        {
                            "certs": [
                                {
                                    "cert_hash": hashlib.sha256(cert_der).digest(),
                                    "issuer_serial": {
                                        "issuer": [
                                            x509.GeneralName(
                                                name="directory_name", value=cert.issuer
                                            )
                                        ],
                                        "serial_number": cert.serial_number,
                                    },
                                }
                            ]
                        }
                    )
                ],
            }
        ).dump()
        placeholder = self._md_attr_prefix + b"\x00" * digest_size
        ordered = sorted([content_type, placeholder, signing_cert])
        at = ordered.index(placeholder)
        self._attrs_before = b"".join(ordered[:at])
        self._attrs_after = b"".join(ordered[at + 1 :])
        self._attrs_len = sum(len(a) for a in ordered)
        attrs_len_octets = encode_length(self._attrs_len)
        self._attrs_set_head = bytes((TAG_SET,)) + attrs_len_octets
        self._attrs_ctx_head = bytes((_TAG_CONTEXT_0,)) + attrs_len_octets

        # SignerInfo pieces.
        digest_alg = algos.DigestAlgorithm({"algorithm": digest_name}).dump()
        sid = cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        ).dump()
        self._signer_info_head = _VERSION_1 + sid + digest_alg
        self._signature_alg = self._signer.signature_algorithm_der

        # SignedData pieces.
        self._signed_data_head = _VERSION_3 + tlv(TAG_SET, digest_alg)
        self._certificates = tlv(_TAG_CONTEXT_0, cert_der)
        self._econtent_type = core.ObjectIdentifier(OID_TST_INFO).dump()
        self._content_info_type = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()

    # -- public API ---------------------------------------------------------

    def respond(self, request: bytes) -> bytes:
        """Answer a DER TimeStampReq with a DER TimeStampResp. Never raises."""
        try:
            req = parse_request(
                request,
                accepted_hashes=self._accepted_hashes,
                accepted_policies=self._accepted_policies,
            )
            return self._grant(req.imprint_der, req.nonce_der, req.cert_req).response
        except Rejection as rejection:
            return rejection_response(rejection.fail_info, rejection.text)
        except Exception:
            log.exception("time-stamp request failed inside the TSA")
            return rejection_response(
                FailInfo.SYSTEM_FAILURE, "internal TSA error; the request was not time-stamped"
            )

    def issue(
        self,
        hash_algorithm: str,
        digest: bytes,
        *,
        nonce: int | None = None,
        cert_req: bool = True,
    ) -> IssuedToken:
        """Time-stamp a digest in-process (no TimeStampReq needed).

        Raises Rejection (badAlg, badDataFormat, badRequest) for bad input, with the
        same rules as `respond`.
        """
        prefix = self._imprint_alg.get(hash_algorithm)
        if prefix is None:
            accepted = ", ".join(sorted(self._accepted_hashes))
            raise Rejection(
                FailInfo.BAD_ALG, f"hash algorithm {hash_algorithm} is not accepted; use {accepted}"
            )
        size = HASH_BY_NAME[hash_algorithm].digest_size
        if len(digest) != size:
            raise Rejection(
                FailInfo.BAD_DATA_FORMAT,
                f"{hash_algorithm} digest must be {size} bytes, got {len(digest)}",
            )
        nonce_der = b""
        if nonce is not None:
            if nonce < 0 or nonce.bit_length() > 160:
                raise Rejection(FailInfo.BAD_REQUEST, "nonce must be non-negative, ≤ 160 bits")
            nonce_der = encode_integer(nonce)
        imprint = tlv(TAG_SEQUENCE, prefix + tlv(TAG_OCTET_STRING, digest))
        return self._grant(imprint, nonce_der, cert_req)

    # -- the hot path -------------------------------------------------------

    def _grant(self, imprint_der: bytes, nonce_der: bytes, cert_req: bool) -> IssuedToken:
        now = self._clock()
        if not self._valid_from_ms <= now <= self._valid_until_ms:
            raise Rejection(
                FailInfo.SYSTEM_FAILURE, "the TSA certificate is not valid at the current time"
            )
        serial = self._serials.next_serial()
        second, prefix = self._second
        if now // 1000 != second:
            second = now // 1000
            prefix = time.strftime("%Y%m%d%H%M%S", time.gmtime(second))
            self._second = (second, prefix)

        tst_info = tlv(
            TAG_SEQUENCE,
            self._tst_head
            + imprint_der
            + encode_integer(serial)
            + generalized_time_ms(now, prefix)
            + self._tst_accuracy
            + nonce_der
            + self._tst_tail,
        )
        attrs = (
            self._attrs_before
            + self._md_attr_prefix
            + self._attr_hash(tst_info).digest()
            + self._attrs_after
        )
        signature = self._signer.sign(self._attrs_set_head + attrs)

        signer_info = tlv(
            TAG_SEQUENCE,
            self._signer_info_head
            + self._attrs_ctx_head
            + attrs
            + self._signature_alg
            + tlv(TAG_OCTET_STRING, signature),
        )
        encap = tlv(
            TAG_SEQUENCE,
            self._econtent_type + tlv(_TAG_CONTEXT_0, tlv(TAG_OCTET_STRING, tst_info)),
        )
        signed_data = tlv(
            TAG_SEQUENCE,
            self._signed_data_head
            + encap
            + (self._certificates if cert_req else b"")
            + tlv(TAG_SET, signer_info),
        )
        token = tlv(TAG_SEQUENCE, self._content_info_type + tlv(_TAG_CONTEXT_0, signed_data))
        response = tlv(TAG_SEQUENCE, _GRANTED + token)
        return IssuedToken(response=response, token=token, serial=serial, gen_time_ms=now)

"""The signer's certificate: candidates, the SignerInfo's identifier, ESSCertID, names."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from court.der import Tlv, decode_integer, decode_oid, read_children, read_tlv
from court.verify.token.algorithms import digest_name, hash_data, short
from court.verify.x509chain import der_of

__all__ = [
    "MAX_COMPARED_NAME",
    "MAX_LOOSE",
    "Candidate",
    "SignerId",
    "ess_cert_id",
    "load_candidates",
    "name_text",
    "names_equal",
]

#: Longest encoded Name compared as RFC 5280 7.1 does (case and spaces folded);
#: longer ones are compared byte for byte, so that the work stays small.
MAX_COMPARED_NAME: Final = 2048

#: Most candidates whose issuer is compared with the sid's as RFC 5280 7.1 does.
MAX_LOOSE: Final = 8

_ID_ISSUER_AND_SERIAL: Final = 0x30  # sid issuerAndSerialNumber (a SEQUENCE)
_ID_DIRECTORY_NAME: Final = 0xA4  # GeneralName directoryName [4] EXPLICIT Name
_OID_SUBJECT_ALT_NAME: Final = "2.5.29.17"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A certificate that may be the signer's, and where it came from."""

    cert: x509.Certificate
    der: bytes  # the exact encoding
    source: str

    def _tbs(self) -> tuple[tuple[Tlv, ...], int]:
        return _tbs_fields(self.der)

    def issuer_and_serial(self) -> tuple[Tlv, Tlv]:
        """The raw issuer Name and serialNumber INTEGER (RFC 5280 4.1)."""
        tbs, first = self._tbs()
        return tbs[first + 2], tbs[first]

    def subject(self) -> bytes:
        """The raw subject Name."""
        tbs, first = self._tbs()
        return tbs[first + 4].encoded

    def alt_names(self) -> list[Tlv]:
        """The GeneralNames of the subjectAltName extension (none if absent)."""
        tbs, _ = self._tbs()
        for field in tbs:
            if field.tag != 0xA3:  # [3] EXPLICIT Extensions
                continue
            for extension in read_children(read_children(field.contents)[0].contents):
                parts = read_children(extension.contents)
                if decode_oid(parts[0]) == _OID_SUBJECT_ALT_NAME:
                    [names] = read_children(parts[-1].contents)
                    return read_children(names.contents)
        return []

    def key_identifier(self) -> bytes | None:
        """The subjectKeyIdentifier extension's value, if the certificate has one."""
        try:
            ext = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except (x509.ExtensionNotFound, ValueError):  # absent, or extensions unparsable
            return None
        return ext.value.key_identifier


@functools.lru_cache(maxsize=64)
def _tbs_fields(der: bytes) -> tuple[tuple[Tlv, ...], int]:
    """The fields of a certificate's TBSCertificate and the index of its serialNumber.

    Cached by the exact DER (each token names the same TSA certificate several
    times, and every token of a TSA embeds the same one): read once, not each time.
    """
    certificate, _ = read_tlv(der)
    tbs = tuple(read_children(read_children(certificate.contents)[0].contents))
    return tbs, 1 if tbs[0].tag == 0xA0 else 0  # [0] EXPLICIT version first


def load_candidates(
    embedded: Sequence[bytes], supplied: Sequence[tuple[x509.Certificate, str]]
) -> tuple[list[Candidate], int]:
    """Distinct candidate certificates (by DER) and how many could not be loaded."""
    out: list[Candidate] = []
    seen: set[bytes] = set()
    unloadable = 0
    entries: list[tuple[bytes, x509.Certificate | None, str]]
    entries = [(der, None, "embedded") for der in embedded]
    entries += [(der_of(cert), cert, source) for cert, source in supplied]
    for der, given, source in entries:
        if der in seen:
            continue
        seen.add(der)
        try:
            with warnings.catch_warnings():  # e.g. a serial number that is not positive
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                cert = given if given is not None else x509.load_der_x509_certificate(der)
        except Exception:
            unloadable += 1
            continue
        out.append(Candidate(cert, der, source))
    return out, unloadable


class SignerId:
    """The SignerInfo's sid (RFC 5652 5.3), read from its raw encoding."""

    __slots__ = ("issuer", "key_id", "raw", "serial")

    def __init__(self, raw: Tlv) -> None:
        self.raw = raw
        self.issuer: Tlv | None = None
        self.serial: Tlv | None = None
        self.key_id: bytes | None = None
        if raw.tag == _ID_ISSUER_AND_SERIAL:
            fields = read_children(raw.contents)
            self.issuer, self.serial = fields[0], fields[1]
        else:
            self.key_id = raw.contents

    @property
    def kind(self) -> str:
        return "subjectKeyIdentifier" if self.key_id is not None else "issuerAndSerialNumber"

    @property
    def expected_version(self) -> int:
        """The SignerInfo version its sid choice fixes: 1 or 3 (RFC 5652 5.3)."""
        return 3 if self.key_id is not None else 1

    def find(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The candidates that are the certificate named.

        Those the sid names byte for byte (issuer and serialNumber, or
        subjectKeyIdentifier); when there are none, those whose serial number
        is the sid's and whose issuer is equal as RFC 5280 7.1 compares names
        (at most MAX_LOOSE of them are compared that way).
        """
        try:
            if self.key_id is not None:
                return [c for c in candidates if c.key_identifier() == self.key_id]
            assert self.issuer is not None and self.serial is not None
            exact = [c for c in candidates if self.exact_problem(c) is None]
            if exact:
                return exact
            serial = decode_integer(self.serial)
            same = [c for c in candidates if c.cert.serial_number == serial][:MAX_LOOSE]
            issuer = self.issuer.encoded
            return [c for c in same if names_equal(c.issuer_and_serial()[0].encoded, issuer)]
        except Exception:
            return []

    def exact_problem(self, candidate: Candidate) -> str | None:
        """``None`` if the sid is byte for byte the certificate's issuer and serialNumber
        (or subjectKeyIdentifier), else what differs."""
        if self.key_id is not None:
            if candidate.key_identifier() == self.key_id:
                return None
            return "it differs from the certificate's subjectKeyIdentifier"
        assert self.issuer is not None and self.serial is not None
        issuer, serial = candidate.issuer_and_serial()
        if serial.encoded != self.serial.encoded:
            return "its serialNumber is not encoded as in the certificate"
        if issuer.encoded != self.issuer.encoded:
            return (
                f"its issuer {short(self.issuer.encoded)} is not the certificate's issuer "
                f"{short(issuer.encoded)} byte for byte (the same name, encoded otherwise)"
            )
        return None

    def describe(self) -> str:
        try:
            if self.key_id is not None:
                return f"subjectKeyIdentifier {short(self.key_id)}"
            assert self.issuer is not None and self.serial is not None
            name = name_text(self.issuer.encoded)
            return f"issuer {name!r}, serial {decode_integer(self.serial):x}"
        except Exception:
            return "an unreadable signer identifier"


def names_equal(a: bytes, b: bytes) -> bool:
    """Whether two DER Names are equal: byte for byte, or as RFC 5280 7.1 compares them
    (asn1crypto folds case and spaces) when neither is longer than MAX_COMPARED_NAME."""
    if a == b:
        return True
    if max(len(a), len(b)) > MAX_COMPARED_NAME:
        return False
    try:
        return bool(asn1_x509.Name.load(a) == asn1_x509.Name.load(b))
    except Exception:
        return False


@functools.lru_cache(maxsize=1024)
def name_text(name: bytes) -> str:
    """RFC 4514 text of a DER Name (shortened hexadecimal when it cannot be read).

    Cached: the tokens of one TSA name the same issuer and TSA over and over.
    """
    try:
        if len(name) > MAX_COMPARED_NAME:
            raise ValueError("too long to print")
        rdns = [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(x509.ObjectIdentifier(a["type"].dotted), a["value"].native)
                    for a in rdn
                ]
            )
            for rdn in asn1_x509.Name.load(name).chosen
        ]
        return x509.Name(rdns).rfc4514_string()
    except Exception:
        return f"<Name {short(name)}>"


def _general_name_issuers(names: Tlv) -> list[bytes]:
    """The Names of the directoryName entries of DER GeneralNames."""
    return [
        read_children(g.contents)[0].encoded
        for g in read_children(names.contents)
        if g.tag == _ID_DIRECTORY_NAME
    ]


def ess_cert_id(value: Tlv, label: str, signer: Candidate) -> tuple[str | None, str]:
    """Check one SigningCertificate(V2) value (RFC 2634 5.4, RFC 5035) against the signer:
    its first ESSCertID(v2) must hash the signer's certificate and, with an
    issuerSerial, name it. Returns (problem, detail)."""
    certs = read_children(read_children(value.contents)[0].contents)
    if not certs:
        return f"{label} lists no certificates", ""
    fields = read_children(certs[0].contents)
    name: str | None = "sha1"
    if label == "ESSCertIDv2":
        name = "sha256"  # hashAlgorithm DEFAULT id-sha256
        if fields[0].tag == 0x30:
            oid = decode_oid(read_children(fields[0].contents)[0])
            name = digest_name(oid)
            if name is None:
                return f"{label} uses unsupported hash algorithm {oid}", ""
            fields = fields[1:]
    assert name is not None
    claimed = fields[0].contents
    actual = hash_data(name, signer.der)
    if claimed != actual:
        return (
            f"{label} {name} hash {short(claimed)} is not the hash of the signer certificate "
            f"({short(actual)})",
            "",
        )
    if len(fields) < 2:
        return None, f"{label} ({name}) hash matches the signer certificate"
    names, serial = read_children(fields[1].contents)
    if decode_integer(serial) != signer.cert.serial_number:
        return f"{label} issuerSerial serial does not match the signer certificate", ""
    issuer, _ = signer.issuer_and_serial()
    directory_names = _general_name_issuers(names)[:MAX_LOOSE]
    if not any(names_equal(n, issuer.encoded) for n in directory_names):
        return f"{label} issuerSerial issuer does not match the signer certificate's issuer", ""
    return None, f"{label} ({name}) hash and issuerSerial match the signer certificate"

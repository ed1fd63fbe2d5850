"""A TSA whose certificate subject tries to forge a verification report.

The certificate is real: issued by the development PKI's root CA (so the
court's chain check passes and the subject reaches every report), with
extended key usage timeStamping, critical, as RFC 3161 requires. Its subject
carries a newline followed by a fake ``PASS`` line and a fake ``VALID``
verdict, ANSI / OSC terminal escapes (erase line, cursor up, set title) in
7-bit and C1 form, Unicode bidi overrides and isolates, zero-width and other
invisible format characters, a line separator, a tab and DEL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from notary.pki import pki_paths
from notary.tsa.config import TsaConfig
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner

#: Organization: a fake check line and a fake verdict on lines of their own.
FORGED_O: Final = (
    "Evil TSA\n  PASS  Chain valid at genTime  ok\nVALID: time-stamped by the court's own TSA"
)
#: Organizational unit: erase the line, cursor up, carriage return, OSC title, C1 CSI.
FORGED_OU: Final = "\x1b[2K\x1b[1A\r\x1b]0;owned\x07\x9b2K"
#: Common name: RLO, LRI..PDI, zero-width space, line separator, BOM, tab, DEL.
FORGED_CN: Final = "\u202eDILAV\u2066x\u2069\u200bz\u2028\ufeff\t\x7f"

#: How each hostile character must appear in a report (independent of the escaper).
ESCAPED: Final = {
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\x07": "\\x07",
    "\x1b": "\\x1b",
    "\x7f": "\\x7f",
    "\x9b": "\\x9b",
    "\u200b": "\\u200b",
    "\u2028": "\\u2028",
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u2069": "\\u2069",
    "\ufeff": "\\ufeff",
}


def expected_escape(text: str) -> str:
    """``text`` as a report must show it, for texts made of ASCII and the characters above."""
    return "".join(ESCAPED.get(ch, ch) for ch in text)


def hostile_subject() -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, FORGED_O),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, FORGED_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, FORGED_CN),
        ]
    )


def hostile_engine(pki_dir: Path, state_dir: Path) -> TimeStampAuthority:
    """An engine signing with a fresh P-256 key certified, under that hostile subject, by
    the development root CA in ``pki_dir`` (``notary pki init``)."""
    paths = pki_paths(pki_dir)
    root = x509.load_pem_x509_certificate(paths.root.read_bytes())
    root_key = serialization.load_pem_private_key(paths.root_key.read_bytes(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(hostile_subject())
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    return TimeStampAuthority(
        KeySigner(key, cert),
        LeasedSerials(state_dir),
        # Without the TSTInfo tsa field: its comparison with such a subject is not
        # what these tests are about, and the token must be able to verify.
        TsaConfig(accept_sm3=True, include_tsa_name=False),
    )

"""The registry's rules: which client certificates may be registered, and when one counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.errors import InvalidArgument
from gateway.institutions import (
    MAX_CERTIFICATE_BYTES,
    Status,
    parse_role,
    refusal,
    registered_certificate,
)
from notary.client_certs import issue_client_certificate
from notary.pki import init_pki, pki_paths
from tests.support.institution_cases import T0, certificate


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("other") / "pki"
    init_pki(directory)
    return directory


def _roots(pki: Path) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(pki_paths(pki).root.read_bytes())]


def _violation(exc: pytest.ExceptionInfo[InvalidArgument]) -> str:
    ((field, rule),) = exc.value.violations
    assert field == "certificate"
    return rule


def test_a_client_certificate_of_the_pki_is_described(pki_p256: Path) -> None:
    issued = issue_client_certificate(pki_p256, "bank-a", "lender", days=30)
    now = datetime.now(UTC)
    for data in (issued.pem, issued.certificate.public_bytes(Encoding.DER)):
        cert = registered_certificate(data, "bank-a", _roots(pki_p256), now)
        assert cert.sha256 == issued.sha256
        assert cert.subject.startswith("CN=bank-a,OU=lender,")
        assert cert.valid_until == cert.not_after == issued.certificate.not_valid_after_utc
        assert cert.counts(now) and cert.added_at == now


def test_refused_certificates_name_the_rule(pki_p256: Path, other_pki: Path) -> None:
    roots = _roots(pki_p256)
    now = datetime.now(UTC)
    foreign = issue_client_certificate(other_pki, "bank-a", "lender").pem
    with pytest.raises(InvalidArgument) as info:
        registered_certificate(foreign, "bank-a", roots, now)
    assert "not issued by a client CA" in _violation(info)
    expired = issue_client_certificate(
        pki_p256, "bank-a", "lender", days=1, now=now - timedelta(days=3)
    ).pem
    with pytest.raises(InvalidArgument) as info:
        registered_certificate(expired, "bank-a", roots, now)
    assert _violation(info).startswith("expired at ")
    server = pki_paths(pki_p256).server.read_bytes()  # serverAuth only
    with pytest.raises(InvalidArgument) as info:
        registered_certificate(server, "bank-a", roots, now)
    assert "client authentication" in _violation(info)
    with pytest.raises(InvalidArgument) as info:
        registered_certificate(pki_paths(pki_p256).root.read_bytes(), "x", roots, now)
    assert "CA certificate" in _violation(info)
    for data, rule in (
        (b"", "is required"),
        (b"x" * (MAX_CERTIFICATE_BYTES + 1), "at most 16,384 bytes"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not an X.509"),
        (foreign + foreign, "one certificate, got 2"),
    ):
        with pytest.raises(InvalidArgument) as info:
            registered_certificate(data, "bank-a", roots, now)
        assert rule in _violation(info)


def test_refusal_reasons() -> None:
    cert = certificate("bank-a", "1", days=10)
    assert refusal(Status.ACTIVE, cert, T0) is None
    assert refusal(Status.SUSPENDED, cert, T0) == "institution suspended"
    assert refusal(Status.REVOKED, cert, T0) == "institution revoked"
    assert cert.refusal(cert.not_before - timedelta(seconds=1)).startswith("certificate not valid")
    assert cert.refusal(cert.not_after) == f"certificate expired at {cert.not_after.isoformat()}"
    retired = replace(cert, valid_until=T0 + timedelta(hours=1))
    assert retired.refusal(T0 + timedelta(hours=1)).startswith("certificate retired")  # type: ignore[union-attr]
    revoked = replace(cert, revoked_at=T0)
    assert revoked.refusal(T0) == f"certificate revoked at {T0.isoformat()}"


def test_roles_are_named() -> None:
    assert parse_role("court").value == "court"
    with pytest.raises(InvalidArgument) as info:
        parse_role("bank")
    assert info.value.violations == [
        ("role", "must be one of lender, collector, court, arbitration, regulator, admin")
    ]


def _client_certificate(pki: Path, subject: x509.Name) -> bytes:
    """A client certificate of the PKI's root with any ``subject``."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    paths = pki_paths(pki)
    root = x509.load_pem_x509_certificate(paths.root.read_bytes())
    root_key = serialization.load_pem_private_key(paths.root_key.read_bytes(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


def test_the_subject_common_name_must_be_the_institution_s_name(pki_p256: Path) -> None:
    from cryptography.x509.oid import NameOID

    roots = _roots(pki_p256)
    now = datetime.now(UTC)
    other = issue_client_certificate(pki_p256, "bank-b", "lender").pem
    with pytest.raises(InvalidArgument) as info:
        registered_certificate(other, "bank-a", roots, now)
    assert _violation(info) == (
        "is issued for CN='bank-b'; its subject's CN must be the institution's name, bank-a"
    )
    cn = x509.NameAttribute(NameOID.COMMON_NAME, "bank-a")
    ou = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "lender")
    hostile = x509.NameAttribute(NameOID.COMMON_NAME, "\x1b[31mbank-a")
    for subject, rule in (
        (x509.Name([ou]), "has no common name (CN)"),
        (x509.Name([cn, cn]), "has 2 common names (CN)"),
        (x509.Name([ou, hostile]), "is issued for CN='\\x1b[31mbank-a'"),  # escaped
    ):
        with pytest.raises(InvalidArgument) as info:
            registered_certificate(_client_certificate(pki_p256, subject), "bank-a", roots, now)
        assert _violation(info).startswith(rule)
        assert "\x1b" not in _violation(info)
    ok = registered_certificate(
        _client_certificate(pki_p256, x509.Name([ou, cn])), "bank-a", roots, now
    )
    assert ok.subject == "CN=bank-a,OU=lender"

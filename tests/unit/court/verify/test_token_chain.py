"""court.verify.x509chain: the TSA chain check used by the token verifier.

Certificates are built with ``cryptography`` (EC P-256, fast) so each rule of
path validation can be broken on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from court.verify.x509chain import build_chain, valid_at

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)


@dataclass(frozen=True)
class Node:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(
    cn: str,
    *,
    issuer: Node | None = None,
    ca: bool | None = True,
    path_length: int | None = None,
    key_cert_sign: bool | None = None,
    not_before: dt.datetime = NOW - YEAR,
    not_after: dt.datetime = NOW + YEAR,
    extra: x509.ExtensionType | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Node:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer.cert.subject if issuer else name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    if key_cert_sign is not None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
                crl_sign=key_cert_sign, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    if extra is not None:
        builder = builder.add_extension(extra, critical=True)
    signer = issuer.key if issuer else key
    return Node(key, builder.sign(signer, hashes.SHA256()))


def leaf(issuer: Node, **kwargs: object) -> Node:
    return make(  # type: ignore[arg-type]
        "TSA",
        issuer=issuer,
        ca=False,
        extra=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
        **kwargs,
    )


def test_three_level_chain() -> None:
    root = make("Root")
    inter = make("Intermediate", issuer=root, path_length=0)
    tsa = leaf(inter)
    result = build_chain(tsa.cert, roots=[root.cert], intermediates=[inter.cert], at=NOW)
    assert result.ok, result.detail
    assert result.path == (tsa.cert, inter.cert, root.cert)
    assert "CN=TSA <- CN=Intermediate <- CN=Root (anchor)" in result.detail


def test_missing_intermediate() -> None:
    root = make("Root")
    inter = make("Intermediate", issuer=root)
    result = build_chain(leaf(inter).cert, roots=[root.cert], at=NOW)
    assert not result.ok
    assert "CN=Intermediate" in result.detail and "neither a trust anchor" in result.detail


def test_leaf_that_is_a_trust_anchor() -> None:
    root = make("Root")
    tsa = leaf(root)
    assert build_chain(tsa.cert, roots=[tsa.cert], at=NOW).path == (tsa.cert,)


def test_validity_is_checked_at_the_given_time() -> None:
    root = make("Root", not_before=NOW - 5 * YEAR)
    tsa = leaf(root, not_before=NOW - 2 * YEAR, not_after=NOW - YEAR)
    assert build_chain(tsa.cert, roots=[root.cert], at=NOW - 1.5 * YEAR).ok
    late = build_chain(tsa.cert, roots=[root.cert], at=NOW)
    assert not late.ok and "has expired" in late.detail
    early = build_chain(tsa.cert, roots=[root.cert], at=NOW - 3 * YEAR)
    assert not early.ok and "not yet valid" in early.detail
    assert valid_at(tsa.cert, NOW - 1.5 * YEAR) is None


def test_expired_anchor_fails() -> None:
    root = make("Root", not_before=NOW - 3 * YEAR, not_after=NOW - 2 * YEAR)
    tsa = leaf(root, not_before=NOW - 3 * YEAR)
    result = build_chain(tsa.cert, roots=[root.cert], at=NOW)
    assert not result.ok and "CN=Root has expired" in result.detail


def test_path_length_constraint() -> None:
    root = make("Root", path_length=0)
    inter = make("Intermediate", issuer=root)
    result = build_chain(leaf(inter).cert, roots=[root.cert], intermediates=[inter.cert], at=NOW)
    assert not result.ok and "pathLenConstraint 0" in result.detail
    relaxed = make("Root", path_length=1)
    inter2 = make("Intermediate", issuer=relaxed)
    assert build_chain(
        leaf(inter2).cert, roots=[relaxed.cert], intermediates=[inter2.cert], at=NOW
    ).ok


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"ca": None}, "has no basicConstraints"),
        ({"ca": False}, "cA is false"),
        ({"key_cert_sign": False}, "keyCertSign"),
    ],
)
def test_issuer_must_be_a_ca(kwargs: dict[str, object], words: str) -> None:
    root = make("Root")
    inter = make("Intermediate", issuer=root, **kwargs)  # type: ignore[arg-type]
    result = build_chain(leaf(inter).cert, roots=[root.cert], intermediates=[inter.cert], at=NOW)
    assert not result.ok
    assert words in result.detail


def test_unknown_critical_extension_fails() -> None:
    root = make("Root")
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    tsa = make("TSA", issuer=root, ca=False, extra=odd)
    result = build_chain(tsa.cert, roots=[root.cert], at=NOW)
    assert not result.ok and "1.3.6.1.4.1.99999.1" in result.detail


def test_bad_signature_candidate_is_skipped_for_the_good_one() -> None:
    root = make("Root")
    impostor = make("Root")  # same name, other key: not the issuer
    tsa = leaf(root)
    result = build_chain(tsa.cert, roots=[impostor.cert, root.cert], at=NOW)
    assert result.ok and result.path[-1] == root.cert
    only_impostor = build_chain(tsa.cert, roots=[impostor.cert], at=NOW)
    assert not only_impostor.ok and "does not verify" in only_impostor.detail


def test_self_signed_non_anchor_does_not_loop() -> None:
    root = make("Root")
    other = make("Other")
    result = build_chain(leaf(other).cert, roots=[root.cert], intermediates=[other.cert], at=NOW)
    assert not result.ok
    assert "CN=Other" in result.detail


def test_naive_time_is_a_programming_error() -> None:
    root = make("Root")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_chain(root.cert, roots=[root.cert], at=dt.datetime(2026, 1, 1))

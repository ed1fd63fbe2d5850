"""court.verify.x509chain: the TSA chain check used by the token verifier.

Certificates are built with ``cryptography`` (EC P-256, fast) so each rule of
path validation can be broken on its own. The hostile pools (tests/support/
hostile_token.py) once made the search try every ordering of the certificates
(8 took 18 s); here the work is counted, not timed (``make bench`` times it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from court.der import Tlv
from court.verify.token import CHECK_CHAIN, verify_timestamp
from court.verify.token import identity as identity_module
from court.verify.token.algorithms import verify_signature
from court.verify.token.parse import Algorithm, SignerInfo
from court.verify.x509chain import (
    MAX_CERTIFICATES,
    MAX_DEPTH,
    MAX_ISSUER_TRIES,
    MAX_RSA_EXPONENT_BITS,
    MAX_SIGNATURE_CHECKS,
    ChainResult,
    build_chain,
    valid_at,
)
from tests.support.hostile_token import (
    HostileToken,
    big_exponent_key,
    heavy_key_token,
    hostile_token,
)

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


# --------------------------------------------------------------------------- cross-signing


def test_cross_signed_root_verifies_through_either_anchor() -> None:
    """Root A re-certified by root B (A', same name and key as A): either anchor works."""
    root_a = make("Root A")
    root_b = make("Root B")
    cross = make("Root A", issuer=root_b, key=root_a.key)  # A' : subject A, key A, issuer B
    inter = make("Intermediate", issuer=root_a, path_length=0)
    tsa = leaf(inter)
    pool = [inter.cert, root_a.cert, cross.cert]
    via_b = build_chain(tsa.cert, roots=[root_b.cert], intermediates=pool, at=NOW)
    assert via_b.ok, via_b.detail
    assert via_b.path == (tsa.cert, inter.cert, cross.cert, root_b.cert)
    via_a = build_chain(tsa.cert, roots=[root_a.cert], intermediates=pool, at=NOW)
    assert via_a.ok and via_a.path == (tsa.cert, inter.cert, root_a.cert)


def test_expired_cross_certificate_is_passed_over_for_a_valid_one() -> None:
    root_a = make("Root A")
    root_b = make("Root B")
    old = make("Root A", issuer=root_b, key=root_a.key, not_after=NOW - YEAR / 2)
    new = make("Root A", issuer=root_b, key=root_a.key)
    tsa = leaf(root_a)
    result = build_chain(tsa.cert, roots=[root_b.cert], intermediates=[old.cert, new.cert], at=NOW)
    assert result.ok and result.path == (tsa.cert, new.cert, root_b.cert)


def test_key_rollover_certificates_chain() -> None:
    """RFC 4210 rollover: old-with-new links a leaf under the new key to the old anchor."""
    old_root = make("Root")
    new_key = ec.generate_private_key(ec.SECP256R1())
    new_with_old = make("Root", issuer=old_root, key=new_key)  # new key, signed by the old
    tsa = leaf(Node(new_key, new_with_old.cert))
    result = build_chain(tsa.cert, roots=[old_root.cert], intermediates=[new_with_old.cert], at=NOW)
    assert result.ok and result.path == (tsa.cert, new_with_old.cert, old_root.cert)


def test_path_longer_than_the_limit_fails_by_name() -> None:
    chain = [make("CA 0")]
    for i in range(1, MAX_DEPTH + 1):
        chain.append(make(f"CA {i}", issuer=chain[-1]))
    tsa = leaf(chain[-1])
    result = build_chain(
        tsa.cert, roots=[chain[0].cert], intermediates=[n.cert for n in chain[1:]], at=NOW
    )
    assert not result.ok
    assert f"no trust anchor within {MAX_DEPTH} certificates" in result.detail


# --------------------------------------------------------------------------- hostile pools


@pytest.fixture(scope="module", params=[8, 64], ids=["8-cas", "64-cas"])
def hostile(request: pytest.FixtureRequest) -> HostileToken:
    return hostile_token(request.param)


def _tsa_certificate(token: HostileToken) -> x509.Certificate:
    result = verify_timestamp(
        token.token, roots=[token.root], digest=token.digest, hash_algorithm="sha256"
    )
    assert result.signer is not None
    return result.signer


def test_self_issued_cas_sharing_a_name_and_key_cost_bounded_work(hostile: HostileToken) -> None:
    """Every ordering of these certificates is a candidate path; the search tries each
    (certificate, key) link once and stops at its limits, with a named outcome."""
    now = dt.datetime.now(dt.UTC)
    result = build_chain(
        _tsa_certificate(hostile), roots=[hostile.root], intermediates=hostile.cas, at=now
    )
    assert not result.ok and result.path == ()
    assert result.issuers_tried <= MAX_ISSUER_TRIES
    assert result.signatures_checked <= MAX_SIGNATURE_CHECKS
    considered = min(len(hostile.cas), MAX_CERTIFICATES - 1)  # the anchor comes first
    if considered + 2 <= MAX_SIGNATURE_CHECKS:
        # The TSA certificate against the anchor and against the one hostile key, then
        # each hostile certificate against the anchor: nothing is checked twice.
        assert result.signatures_checked == considered + 2
        assert result.issuers_tried == 2 * considered + 1
        assert "does not verify with the key of CN=Hostile CA" in result.detail
    else:
        assert result.signatures_checked == MAX_SIGNATURE_CHECKS
        assert f"stopped at its limit of {MAX_SIGNATURE_CHECKS} signature checks" in result.detail
        ignored = len(hostile.cas) - considered
        assert f"{ignored} certificate(s) beyond the first {MAX_CERTIFICATES}" in result.detail


def test_hostile_token_fails_the_chain_check_with_the_search_bounded(
    hostile: HostileToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole token verification: one path search, within its bounds, named failure."""
    searches: list[ChainResult] = []

    def counting(*args: object, **kwargs: object) -> ChainResult:
        result = build_chain(*args, **kwargs)  # type: ignore[arg-type]
        searches.append(result)
        return result

    monkeypatch.setattr(identity_module, "build_chain", counting)
    result = verify_timestamp(
        hostile.token, roots=[hostile.root], digest=hostile.digest, hash_algorithm="sha256"
    )
    assert [c.name for c in result.failures] == [CHECK_CHAIN]
    [search] = searches
    assert search.signatures_checked <= MAX_SIGNATURE_CHECKS
    assert search.issuers_tried <= MAX_ISSUER_TRIES
    assert result.check(CHECK_CHAIN).detail == search.detail


def test_issuers_with_a_huge_rsa_exponent_are_refused_before_any_signature_check() -> None:
    """An exponent as long as the modulus makes each check cost a private-key operation
    (45 ms for RSA-3072, 0.5 s for a token with 16 such would-be issuers): such keys
    are refused by name and never used."""
    heavy = heavy_key_token(20)
    now = dt.datetime.now(dt.UTC)
    result = build_chain(
        _tsa_certificate(heavy), roots=[heavy.root], intermediates=heavy.cas, at=now
    )
    assert not result.ok
    assert result.signatures_checked == 1  # the anchor's (EC) key only
    assert result.issuers_tried == 1 + len(heavy.cas)
    verdict = verify_timestamp(
        heavy.token, roots=[heavy.root], digest=heavy.digest, hash_algorithm="sha256"
    )
    assert [c.name for c in verdict.failures] == [CHECK_CHAIN]


def test_signer_key_with_a_huge_rsa_exponent_fails_the_signature_check_by_name() -> None:
    """The signer's key obeys the issuers' rule: no costly verification, a named reason."""
    root = make("Root")
    key = big_exponent_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("Heavy TSA"))
        .issuer_name(root.cert.subject)
        .public_key(key)
        .serial_number(7)
        .not_valid_before(NOW - YEAR)
        .not_valid_after(NOW + YEAR)
        .sign(root.key, hashes.SHA256())
    )
    signer_info = SignerInfo(
        version=Tlv(0x02, b"\x02\x01\x01", b"\x01"),
        sid=Tlv(0x04, b"\x04\x00", b""),
        digest_algorithm=Algorithm("2.16.840.1.101.3.4.2.1", None),  # SHA-256
        signed_attrs=None,
        attributes=(),
        signature_algorithm=Algorithm("1.2.840.113549.1.1.11", None),  # sha256WithRSA
        signature=b"\x01" * 384,
    )
    assert verify_signature(cert, signer_info, b"signed", "sha256") == (
        "the signer's key is not accepted: CN=Heavy TSA has an RSA public exponent "
        f"of 3071 bits (at most {MAX_RSA_EXPONENT_BITS})"
    )

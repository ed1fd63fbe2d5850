"""Tests of the development PKI (notary/pki.py), checked against stock openssl."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import shutil
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import (
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    SignatureAlgorithmOID,
)

from notary.errors import NotaryError
from notary.pki import (
    DEFAULT_LOG_ORIGIN,
    DEFAULT_PROFILE,
    KEY_TYPES,
    PkiError,
    PkiPaths,
    describe_pki,
    init_pki,
    load_log_signing_key,
    load_log_verifier_key,
    load_tsa_signing_material,
    pki_paths,
)

REPO = Path(__file__).resolve().parents[3]
PROFILE_TOML = REPO / "certs" / "dev-pki.toml"
ORG = "Court Evidence Gateway (development)"

EXPECTED_FILES = {
    "root-ca.pem",
    "root-ca.key",
    "tsa.pem",
    "tsa.key",
    "server.pem",
    "server.key",
    "operator.pem",
    "operator.key",
    "log-signing.key",
    "log.vkey",
    "tsa-chain.pem",
}
PRIVATE_KEYS = {"root-ca.key", "tsa.key", "server.key", "operator.key", "log-signing.key"}


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("openssl")
    assert exe is not None, "openssl must be on PATH for these tests"
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module", params=KEY_TYPES)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    """One PKI per key type, shared by the read-only tests of this module."""
    key_type = request.param
    return init_pki(tmp_path_factory.mktemp(f"pki-{key_type}") / "pki", key_type=key_type)


@pytest.fixture
def zero_umask() -> Iterator[None]:
    """Run with umask 0, so file modes come from the code and not from the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- files and modes


def test_init_creates_every_file_and_keys_are_0600(tmp_path: Path, zero_umask: None) -> None:
    target = tmp_path / "new" / "pki"
    paths = init_pki(target)

    assert paths == pki_paths(target)
    assert {p.name for p in target.iterdir()} == EXPECTED_FILES  # no staging folder left
    assert {p.name for p in paths.all_files()} == EXPECTED_FILES
    assert paths.all_files()[-1] == paths.tsa  # the completion marker is moved last
    for name in EXPECTED_FILES:
        mode = stat.S_IMODE((target / name).stat().st_mode)
        if name in PRIVATE_KEYS:
            assert mode == 0o600, name
        else:
            assert mode == 0o644, name
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert {p.name for p in paths.private_keys()} == PRIVATE_KEYS


def test_reinit_without_force_refuses_and_leaves_files_untouched(tmp_path: Path) -> None:
    init_pki(tmp_path)
    before = _snapshot(tmp_path)

    with pytest.raises(PkiError) as caught:
        init_pki(tmp_path)

    message = str(caught.value)
    assert "root-ca.key" in message  # names the first file it found
    assert "--force" in message and "--out" in message
    assert isinstance(caught.value, NotaryError)
    assert _snapshot(tmp_path) == before


def test_a_single_existing_file_blocks_init(tmp_path: Path) -> None:
    (tmp_path / "log.vkey").write_text("keep me\n")

    with pytest.raises(PkiError, match=r"log\.vkey"):
        init_pki(tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == ["log.vkey"]
    assert (tmp_path / "log.vkey").read_text() == "keep me\n"


def test_force_replaces_every_file(tmp_path: Path, zero_umask: None) -> None:
    init_pki(tmp_path)
    before = _snapshot(tmp_path)
    (tmp_path / "tsa.key").chmod(0o644)  # a loosened old key must not keep its mode

    paths = init_pki(tmp_path, force=True)

    after = _snapshot(tmp_path)
    assert set(after) == EXPECTED_FILES
    for name in EXPECTED_FILES:
        assert after[name] != before[name], name
    assert stat.S_IMODE(paths.tsa_key.stat().st_mode) == 0o600
    _key, cert, chain = load_tsa_signing_material(tmp_path)
    assert chain[0].subject == cert.issuer


@pytest.mark.parametrize("force", [False, True])
def test_crash_while_moving_files_never_leaves_a_complete_looking_pki(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force: bool
) -> None:
    if force:
        init_pki(tmp_path)
    real_replace = os.replace
    calls: list[str] = []

    def crash_on_fourth(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(Path(dst).name)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_fourth)
    with pytest.raises(PkiError, match="--force"):
        init_pki(tmp_path, force=force)
    monkeypatch.undo()

    assert len(calls) == 4
    assert not (tmp_path / "tsa.pem").exists()
    assert not any(p.name.startswith(".pki-init-") for p in tmp_path.iterdir())
    with pytest.raises(PkiError):  # the half-written folder is not silently reused
        init_pki(tmp_path)
    init_pki(tmp_path, force=True)
    assert {p.name for p in tmp_path.iterdir()} == EXPECTED_FILES
    load_tsa_signing_material(tmp_path)


def test_failure_while_generating_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_sign = x509.CertificateBuilder.sign
    signed: list[x509.Certificate] = []

    def fail_on_third(self: x509.CertificateBuilder, *args: Any, **kwargs: Any) -> x509.Certificate:
        if len(signed) == 2:
            raise RuntimeError("HSM went away")
        signed.append(real_sign(self, *args, **kwargs))
        return signed[-1]

    monkeypatch.setattr(x509.CertificateBuilder, "sign", fail_on_third)
    with pytest.raises(RuntimeError, match="HSM went away"):
        init_pki(tmp_path)

    assert len(signed) == 2  # root and TSA were made, then it failed
    assert list(tmp_path.iterdir()) == []  # no files, no staging folder


@pytest.mark.parametrize("origin", ["", "has space", "a+b", "tab\there"])
def test_invalid_log_origin_is_refused_before_writing(tmp_path: Path, origin: str) -> None:
    with pytest.raises(PkiError, match="origin"):
        init_pki(tmp_path / "pki", log_origin=origin)
    assert not (tmp_path / "pki").exists()


def test_unknown_key_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="p256, rsa3072"):
        init_pki(tmp_path, key_type="rsa1024")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_out_pointing_at_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(PkiError, match="not a folder"):
        init_pki(target)


def test_server_names_are_added_to_the_server_certificate(tmp_path: Path) -> None:
    """`--server-name`: the names clients dial the gateway by, next to the defaults."""
    paths = init_pki(
        tmp_path / "pki",
        server_names=["gateway.court.example", "10.0.0.5", "localhost", "*.court.example", "::1"],
    )
    server = _cert(paths.server)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "localhost",
        "gateway.court.example",
        "*.court.example",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.0.0.5"),
    ]


@pytest.mark.parametrize("name", ["", "*", "has space", "under_score", "-lead.example", "a..b"])
def test_a_bad_server_name_is_refused_before_writing(tmp_path: Path, name: str) -> None:
    with pytest.raises(PkiError, match=r"--server-name .* is neither an IP address nor a DNS"):
        init_pki(tmp_path / "pki", server_names=[name])
    assert not (tmp_path / "pki").exists()


# --------------------------------------------------------------------------- certificate content


def test_tsa_certificate_profile(built: PkiPaths) -> None:
    tsa = _cert(built.tsa)
    root = _cert(built.root)

    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical is True
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]

    ku = tsa.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical is True
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not (
        ku.value.key_encipherment
        or ku.value.data_encipherment
        or ku.value.key_agreement
        or ku.value.key_cert_sign
        or ku.value.crl_sign
    )
    bc = tsa.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical is True and bc.value.ca is False

    aki = tsa.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    ski = tsa.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(tsa.public_key())
    tsa.verify_directly_issued_by(root)


def test_root_certificate_profile(built: PkiPaths) -> None:
    root = _cert(built.root)
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical is True and bc.value.ca is True
    ku = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical is True
    assert ku.value.key_cert_sign and ku.value.crl_sign
    assert not (ku.value.digital_signature or ku.value.content_commitment)
    root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    with pytest.raises(x509.ExtensionNotFound):
        root.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)


def test_subjects(built: PkiPaths) -> None:
    for path in built.certificates():
        subject = _cert(path).subject
        assert [a.value for a in subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)] == ["CN"]
        assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [ORG]
    operator = _cert(built.operator).subject
    assert operator.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "operator"
    assert operator.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "operator"
    )
    for path in (built.root, built.tsa, built.server):
        assert _cert(path).subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME) == []


def test_server_and_operator_certificates(built: PkiPaths) -> None:
    server = _cert(built.server)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    server_eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(server_eku) == [ExtendedKeyUsageOID.SERVER_AUTH]

    operator = _cert(built.operator)
    operator_eku = operator.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(operator_eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for cert in (server, operator):
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_key_types_and_signature_algorithms(built: PkiPaths) -> None:
    is_rsa = "rsa3072" in built.directory.parent.name
    for path in built.certificates():
        cert = _cert(path)
        key = cert.public_key()
        if is_rsa:
            assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
            assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            assert isinstance(key.curve, ec.SECP256R1)
            assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    text = _openssl("x509", "-in", "tsa.pem", "-noout", "-text", cwd=built.directory).stdout
    expected = "sha256WithRSAEncryption" if is_rsa else "ecdsa-with-SHA256"
    assert f"Signature Algorithm: {expected}" in text


def test_validity_follows_the_profile(tmp_path: Path) -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    paths = init_pki(tmp_path, now=now)
    backdate = timedelta(seconds=300)
    expected_days = {"root-ca": 3650, "tsa": 1826, "server": 825, "operator": 825}
    for path in paths.certificates():
        cert = _cert(path)
        assert cert.not_valid_before_utc == now - backdate
        assert cert.not_valid_after_utc == now + timedelta(days=expected_days[path.stem])
    with pytest.raises(ValueError):
        init_pki(tmp_path / "other", now=datetime(2030, 1, 2))  # naive datetime


def test_validity_can_be_set_per_role(tmp_path: Path) -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    paths = init_pki(tmp_path, now=now, validity_days={"tsa": 10, "root": 20})
    assert _cert(paths.tsa).not_valid_after_utc == now + timedelta(days=10)
    assert _cert(paths.root).not_valid_after_utc == now + timedelta(days=20)
    assert _cert(paths.server).not_valid_after_utc == now + timedelta(days=825)
    with pytest.raises(PkiError, match="no certificate role 'tsa-ca'"):
        init_pki(tmp_path / "a", validity_days={"tsa-ca": 10})
    with pytest.raises(PkiError, match="at least 1 day"):
        init_pki(tmp_path / "b", validity_days={"tsa": 0})


def test_chain_file_is_tsa_then_root(built: PkiPaths) -> None:
    assert built.tsa_chain.read_bytes() == built.tsa.read_bytes() + built.root.read_bytes()
    chain = x509.load_pem_x509_certificates(built.tsa_chain.read_bytes())
    assert [c.subject for c in chain] == [_cert(built.tsa).subject, _cert(built.root).subject]


# --------------------------------------------------------------------------- stock openssl


@pytest.mark.parametrize(
    ("pem", "purpose"),
    [("tsa.pem", "timestampsign"), ("server.pem", "sslserver"), ("operator.pem", "sslclient")],
)
def test_openssl_verifies_each_certificate_for_its_purpose(
    built: PkiPaths, pem: str, purpose: str
) -> None:
    result = _openssl(
        "verify", "-CAfile", "root-ca.pem", "-purpose", purpose, pem, cwd=built.directory
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{pem}: OK"


@pytest.mark.parametrize(
    ("pem", "purpose"),
    [
        ("tsa.pem", "sslserver"),
        ("server.pem", "timestampsign"),
        ("operator.pem", "timestampsign"),
        ("operator.pem", "sslserver"),
    ],
)
def test_openssl_rejects_certificates_for_other_purposes(
    built: PkiPaths, pem: str, purpose: str
) -> None:
    result = _openssl(
        "verify", "-CAfile", "root-ca.pem", "-purpose", purpose, pem, cwd=built.directory
    )
    assert result.returncode != 0
    assert "unsuitable certificate purpose" in result.stdout + result.stderr


def test_openssl_shows_critical_time_stamping_eku(built: PkiPaths) -> None:
    result = _openssl(
        "x509", "-in", "tsa.pem", "-noout", "-ext", "extendedKeyUsage", cwd=built.directory
    )
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.strip().splitlines()]
    assert lines == ["X509v3 Extended Key Usage: critical", "Time Stamping"]


# --------------------------------------------------------------------------- log key


def test_log_verifier_key_line(built: PkiPaths) -> None:
    line = built.log_vkey.read_text()
    assert line.endswith("\n") and line.count("\n") == 1
    origin, key_hash_hex, key_b64 = line.strip().split("+", 2)
    assert origin == DEFAULT_LOG_ORIGIN
    blob = base64.b64decode(key_b64, validate=True)
    assert len(blob) == 33 and blob[0] == 0x01
    public_bytes = blob[1:]
    expected = hashlib.sha256(origin.encode() + b"\n" + b"\x01" + public_bytes).digest()[:4]
    assert key_hash_hex == expected.hex()
    assert len(key_hash_hex) == 8

    signing_key = serialization.load_pem_private_key(
        built.log_signing_key.read_bytes(), password=None
    )
    assert isinstance(signing_key, Ed25519PrivateKey)
    assert built.log_signing_key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    note = b"evidence-gateway.localhost/log\n42\nq83vEjRWeJA=\n"
    signature = signing_key.sign(note)
    Ed25519PublicKey.from_public_bytes(public_bytes).verify(signature, note)

    loaded = load_log_verifier_key(built.directory)
    assert (loaded.origin, loaded.key_id, loaded.line) == (origin, expected, line.strip())
    assert load_log_signing_key(built.directory).public_key() == signing_key.public_key()


def test_log_origin_is_used_as_key_name(tmp_path: Path) -> None:
    paths = init_pki(tmp_path, log_origin="court.example/evidence-log")
    origin, key_hash_hex, key_b64 = paths.log_vkey.read_text().strip().split("+", 2)
    assert origin == "court.example/evidence-log"
    public_bytes = base64.b64decode(key_b64)[1:]
    expected = hashlib.sha256(origin.encode() + b"\n\x01" + public_bytes).digest()[:4]
    assert key_hash_hex == expected.hex()


def test_log_key_that_does_not_match_vkey_is_refused(tmp_path: Path) -> None:
    init_pki(tmp_path / "a")
    init_pki(tmp_path / "b")
    shutil.copyfile(tmp_path / "b" / "log.vkey", tmp_path / "a" / "log.vkey")
    with pytest.raises(PkiError, match="does not match"):
        load_log_signing_key(tmp_path / "a")


def test_tampered_vkey_is_refused(tmp_path: Path) -> None:
    paths = init_pki(tmp_path)
    origin, key_hash_hex, key_b64 = paths.log_vkey.read_text().strip().split("+", 2)
    wrong = f"{int(key_hash_hex, 16) ^ 1:08x}"
    paths.log_vkey.write_text(f"{origin}+{wrong}+{key_b64}\n")
    with pytest.raises(PkiError, match="key ID"):
        load_log_verifier_key(tmp_path)


# --------------------------------------------------------------------------- describe and load


def test_describe_pki_matches_openssl(built: PkiPaths) -> None:
    summaries = describe_pki(built.directory)
    assert [s.role for s in summaries] == ["root", "tsa", "server", "operator"]
    assert [s.path for s in summaries] == list(built.certificates())
    is_rsa = "rsa3072" in built.directory.parent.name
    for summary in summaries:
        name = summary.path.name
        fp = _openssl("x509", "-in", name, "-noout", "-fingerprint", "-sha256", cwd=built.directory)
        assert fp.returncode == 0, fp.stderr
        openssl_fp = fp.stdout.strip().split("=", 1)[1]
        assert summary.sha256_fingerprint_colons == openssl_fp
        assert summary.sha256_fingerprint == openssl_fp.replace(":", "").lower()
        serial = _openssl("x509", "-in", name, "-noout", "-serial", cwd=built.directory)
        assert summary.serial == int(serial.stdout.strip().split("=", 1)[1], 16)
        cert = _cert(summary.path)
        assert summary.not_before == cert.not_valid_before_utc
        assert summary.not_after == cert.not_valid_after_utc
        assert summary.key_type == ("RSA 3072" if is_rsa else "ECDSA P-256")
        assert summary.subject.endswith(f"O={ORG},C=CN")
        assert summary.issuer == summaries[0].subject
    by_role = {s.role: s for s in summaries}
    assert by_role["root"].is_ca and not by_role["tsa"].is_ca
    assert by_role["root"].extended_key_usage == ()
    assert by_role["tsa"].extended_key_usage == ("timeStamping",)
    assert by_role["tsa"].extended_key_usage_critical is True
    assert by_role["server"].extended_key_usage == ("serverAuth",)
    assert by_role["operator"].extended_key_usage == ("clientAuth",)
    assert by_role["operator"].subject == f"CN=operator,OU=operator,O={ORG},C=CN"


def test_load_tsa_signing_material(built: PkiPaths) -> None:
    key, cert, chain = load_tsa_signing_material(built.directory)
    assert cert == _cert(built.tsa)
    assert chain == [_cert(built.root)]
    data = b"time-stamp token signed attributes"
    public_key = cert.public_key()
    if isinstance(key, rsa.RSAPrivateKey):
        assert isinstance(public_key, rsa.RSAPublicKey)
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_tsa_key_that_does_not_match_its_certificate_is_refused(tmp_path: Path) -> None:
    init_pki(tmp_path)
    shutil.copyfile(tmp_path / "server.key", tmp_path / "tsa.key")
    with pytest.raises(PkiError, match=r"tsa\.key does not belong to .*tsa\.pem"):
        load_tsa_signing_material(tmp_path)


def test_server_certificate_is_not_accepted_as_tsa(tmp_path: Path) -> None:
    init_pki(tmp_path)
    shutil.copyfile(tmp_path / "server.key", tmp_path / "tsa.key")
    shutil.copyfile(tmp_path / "server.pem", tmp_path / "tsa.pem")
    with pytest.raises(PkiError, match="timeStamping"):
        load_tsa_signing_material(tmp_path)


def test_missing_pki_says_how_to_create_it(tmp_path: Path) -> None:
    for load in (describe_pki, load_tsa_signing_material, load_log_signing_key):
        with pytest.raises(PkiError, match="notary pki init --out"):
            load(tmp_path / "nowhere")


def test_garbage_files_are_reported(tmp_path: Path) -> None:
    init_pki(tmp_path)
    (tmp_path / "tsa.key").write_text("not a key\n")
    with pytest.raises(PkiError, match=r"tsa\.key is not a PEM private key"):
        load_tsa_signing_material(tmp_path)
    (tmp_path / "root-ca.pem").write_text("not a certificate\n")
    with pytest.raises(PkiError, match=r"root-ca\.pem is not a PEM certificate"):
        describe_pki(tmp_path)


# --------------------------------------------------------------------------- profile


def test_toml_profile_and_embedded_defaults_agree() -> None:
    with PROFILE_TOML.open("rb") as f:
        documented = tomllib.load(f)
    assert documented == DEFAULT_PROFILE.to_toml_dict()
    assert documented["log"]["origin"] == DEFAULT_LOG_ORIGIN
    assert tuple(documented["key_types"]) == KEY_TYPES
    assert documented["pki"]["default_key_type"] == "p256"


def test_file_names_come_from_the_profile(tmp_path: Path) -> None:
    with PROFILE_TOML.open("rb") as f:
        documented = tomllib.load(f)
    stems = {c["file_stem"] for c in documented["certificates"].values()}
    names = {f"{s}.pem" for s in stems} | {f"{s}.key" for s in stems}
    names |= {
        documented["log"]["key_file"],
        documented["log"]["verifier_key_file"],
        documented["pki"]["chain_file"],
    }
    assert names == EXPECTED_FILES
    assert {p.name for p in pki_paths(tmp_path).all_files()} == names

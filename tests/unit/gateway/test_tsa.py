"""Token sources: in-process engine tokens, their cheap per-token check, and errors."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from court.der import DerError, tlv
from court.verify.token import CHECK_CHAIN, CHECK_DER, verify_timestamp
from gateway.errors import InvalidArgument, Unavailable
from gateway.tsa import (
    EngineTokenSource,
    HttpTokenSource,
    ProcessEngineTokenSource,
    TokenSource,
    check_engine_token,
)
from notary.pki import load_tsa_signing_material
from notary.serve import build_authority
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner
from notary.tsa.status import FailInfo, Rejection
from tests.support.token_surgery import element_at, replace
from tests.support.tsa import make_engine

YEAR = dt.timedelta(days=365)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def engine(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> TimeStampAuthority:
    return make_engine(pki_p256, tmp_path_factory.mktemp("serials"))


@pytest.fixture(scope="module")
def roots(pki_p256: Path) -> list[x509.Certificate]:
    return load_tsa_signing_material(pki_p256)[2]


@pytest.fixture(scope="module")
def source(engine: TimeStampAuthority, roots: list[x509.Certificate]) -> EngineTokenSource:
    return EngineTokenSource(engine, roots)


@pytest.mark.parametrize("alg", ["sha256", "sha384", "sha512"])
def test_engine_tokens_pass_the_court_check(
    source: EngineTokenSource, roots: list[x509.Certificate], alg: str
) -> None:
    digest = hashlib.new(alg, b"a contract").digest()
    token = source.stamp(alg, digest)
    result = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm=alg)
    assert result.ok, result.first_failure
    assert isinstance(source, TokenSource)


def test_stamp_batch_keeps_order_and_reports_per_item(source: EngineTokenSource) -> None:
    items = [("sha256", hashlib.sha256(bytes([i])).digest()) for i in range(100)]
    items[7] = ("sha256", b"short")
    items[9] = ("md5", b"\x00" * 16)
    out = source.stamp_batch(items)
    assert len(out) == 100
    assert isinstance(out[7], InvalidArgument) and out[7].violations[0][0] == "digest"
    assert isinstance(out[9], InvalidArgument) and out[9].violations[0][0] == "hash_algorithm"
    for i in (0, 50, 99):
        token = out[i]
        assert isinstance(token, bytes)
        check_engine_token(
            token,
            "sha256",
            items[i][1],
            source._public_key,
            "sha256",
            source._template,
        )


def test_sm3_refused_by_default_engine_is_invalid_argument(source: EngineTokenSource) -> None:
    with pytest.raises(InvalidArgument) as info:
        source.stamp("sm3", b"\x00" * 32)
    assert info.value.violations[0][0] == "hash_algorithm"


def test_cheap_check_rejects_every_single_bit_flip(source: EngineTokenSource) -> None:
    digest = hashlib.sha256(b"flip me").digest()
    token = source.stamp("sha256", digest)
    accepted = []
    for i in range(len(token)):
        for bit in (0x01, 0x80):
            mutated = bytearray(token)
            mutated[i] ^= bit
            try:
                check_engine_token(
                    bytes(mutated),
                    "sha256",
                    digest,
                    source._public_key,
                    "sha256",
                    source._template,
                )
            except ValueError:
                continue
            accepted.append((i, bit))
    assert accepted == []


def test_cheap_check_rejects_another_digest(source: EngineTokenSource) -> None:
    digest = hashlib.sha256(b"one").digest()
    token = source.stamp("sha256", digest)
    with pytest.raises(ValueError, match="imprint"):
        check_engine_token(
            token, "sha256", hashlib.sha256(b"two").digest(), source._public_key, "sha256"
        )
    with pytest.raises(ValueError, match="algorithm"):
        check_engine_token(token, "sha512", digest, source._public_key, "sha256")


def test_engine_with_foreign_roots_refuses_to_start(
    engine: TimeStampAuthority, tmp_path: Path
) -> None:
    from notary.pki import init_pki

    init_pki(tmp_path / "other")
    other_roots = load_tsa_signing_material(tmp_path / "other")[2]
    with pytest.raises(ValueError, match="roots"):
        EngineTokenSource(engine, other_roots)


def test_engine_source_health(source: EngineTokenSource) -> None:
    assert source.healthy()


def test_http_source_with_nothing_listening_is_unavailable(
    roots: list[x509.Certificate],
) -> None:
    source = HttpTokenSource(["http://127.0.0.1:9/"], roots, timeout=1.0)
    with pytest.raises(Unavailable, match=r"^time-stamp authority unavailable; retry later$"):
        source.stamp("sha256", b"\x00" * 32)
    assert not source.healthy()
    with pytest.raises(InvalidArgument):
        source.stamp("sm3", b"\x00" * 32)
    source.close()


def test_process_pool_source_tokens_pass_the_court_check(
    pki_p256: Path, roots: list[x509.Certificate], tmp_path: Path
) -> None:
    factory = functools.partial(build_authority, pki_p256, tmp_path / "serials")
    source = ProcessEngineTokenSource(factory, roots, processes=2)
    try:
        items = [("sha256", hashlib.sha256(bytes([i])).digest()) for i in range(80)]
        items[3] = ("sha256", b"short")
        out = source.stamp_batch(items)
        assert isinstance(out[3], InvalidArgument) and out[3].violations[0][0] == "digest"
        serials = set()
        for (alg, digest), token in zip(items, out, strict=True):
            if isinstance(token, InvalidArgument):
                continue
            assert isinstance(token, bytes)
            result = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm=alg)
            assert result.ok, result.first_failure
            serials.add(result.serial_number)
        assert len(serials) == 79  # two workers, no serial reused
        assert source.healthy()
        with pytest.raises(InvalidArgument):
            source.stamp("sha256", b"")
    finally:
        source.close()


def test_process_pool_source_with_foreign_roots_refuses_to_start(
    pki_p256: Path, tmp_path: Path
) -> None:
    from notary.pki import init_pki

    init_pki(tmp_path / "other")
    other_roots = load_tsa_signing_material(tmp_path / "other")[2]
    factory = functools.partial(build_authority, pki_p256, tmp_path / "serials")
    with pytest.raises(ValueError, match="cannot start"):
        ProcessEngineTokenSource(factory, other_roots, processes=1)


# ------------------------------------------------- the cheap check is as strict as the court's

# A bare token: ContentInfo { contentType, [0] { SignedData { ... signerInfos } } }.
NULL = b"\x05\x00"


def _append(der: bytes, path: tuple[int, ...], junk: bytes) -> bytes:
    """``der`` with ``junk`` appended inside the element at ``path`` (lengths re-framed)."""
    element = element_at(der, path)
    return replace(der, path, tlv(element.tag, element.contents + junk))


STRUCTURE_JUNK = [
    pytest.param((), id="element-after-the-ContentInfo-content"),
    pytest.param((1,), id="element-after-the-SignedData-in-its-[0]"),
    pytest.param((1, 0), id="element-after-the-signerInfos"),
    pytest.param((1, 0, -1, 0), id="element-after-the-signature"),
    pytest.param((1, 0, -1, 0, 1), id="element-in-the-signer-identifier"),
    pytest.param((1, 0, 2), id="element-after-the-eContent"),
]


@pytest.mark.parametrize("with_template", [True, False], ids=["template", "no-template"])
@pytest.mark.parametrize("path", STRUCTURE_JUNK)
def test_tokens_the_court_rejects_for_structure_fail_the_cheap_check(
    source: EngineTokenSource,
    roots: list[x509.Certificate],
    path: tuple[int, ...],
    with_template: bool,
) -> None:
    """Junk outside the signed parts keeps the signature valid: the court's structure
    check refuses it, and so must the gateway's cheap check of its own tokens."""
    digest = hashlib.sha256(b"framed").digest()
    token = _append(source.stamp("sha256", digest), path, NULL)
    court = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm="sha256")
    assert [c.name for c in court.failures] == [CHECK_DER]
    template = source._template if with_template else None
    assert template is not None or not with_template
    with pytest.raises(ValueError) as refused:
        check_engine_token(token, "sha256", digest, source._public_key, "sha256", template)
    assert isinstance(refused.value, DerError)


def test_tst_info_the_court_rejects_for_structure_fails_the_cheap_check(
    source: EngineTokenSource,
) -> None:
    """The TSTInfo is the part that differs from the template: the court's own TSTInfo
    structure check runs on it (here: an element after its last field)."""
    digest = hashlib.sha256(b"tst junk").digest()
    token = source.stamp("sha256", digest)
    octets = (1, 0, 2, 1, 0)
    tst = element_at(element_at(token, octets).contents, ())
    changed = replace(token, octets, tlv(0x04, tlv(0x30, tst.contents + NULL)))
    with pytest.raises(DerError, match="TSTInfo: 2 trailing byte"):
        check_engine_token(
            changed, "sha256", digest, source._public_key, "sha256", source._template
        )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name = (
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]) if issuer else name
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def test_a_root_that_expires_while_the_gateway_runs_fails_the_cheap_check(tmp_path: Path) -> None:
    """The engine checks its own certificate's validity, not the root's: a root that
    expires before the TSA certificate (a PKI made so, or a rotated root) must stop
    the tokens the court would reject ("Chain valid at genTime")."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    root_key = ec.generate_private_key(ec.SECP256R1())
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Short Root", root_key, None, now - YEAR, now + DAY)
    tsa = _certificate("Long TSA", tsa_key, ("Short Root", root_key), now - DAY, now + YEAR)
    clock = [int(now.timestamp() * 1000)]
    engine = TimeStampAuthority(
        KeySigner(tsa_key, tsa), LeasedSerials(tmp_path), clock=lambda: clock[0]
    )
    source = EngineTokenSource(engine, [root])  # the probe is made while the root is valid
    digest = hashlib.sha256(b"after the root").digest()
    assert source.stamp("sha256", digest)
    clock[0] += int(2 * DAY.total_seconds() * 1000)  # the root has expired, the TSA has not
    late = engine.issue("sha256", digest).token
    court = verify_timestamp(late, roots=[root], digest=digest, hash_algorithm="sha256")
    assert [c.name for c in court.failures] == [CHECK_CHAIN]
    assert "CN=Short Root has expired" in court.check(CHECK_CHAIN).detail
    with pytest.raises(ValueError, match="outside the validity of its certificate chain"):
        check_engine_token(late, "sha256", digest, source._public_key, "sha256", source._template)
    with pytest.raises(Unavailable):
        source.stamp("sha256", digest)


# ------------------------------------------------- weak hashes are refused in process


@pytest.mark.parametrize(("alg", "size"), [("sha1", 20), ("md5", 16)])
def test_weak_hashes_are_refused_by_the_in_process_engine(
    engine: TimeStampAuthority, source: EngineTokenSource, alg: str, size: int
) -> None:
    """issue() (no TimeStampReq) refuses what respond() refuses: badAlg, named."""
    digest = hashlib.new(alg, b"a contract").digest()
    assert len(digest) == size
    with pytest.raises(Rejection) as refused:
        engine.issue(alg, digest)
    assert refused.value.fail_info is FailInfo.BAD_ALG
    assert f"hash algorithm {alg} is not accepted" in refused.value.text
    with pytest.raises(InvalidArgument) as invalid:
        source.stamp(alg, digest)
    [(field, text)] = invalid.value.violations
    assert field == "hash_algorithm" and f"does not accept {alg}" in text


def test_http_source_refuses_a_reply_larger_than_a_token_may_be(
    roots: list[x509.Certificate], caplog: pytest.LogCaptureFixture
) -> None:
    """A misbehaving TSA answering megabytes is refused after MAX_REPLY_BYTES are read."""
    import http.server
    import threading

    from gateway.tsa import MAX_REPLY_BYTES

    sent: list[int] = []

    class Flood(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(64 * MAX_REPLY_BYTES))
            self.end_headers()
            chunk = b"\x30" * MAX_REPLY_BYTES
            try:
                for _ in range(64):
                    self.wfile.write(chunk)
                    sent.append(len(chunk))
            except OSError:  # the client stopped reading and closed
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    source = HttpTokenSource([f"http://127.0.0.1:{server.server_address[1]}/"], roots, timeout=5)
    try:
        with caplog.at_level("WARNING", logger="gateway.tsa"), pytest.raises(Unavailable):
            source.stamp("sha256", b"\x00" * 32)
        assert f"answered more than {MAX_REPLY_BYTES} bytes" in caplog.text
    finally:
        source.close()
        server.shutdown()
        server.server_close()
        thread.join(5)

"""Token sources: in-process engine tokens, their cheap per-token check, and errors."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pytest
from cryptography import x509

from court.verify.token import verify_timestamp
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
from tests.support.tsa import make_engine


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
            source._constant,
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
                    source._constant,
                )
            except (ValueError, IndexError):
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

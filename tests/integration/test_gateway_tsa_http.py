"""The gateway's HTTP token source against a real `notary serve` process, with fail-over."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.verify.token import verify_timestamp
from gateway.errors import Unavailable
from gateway.tsa import HttpTokenSource
from notary.pki import init_pki, load_tsa_signing_material
from tests.support.procs import free_port, notary_server


@pytest.fixture(scope="module")
def url(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with notary_server(pki_p256, tmp_path_factory.mktemp("notary") / "state") as base:
        yield base


def test_fails_over_to_a_working_tsa_and_verifies_fully(url: str, pki_p256: Path) -> None:
    roots = load_tsa_signing_material(pki_p256)[2]
    dead = f"http://127.0.0.1:{free_port()}/"
    source = HttpTokenSource([dead, url], roots, timeout=2.0)
    try:
        digests = [hashlib.sha256(bytes([i])).digest() for i in range(20)]
        out = source.stamp_batch([("sha256", d) for d in digests])
        for digest, token in zip(digests, out, strict=True):
            assert isinstance(token, bytes)
            result = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm="sha256")
            assert result.ok, result.first_failure
        assert source.healthy()
    finally:
        source.close()


def test_tokens_from_an_untrusted_tsa_are_refused(url: str, tmp_path: Path) -> None:
    init_pki(tmp_path / "other")
    other_roots = load_tsa_signing_material(tmp_path / "other")[2]
    source = HttpTokenSource([url], other_roots, timeout=2.0)
    try:
        with pytest.raises(Unavailable, match="verification"):
            source.stamp("sha256", hashlib.sha256(b"x").digest())
    finally:
        source.close()

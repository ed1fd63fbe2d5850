"""The bounded caches of a long-lived verifier (court.verify.bounded, .x509chain, .checkpoint).

Each cache is keyed on the exact bytes it stands for and bounded in entries
and bytes; a result is only handed back where a fresh check would give the
same one: another certificate, another note (one byte off), another key, or a
time at which another certificate is valid misses, and a failure is never kept.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import court.verify.checkpoint as checkpoint_module
from court.verify.bounded import BoundedCache
from court.verify.caches import VerifyCaches
from court.verify.checkpoint import CheckpointCache, CheckpointError
from court.verify.record import verify_record
from court.verify.result import CheckStatus
from court.verify.x509chain import ChainCache, build_chain
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from tests.support.receipt_log import Log
from tests.unit.court.verify.test_token_chain import NOW, YEAR, leaf, make

# ------------------------------------------------------------------ BoundedCache


def test_bounded_cache_evicts_the_least_recently_used_entry() -> None:
    cache: BoundedCache[str] = BoundedCache(max_entries=2, max_key_bytes=1000)
    cache.put(b"a", "A", 1)
    cache.put(b"b", "B", 1)
    assert cache.get(b"a") == "A"  # now the most recently used
    cache.put(b"c", "C", 1)
    assert len(cache) == 2
    assert cache.get(b"b") is None
    assert (cache.get(b"a"), cache.get(b"c")) == ("A", "C")


def test_bounded_cache_is_bounded_in_key_bytes() -> None:
    cache: BoundedCache[int] = BoundedCache(max_entries=100, max_key_bytes=10)
    for i in range(5):
        cache.put(bytes([i]) * 4, i, 4)
    assert len(cache) == 2 and cache.key_bytes == 8
    assert cache.get(b"\x04" * 4) == 4 and cache.get(b"\x00" * 4) is None
    cache.put(b"x" * 11, 11, 11)  # larger than the whole bound: not kept, nothing evicted
    assert cache.get(b"x" * 11) is None and len(cache) == 2


def test_bounded_cache_hits_on_equal_bytes_only() -> None:
    cache: BoundedCache[str] = BoundedCache(max_entries=4, max_key_bytes=100)
    cache.put((b"cert", (b"root",)), "path", 8)
    assert cache.get((bytes(bytearray(b"cert")), (b"root",))) == "path"  # same bytes, new object
    assert cache.get((b"cert", (b"root2",))) is None
    assert cache.get((b"cert", ())) is None
    with pytest.raises(ValueError, match="at least one"):
        BoundedCache(max_entries=0, max_key_bytes=1)


# -------------------------------------------------------------------- ChainCache


def test_a_found_path_is_handed_back_within_its_validity_window() -> None:
    root = make("Root", not_before=NOW - 5 * YEAR, not_after=NOW + 5 * YEAR)
    inter = make("Intermediate", issuer=root, not_before=NOW - 3 * YEAR)
    tsa = leaf(inter, not_before=NOW - 2 * YEAR, not_after=NOW - YEAR)
    cache = ChainCache()
    kwargs = {"roots": [root.cert], "intermediates": [inter.cert], "cache": cache}
    first = build_chain(tsa.cert, at=NOW - 1.5 * YEAR, **kwargs)  # type: ignore[arg-type]
    assert first.ok and first.signatures_checked == 2 and len(cache) == 1
    later = NOW - 1.2 * YEAR
    again = build_chain(tsa.cert, at=later, **kwargs)  # type: ignore[arg-type]
    fresh = build_chain(tsa.cert, roots=[root.cert], intermediates=[inter.cert], at=later)
    assert (again.ok, again.path, again.detail) == (fresh.ok, fresh.path, fresh.detail)
    assert later.isoformat() in again.detail
    assert (again.issuers_tried, again.signatures_checked) == (0, 0)  # no search
    # Outside the TSA certificate's validity the search runs, and fails as it must.
    expired = build_chain(tsa.cert, at=NOW, **kwargs)  # type: ignore[arg-type]
    assert not expired.ok and "has expired" in expired.detail
    early = build_chain(tsa.cert, at=NOW - 2.5 * YEAR, **kwargs)  # type: ignore[arg-type]
    assert not early.ok and "not yet valid" in early.detail
    assert len(cache) == 1  # failures are not kept


def test_another_certificate_misses() -> None:
    root = make("Root")
    inter = make("Intermediate", issuer=root)
    tsa, other_tsa = leaf(inter), leaf(inter)
    cache = ChainCache()
    chain = {"roots": [root.cert], "intermediates": [inter.cert], "cache": cache, "at": NOW}
    assert build_chain(tsa.cert, **chain).ok  # type: ignore[arg-type]
    other = build_chain(other_tsa.cert, **chain)  # type: ignore[arg-type]
    assert other.ok and other.path[0] == other_tsa.cert and other.issuers_tried > 0
    # The same leaf with another set of certificates is another key: searched, and fails.
    alone = build_chain(tsa.cert, roots=[root.cert], cache=cache, at=NOW)
    assert not alone.ok and "neither a trust anchor" in alone.detail
    stranger = make("Root")  # same name, another key: not the anchor the path ends at
    assert not build_chain(tsa.cert, **{**chain, "roots": [stranger.cert]}).ok  # type: ignore[arg-type]
    assert len(cache) == 2


def test_the_chain_cache_is_bounded() -> None:
    root = make("Root")
    leaves = [leaf(root) for _ in range(3)]
    cache = ChainCache(max_entries=2)
    for tsa in leaves:
        assert build_chain(tsa.cert, roots=[root.cert], cache=cache, at=NOW).ok
    assert len(cache) == 2
    first = build_chain(leaves[0].cert, roots=[root.cert], cache=cache, at=NOW)
    assert first.ok and first.signatures_checked == 1  # evicted: searched again
    small = ChainCache(max_key_bytes=100)  # smaller than one certificate
    assert build_chain(leaves[0].cert, roots=[root.cert], cache=small, at=NOW).ok
    assert len(small) == 0


# --------------------------------------------------------------- CheckpointCache


def _note(key: Ed25519PrivateKey, size: int, origin: str = "court.example/log") -> str:
    return sign_checkpoint(origin, size, bytes(range(32)), key, origin)


def test_a_note_is_verified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    vkey = str(make_verifier_key("court.example/log", key.public_key()))
    calls: list[object] = []
    real = checkpoint_module.verify_checkpoint

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checkpoint_module, "verify_checkpoint", counted)
    cache = CheckpointCache()
    note = _note(key, 7)
    first = cache.verify(note, vkey)
    assert cache.verify(note, vkey) is first and first.size == 7
    assert len(calls) == 1
    cache.verify(_note(key, 8), vkey)  # another checkpoint: verified
    assert len(calls) == 2


def test_a_note_that_differs_or_fails_is_never_served_from_the_cache() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    vkey = str(make_verifier_key("court.example/log", key.public_key()))
    cache = CheckpointCache()
    note = _note(key, 7)
    cache.verify(note, vkey)
    text, _, signature = note.partition("\n\n")
    tampered = text.replace("\n7\n", "\n8\n") + "\n\n" + signature  # same signature
    with pytest.raises(CheckpointError, match="invalid signature"):
        cache.verify(tampered, vkey)
    forged = _note(other, 7)  # same name and origin, another key
    with pytest.raises(CheckpointError):
        cache.verify(forged, vkey)
    with pytest.raises(CheckpointError):  # the right note, another verifier key
        cache.verify(note, str(make_verifier_key("court.example/log", other.public_key())))
    with pytest.raises(CheckpointError, match="origin"):
        cache.verify(note, vkey, origin="another.example/log")
    assert len(cache) == 1  # only the note that verified


def test_the_checkpoint_cache_is_bounded() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = str(make_verifier_key("court.example/log", key.public_key()))
    cache = CheckpointCache(max_entries=3)
    for size in range(10):
        cache.verify(_note(key, size), vkey)
    assert len(cache) == 3
    tiny = CheckpointCache(max_key_bytes=50)  # smaller than one note and key
    tiny.verify(_note(key, 1), vkey)
    assert len(tiny) == 0


# ------------------------------------------------------------------ verify_record


def test_verify_record_with_caches_reports_what_it_reports_without(log: Log) -> None:
    def run(caches: VerifyCaches | None, held: bool = True) -> list[tuple[str, str, str]]:
        result = verify_record(
            log.record(),
            roots=log.roots,
            log_verifier_key=log.vkey,
            checkpoint=log.newer,
            inclusion_proof=log.newer_proof,
            receipt=log.held() if held else None,
            consistency_proof=log.consistency if held else None,
            caches=caches,
        )
        return [(c.name, c.status.value, c.detail) for c in result.checks]

    caches = VerifyCaches()
    plain = run(None)
    assert run(caches) == plain
    assert len(caches.chains) == 1 and len(caches.checkpoints) == 2  # receipt's and latest
    assert run(caches) == plain  # served from the caches
    assert run(caches, held=False) == run(None, held=False)
    # A record whose token is not the leaf's still fails with warm caches.
    wrong = verify_record(
        dataclasses.replace(log.record(), timestamp_token=log.token + b"\x00"),
        roots=log.roots,
        log_verifier_key=log.vkey,
        checkpoint=log.newer,
        inclusion_proof=log.newer_proof,
        caches=caches,
    )
    assert any(c.status is CheckStatus.FAILED for c in wrong.checks)

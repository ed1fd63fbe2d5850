"""Court-side Merkle proof verification.

Checked three ways: every transparency-dev/merkle vector passes or fails as
its ``wantErr`` says; proofs from the naive RFC 9162 reference verify and any
changed byte makes them fail (hypothesis); and malformed input is reported as
a ProofError, never a crash.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from court.errors import CourtError
from court.verify.merkle import (
    ProofError,
    RootMismatchError,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from court.verify.rfc6962 import EMPTY_ROOT, leaf_hash
from tests.support import merkle_reference as ref

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "merkle"
TESTDATA = FIXTURES / "testdata"
INCLUSION_FILES = sorted((TESTDATA / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((TESTDATA / "consistency").rglob("*.json"))
U64_MAX = (1 << 64) - 1


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(p) for p in value or []]


def _load(path: Path) -> dict[str, Any]:
    # json parses integers as arbitrary-precision ints (2^64-1 stays exact).
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _outcome(check: Callable[[], None]) -> tuple[bool, str]:
    try:
        check()
    except ProofError as exc:
        return False, str(exc)
    return True, ""


# ------------------------------------------------------------------ fixtures


def test_fixture_checksums() -> None:
    lines = (FIXTURES / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name


def test_all_196_vectors_are_present() -> None:
    assert len(INCLUSION_FILES) == 98
    assert len(CONSISTENCY_FILES) == 98
    assert len(INCLUSION_FILES) + len(CONSISTENCY_FILES) == 196
    valid_incl = sum(not _load(p)["wantErr"] for p in INCLUSION_FILES)
    valid_cons = sum(not _load(p)["wantErr"] for p in CONSISTENCY_FILES)
    assert (valid_incl, valid_cons) == (6, 6)


@pytest.mark.parametrize(
    "path", INCLUSION_FILES, ids=[str(p.relative_to(TESTDATA)) for p in INCLUSION_FILES]
)
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    ok, why = _outcome(
        lambda: verify_inclusion(
            v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), _proof(v["proof"]), _b64(v["root"])
        )
    )
    assert ok is (not v["wantErr"]), f"{v['desc']}: {why or 'verified'}"
    if not ok:
        assert why  # the error names what is wrong


@pytest.mark.parametrize(
    "path", CONSISTENCY_FILES, ids=[str(p.relative_to(TESTDATA)) for p in CONSISTENCY_FILES]
)
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    ok, why = _outcome(
        lambda: verify_consistency(
            v["size1"], v["size2"], _proof(v["proof"]), _b64(v["root1"]), _b64(v["root2"])
        )
    )
    assert ok is (not v["wantErr"]), f"{v['desc']}: {why or 'verified'}"
    if not ok:
        assert why


def test_reference_tree_roots_recomputed() -> None:
    data = _load(FIXTURES / "reference-tree-8-leaves.json")
    inputs = [bytes.fromhex(h) for h in data["leaf_inputs_hex"]]
    roots = {int(k): bytes.fromhex(v) for k, v in data["root_by_tree_size_hex"].items()}
    assert sorted(roots) == list(range(9))
    for size, root in roots.items():
        assert ref.mth(inputs[:size]) == root, size
    # and every leaf of every size proves into those roots
    for size in range(1, 9):
        for index in range(size):
            verify_inclusion(
                index, size, leaf_hash(inputs[index]), ref.path(index, inputs[:size]), roots[size]
            )
        for old in range(1, size + 1):
            verify_consistency(old, size, ref.proof(old, inputs[:size]), roots[old], roots[size])


# -------------------------------------------------------- semantics in detail


def test_size1_zero_is_always_rejected() -> None:
    for size2 in (0, 1, 5):
        for root in (EMPTY_ROOT, b"x" * 32, b"don't care 1"):
            with pytest.raises(ProofError, match="empty tree"):
                verify_consistency(0, size2, [], root, root)


def test_equal_sizes() -> None:
    r = b"r" * 32
    verify_consistency(3, 3, [], r, r)
    with pytest.raises(RootMismatchError):
        verify_consistency(3, 3, [], r, b"s" * 32)
    with pytest.raises(ProofError, match="not empty"):
        verify_consistency(3, 3, [r], r, r)


def test_errors_are_court_errors_and_name_the_problem() -> None:
    assert issubclass(ProofError, CourtError)
    with pytest.raises(ProofError, match=r"leaf index 5 is beyond tree size 5"):
        verify_inclusion(5, 5, b"a" * 32, [], b"b" * 32)
    with pytest.raises(ProofError, match=r"leaf hash is 9 bytes long, want 32"):
        verify_inclusion(0, 1, b"WrongLeaf", [], b"b" * 32)
    with pytest.raises(ProofError, match=r"has 1 hashes, want 3"):
        verify_inclusion(0, 8, b"a" * 32, [b"c" * 32], b"b" * 32)
    with pytest.raises(RootMismatchError, match=r"computed root hash at tree size 1"):
        verify_inclusion(0, 1, b"a" * 32, [], b"b" * 32)
    with pytest.raises(ProofError, match=r"size2 \(1\) < size1 \(2\)"):
        verify_consistency(2, 1, [], b"a" * 32, b"b" * 32)


# A 0-byte, a 9-byte and 33-byte hash; huge and odd integers: clean errors.
_BAD_HASHES = [b"", b"WrongLeaf", b"x" * 31, b"x" * 33]
_BAD_INTS: list[Any] = [-1, 1 << 64, U64_MAX + 10, True, 1.0, "3", None]


@pytest.mark.parametrize("bad", _BAD_HASHES)
def test_malformed_hashes_never_crash(bad: bytes) -> None:
    good = b"g" * 32
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, bad, [], good)
    with pytest.raises(ProofError):
        verify_inclusion(0, 2, good, [bad], good)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, good, [], bad)
    with pytest.raises(ProofError):
        verify_consistency(1, 2, [bad], good, good)
    with pytest.raises(ProofError):
        verify_consistency(1, 2, [good], bad, good)
    with pytest.raises(ProofError):
        verify_consistency(1, 2, [good], good, bad)


@pytest.mark.parametrize("bad", _BAD_INTS)
def test_malformed_integers_never_crash(bad: Any) -> None:
    good = b"g" * 32
    with pytest.raises(ProofError):
        verify_inclusion(bad, 4, good, [good, good], good)
    with pytest.raises(ProofError):
        verify_inclusion(0, bad, good, [good, good], good)
    with pytest.raises(ProofError):
        verify_consistency(bad, 4, [good], good, good)
    with pytest.raises(ProofError):
        verify_consistency(1, bad, [good], good, good)


def test_uint64_extremes() -> None:
    good = b"g" * 32
    with pytest.raises(ProofError, match="beyond"):
        verify_inclusion(U64_MAX, 5, good, [], good)
    # The largest possible tree: the proof length is checked, nothing is allocated.
    with pytest.raises(ProofError, match="want 64"):
        verify_inclusion(0, U64_MAX, good, [], good)
    with pytest.raises(ProofError, match="want 63"):
        verify_inclusion(U64_MAX - 1, U64_MAX, good, [], good)
    with pytest.raises(ProofError, match="hashes, want"):
        verify_consistency(U64_MAX - 1, U64_MAX, [good], good, good)


def test_malformed_containers_never_crash() -> None:
    good = b"g" * 32
    for proof in (b"g" * 32, "abc", None, 7, [None], ["x" * 32]):
        with pytest.raises(ProofError):
            verify_inclusion(0, 2, good, proof, good)  # type: ignore[arg-type]
        with pytest.raises(ProofError):
            verify_consistency(1, 2, proof, good, good)  # type: ignore[arg-type]


# ------------------------------------------------- property tests (reference)


def _leaves(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") * (i % 3) for i in range(n)]


@st.composite
def _tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 300))
    return size, draw(st.integers(0, size - 1))


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(1, 300))
    return draw(st.integers(1, size2)), size2


@settings(max_examples=100, deadline=None)
@given(_tree_and_index(), st.data())
def test_reference_inclusion_proofs_verify_and_any_flip_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size, index = case
    leaves = _leaves(size)
    proof = ref.path(index, leaves)
    root = ref.mth(leaves)
    lh = leaf_hash(leaves[index])
    verify_inclusion(index, size, lh, proof, root)
    assert root_from_inclusion_proof(index, size, lh, proof) == root

    # Flip one bit of one byte of the proof, root or leaf hash.
    parts = [*proof, root, lh]
    which = data.draw(st.integers(0, len(parts) - 1))
    pos = data.draw(st.integers(0, 31))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(parts[which])
    flipped[pos] ^= 1 << bit
    parts[which] = bytes(flipped)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, parts[-1], parts[:-2], parts[-2])
    # Any other index or size fails too.
    other = data.draw(
        st.integers(0, size - 1).filter(lambda i: i != index) if size > 1 else st.none()
    )
    if other is not None:
        with pytest.raises(ProofError):
            verify_inclusion(other, size, lh, proof, root)


@settings(max_examples=100, deadline=None)
@given(_two_sizes(), st.data())
def test_reference_consistency_proofs_verify_and_any_flip_fails(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = sizes
    leaves = _leaves(size2)
    proof = ref.proof(size1, leaves)
    root1, root2 = ref.mth(leaves[:size1]), ref.mth(leaves)
    verify_consistency(size1, size2, proof, root1, root2)
    assert root_from_consistency_proof(size1, size2, proof, root1) == root2

    parts = [*proof, root1, root2]
    which = data.draw(st.integers(0, len(parts) - 1))
    pos = data.draw(st.integers(0, 31))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(parts[which])
    flipped[pos] ^= 1 << bit
    parts[which] = bytes(flipped)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, parts[:-2], parts[-2], parts[-1])
    # Dropping or adding a hash fails.
    if proof:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof[:-1], root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, [*proof, root1], root1, root2)

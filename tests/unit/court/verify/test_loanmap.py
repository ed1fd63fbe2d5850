"""The loan map (court.verify.loanmap) against a naive reference and fixed vectors.

Three ways: the pinned vectors of tests/fixtures/loanmap (made by the reference);
random maps built in several batches, whose roots and proofs must equal the
reference's (hypothesis); and hostile proofs and checkpoint lines, reported as
LoanMapError naming what is wrong, never as a crash.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from court.errors import CourtError
from court.evidence.leaf import encode_leaf
from court.evidence.leaf_v2 import encode_public_leaf
from court.verify.checkpoint import format_checkpoint_body, parse_checkpoint
from court.verify.loanmap import (
    EMPTY,
    MAP_LINE_PREFIX,
    LoanHead,
    LoanHeadProof,
    LoanMap,
    LoanMapError,
    block_hash,
    format_map_line,
    head_of_leaf,
    map_leaf_hash,
    map_node_hash,
    map_root_of,
    root_from_proof,
    verify_loan_head,
)
from court.verify.rfc6962 import leaf_hash
from tests.support import loanmap_reference as ref
from tests.support.leaf import sample_leaf, sample_public_leaf

VECTORS = Path(__file__).resolve().parents[3] / "fixtures" / "loanmap" / "vectors.json"


def _vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return cases


def _head(h: dict[str, Any]) -> LoanHead:
    return LoanHead(
        bytes.fromhex(h["loanKey"]), h["loanSequence"], h["leafIndex"], bytes.fromhex(h["leafHash"])
    )


def _ref_heads(heads: dict[bytes, LoanHead]) -> dict[bytes, ref.Head]:
    return {k: (h.loan_sequence, h.leaf_index, h.leaf_hash) for k, h in heads.items()}


# ------------------------------------------------------------------ vectors


@pytest.mark.parametrize("case", _vectors(), ids=lambda c: str(c["name"]))
def test_vectors(case: dict[str, Any]) -> None:
    heads = [_head(h) for h in case["heads"]]
    root = base64.b64decode(case["root"])
    m = LoanMap()
    m.update(heads)
    assert m.root() == root
    assert (
        ref.root({h.loan_key: (h.loan_sequence, h.leaf_index, h.leaf_hash) for h in heads}) == root
    )
    for h, raw in zip(heads, case["heads"], strict=True):
        assert (
            map_leaf_hash(h.loan_key, h.loan_sequence, h.leaf_index, h.leaf_hash).hex()
            == (raw["mapLeafHash"])
        )
        proof = m.prove(h.loan_key)
        assert proof is not None
        assert [base64.b64encode(s).decode() for s in proof.siblings] == raw["proof"]
        verify_loan_head(proof, root)


def test_vectors_are_still_what_the_reference_makes() -> None:
    assert json.loads(VECTORS.read_text(encoding="utf-8")) == json.loads(
        json.dumps(ref.make_vectors())
    )


def test_empty_map_and_one_key() -> None:
    m = LoanMap()
    assert m.root() == EMPTY and len(m) == 0
    assert m.prove(b"\x01" * 32) is None
    head = LoanHead(b"\x01" * 32, 1, 0, b"\x02" * 32)
    m.update([head])
    assert m.root() == map_leaf_hash(*_fields(head))
    assert m.prove(b"\x01" * 32) == LoanHeadProof(head, ())
    assert m.prove(b"\x03" * 32) is None  # another key: no head
    assert m.head(b"\x01" * 32) == head


def _fields(h: LoanHead) -> tuple[bytes, int, int, bytes]:
    return h.loan_key, h.loan_sequence, h.leaf_index, h.leaf_hash


def test_node_hash_of_two_empties_is_empty() -> None:
    assert map_node_hash(EMPTY, EMPTY) == EMPTY
    assert map_node_hash(EMPTY, b"\x01" * 32) != EMPTY
    assert block_hash([EMPTY] * 16) == EMPTY


# ------------------------------------------------------------------ hypothesis

# Keys from a few shared prefixes, so that deep splits (up to the last bit) occur.
_PREFIXES = [b"", b"\xab", b"\xab\xcd", b"\x00" * 31, b"\x77" * 16]


@st.composite
def _keys(draw: st.DrawFn) -> bytes:
    prefix = draw(st.sampled_from(_PREFIXES))
    rest = draw(st.binary(min_size=32 - len(prefix), max_size=32 - len(prefix)))
    return prefix + rest


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(_keys(), min_size=0, max_size=12), min_size=1, max_size=4))
def test_batches_match_the_reference(batches: list[list[bytes]]) -> None:
    m = LoanMap()
    heads: dict[bytes, LoanHead] = {}
    index = 0
    for batch in batches:
        new = []
        for key in batch:
            seq = heads[key].loan_sequence + 1 if key in heads else 1
            h = LoanHead(key, seq, index, hashlib.sha256(index.to_bytes(8, "big")).digest())
            index += 1
            heads[key] = h
            new.append(h)
        m.update(new)
        root = m.root()
        assert root == ref.root(_ref_heads(heads))
        assert len(m) == len(heads)
        for key, h in heads.items():
            proof = m.prove(key)
            assert proof is not None and proof.head == h
            assert list(proof.siblings) == ref.proof(key, _ref_heads(heads))
            verify_loan_head(proof, root)
        m.take_changed_paths()


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(_keys(), min_size=2, max_size=10, unique=True), data=st.data())
def test_a_changed_proof_does_not_verify(keys: list[bytes], data: st.DataObject) -> None:
    m = LoanMap()
    m.update(LoanHead(k, 1, i, bytes([i]) * 32) for i, k in enumerate(keys))
    root = m.root()
    key = data.draw(st.sampled_from(keys))
    proof = m.prove(key)
    assert proof is not None
    what = data.draw(st.sampled_from(["seq", "index", "leaf", "key", "sibling", "root"]))
    if what == "seq":
        bad = replace(proof, head=replace(proof.head, loan_sequence=proof.head.loan_sequence + 1))
    elif what == "index":
        bad = replace(proof, head=replace(proof.head, leaf_index=proof.head.leaf_index + 1))
    elif what == "leaf":
        bad = replace(proof, head=replace(proof.head, leaf_hash=b"\xee" * 32))
    elif what == "key":  # another loan's key with this loan's head and path
        other = data.draw(st.sampled_from([k for k in keys if k != key]))
        bad = replace(proof, head=replace(proof.head, loan_key=other))
    elif what == "sibling" and proof.siblings:
        i = data.draw(st.integers(0, len(proof.siblings) - 1))
        sibs = list(proof.siblings)
        sibs[i] = hashlib.sha256(sibs[i]).digest()
        bad = replace(proof, siblings=tuple(sibs))
    else:
        with pytest.raises(LoanMapError, match="does not match the map root"):
            verify_loan_head(proof, hashlib.sha256(root).digest())
        return
    with pytest.raises(LoanMapError, match="does not match the map root"):
        verify_loan_head(bad, root)


def test_changed_paths_are_blocks_and_the_top() -> None:
    m = LoanMap()
    a, b = bytes.fromhex("ab" + "00" * 31), bytes.fromhex("ac" + "00" * 31)
    m.update([LoanHead(a, 1, 0, EMPTY[:31] + b"\x01")])
    assert m.take_changed_paths() == [""]
    m.update([LoanHead(b, 1, 1, EMPTY[:31] + b"\x02")])
    assert m.take_changed_paths() == ["", "a"]
    assert isinstance(m.node_at(""), tuple) and isinstance(m.node_at("a"), tuple)
    assert m.node_at("ab") == m.head(a)
    assert m.node_at("b") is None
    assert m.take_changed_paths() == []


def test_a_head_must_move_forward() -> None:
    m = LoanMap()
    m.update([LoanHead(b"\x01" * 32, 1, 5, b"\x02" * 32)])
    with pytest.raises(LoanMapError, match="not after its current head at leaf 5"):
        m.update([LoanHead(b"\x01" * 32, 2, 5, b"\x02" * 32)])


# ------------------------------------------------------------------ hostile input


def _good() -> tuple[LoanHeadProof, bytes]:
    m = LoanMap()
    m.update(LoanHead(bytes([i]) * 32, 1, i, bytes([i]) * 32) for i in range(1, 5))
    proof = m.prove(b"\x01" * 32)
    assert proof is not None
    return proof, m.root()


@pytest.mark.parametrize(
    ("siblings", "message"),
    [
        ((EMPTY,) * 260, "260 siblings, more than 256"),
        ((EMPTY,) * 3, "3 siblings, not a multiple of 4"),
        ((EMPTY, EMPTY, EMPTY, b"\x01" * 31), "sibling #3 is 31 bytes long"),
        ((EMPTY, EMPTY, "x", EMPTY), "sibling #2 must be bytes"),
    ],
)
def test_malformed_siblings(siblings: tuple[Any, ...], message: str) -> None:
    proof, root = _good()
    with pytest.raises(LoanMapError, match=message):
        verify_loan_head(replace(proof, siblings=siblings), root)


def test_empty_bytes_stand_for_empty_siblings() -> None:
    proof, root = _good()
    short = tuple(b"" if s == EMPTY else s for s in proof.siblings)
    assert short != proof.siblings  # the fixture has EMPTY siblings
    verify_loan_head(replace(proof, siblings=short), root)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loan_key": b"\x01" * 31}, "loan key is 31 bytes long"),
        ({"loan_sequence": 0}, "loan sequence 0 is outside 1..2\\^64-1"),
        ({"leaf_index": -1}, "leaf index -1 is outside"),
        ({"leaf_index": 1 << 64}, "leaf index of 65 bits is outside"),
        ({"leaf_hash": "ab"}, "leaf hash must be bytes"),
        ({"loan_sequence": True}, "loan sequence must be an int"),
    ],
)
def test_malformed_head(change: dict[str, Any], message: str) -> None:
    proof, _ = _good()
    with pytest.raises(LoanMapError, match=message):
        root_from_proof(replace(proof, head=replace(proof.head, **change)))


def test_root_must_be_32_bytes_and_errors_are_court_errors() -> None:
    proof, root = _good()
    with pytest.raises(CourtError, match="map root is 31 bytes"):
        verify_loan_head(proof, root[:31])


# ------------------------------------------------------------------ checkpoint line


def _body(*extensions: str) -> str:
    return format_checkpoint_body("example.org/log", 7, b"\x05" * 32, extensions)


def test_map_line_round_trip() -> None:
    root = hashlib.sha256(b"r").digest()
    line = format_map_line(root)
    assert line.startswith(MAP_LINE_PREFIX)
    assert map_root_of(_body(line)) == root
    assert map_root_of(_body("other/ext 1", line).encode()) == root
    assert map_root_of(_body()) is None
    assert map_root_of(_body(format_map_line(EMPTY))) == EMPTY


def test_map_root_of_a_signed_note_and_a_checkpoint() -> None:
    root = hashlib.sha256(b"r").digest()
    note = _body(format_map_line(root)) + "\n\u2014 example.org/log AAAAAAAAAAAAAAAAAAAA\n"
    assert map_root_of(note) == root
    assert map_root_of(parse_checkpoint(note)) == root


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("loan-map/v1 AAAA", "loan-map/v1 AAAA"), "2 loan-map/v1 lines"),
        (("loan-map/v1  " + base64.b64encode(EMPTY).decode(),), "not valid base64"),
        (("loan-map/v1" + base64.b64encode(EMPTY).decode(),), "no single space"),
        (("loan-map/v1 AAAA",), "is 3 bytes, want 32"),
        (("loan-map/v1 AAB=",), "not canonical base64"),
        (("loan-map/v1 !!!!",), "not valid base64"),
    ],
)
def test_malformed_map_lines(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(LoanMapError, match=message):
        map_root_of(_body(*lines))


def test_malformed_checkpoint() -> None:
    with pytest.raises(LoanMapError, match="checkpoint is malformed"):
        map_root_of("not a checkpoint")
    with pytest.raises(LoanMapError, match="checkpoint is malformed"):
        map_root_of(b"\xff\xfe")


# ------------------------------------------------------------------ leaves


def test_head_of_a_v2_leaf() -> None:
    public = sample_public_leaf()
    der = encode_public_leaf(public)
    assert head_of_leaf(9, der) == LoanHead(
        public.loan_key, public.loan_sequence, 9, leaf_hash(der)
    )


def test_v1_leaves_are_not_in_the_map() -> None:
    assert head_of_leaf(0, encode_leaf(sample_leaf())) is None


def test_a_bad_leaf_is_named() -> None:
    der = encode_public_leaf(sample_public_leaf())
    with pytest.raises(LoanMapError, match="leaf 3 is not a canonical evidence leaf"):
        head_of_leaf(3, der + b"\x00")
    with pytest.raises(LoanMapError, match="leaf index -1 is outside"):
        head_of_leaf(-1, der)

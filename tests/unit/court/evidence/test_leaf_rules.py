"""The canonical leaf enforces the API's value rules, on encode and on decode.

Each rule of docs/leaf-format.md ("Value rules") is broken once: ``encode_leaf``
must refuse the fields, and ``decode_leaf`` must refuse a well-formed DER leaf
carrying them, built here by an independent hand encoder (the module's own
encoder refuses to write them). The ``LeafError`` names the field and never
repeats the value. Edge values that the rules allow must round-trip.
"""

from __future__ import annotations

import pytest

from court.evidence.leaf import (
    LeafError,
    decode_leaf,
    encode_leaf,
)
from tests.support.leaf import hand_der, sample_leaf

PERSONAL = "张三 110101199001011234"  # a name and a (made-up) resident identity number


# --------------------------------------------------------------------------- broken rules

LONG_METADATA = tuple((f"k{i:02d}", "v") for i in range(17))

# (id, changes, field the error must name)
BROKEN: list[tuple[str, dict[str, object], str]] = [
    ("loan_ref personal data", {"loan_ref": PERSONAL}, "loan_ref"),
    ("loan_ref empty", {"loan_ref": ""}, "loan_ref"),
    ("loan_ref 129 chars", {"loan_ref": "L" * 129}, "loan_ref"),
    ("loan_ref space", {"loan_ref": "loan 42"}, "loan_ref"),
    ("loan_ref hash sign", {"loan_ref": "loan#42"}, "loan_ref"),
    ("loan_ref trailing newline", {"loan_ref": "L-1\n"}, "loan_ref"),
    ("loan_ref arabic-indic digits", {"loan_ref": "\u0661\u0662\u0663"}, "loan_ref"),
    ("loan_ref fullwidth letters", {"loan_ref": "\uff2c-1"}, "loan_ref"),
    ("entry_id empty", {"entry_id": ""}, "entry_id"),
    ("entry_id 65 chars", {"entry_id": "e" * 65}, "entry_id"),
    ("entry_id dot", {"entry_id": "e.1"}, "entry_id"),
    ("entry_id non-ascii", {"entry_id": "é1"}, "entry_id"),
    ("institution empty", {"institution": ""}, "institution"),
    ("institution 129 chars", {"institution": "b" * 129}, "institution"),
    ("institution slash", {"institution": "bank/a"}, "institution"),
    ("institution space", {"institution": "bank a"}, "institution"),
    ("supersedes empty", {"supersedes": ""}, "supersedes"),
    ("supersedes 65 chars", {"supersedes": "e" * 65}, "supersedes"),
    ("supersedes colon", {"supersedes": "e:0"}, "supersedes"),
    ("metadata 17 entries", {"metadata": LONG_METADATA}, "metadata"),
    ("metadata upper-case key", {"metadata": (("UPPER KEY", "x"),)}, "metadata"),
    ("metadata empty key", {"metadata": (("", "x"),)}, "metadata"),
    ("metadata 65-char key", {"metadata": (("k" * 65, "x"),)}, "metadata"),
    ("metadata key with slash", {"metadata": (("a/b", "x"),)}, "metadata"),
    ("metadata 5000-byte value", {"metadata": (("note", "x" * 5000),)}, "metadata"),
    ("metadata 257-byte value", {"metadata": (("note", "x" * 257),)}, "metadata"),
    ("metadata 258-byte utf-8 value", {"metadata": (("note", "é" * 129),)}, "metadata"),
    ("metadata unsorted", {"metadata": (("b", "1"), ("a", "2"))}, "metadata"),
    ("metadata duplicate key", {"metadata": (("a", "1"), ("a", "2"))}, "metadata"),
    ("sha256 digest of 48 bytes", {"digest": b"\x00" * 48}, "digest"),
    ("sha384 digest of 32 bytes", {"hash_algorithm": "sha384"}, "digest"),
    ("sha512 digest of 48 bytes", {"hash_algorithm": "sha512", "digest": b"\x00" * 48}, "digest"),
    ("sm3 digest of 64 bytes", {"hash_algorithm": "sm3", "digest": b"\x00" * 64}, "digest"),
    ("empty digest", {"digest": b""}, "digest"),
    ("token hash 31 bytes", {"token_sha256": b"\x11" * 31}, "token_sha256"),
    ("token hash 33 bytes", {"token_sha256": b"\x11" * 33}, "token_sha256"),
    ("loan_sequence 0", {"loan_sequence": 0, "previous_leaf_hash": None}, "loan_sequence"),
    ("loan_sequence -1", {"loan_sequence": -1}, "loan_sequence"),
    ("previous hash for sequence 1", {"loan_sequence": 1}, "previous_leaf_hash"),
    ("no previous hash for sequence 2", {"previous_leaf_hash": None}, "previous_leaf_hash"),
    ("previous hash 31 bytes", {"previous_leaf_hash": b"\x22" * 31}, "previous_leaf_hash"),
    ("previous hash 33 bytes", {"previous_leaf_hash": b"\x22" * 33}, "previous_leaf_hash"),
]
BROKEN_PARAMS = [pytest.param(changes, field, id=name) for name, changes, field in BROKEN]


def _assert_names(error: LeafError, field: str, changes: dict[str, object]) -> None:
    assert error.field == field
    assert str(error).startswith(field)
    value = changes.get(field)
    if isinstance(value, str) and len(value) > 3:  # the offending value is never echoed
        assert value not in str(error)
    assert PERSONAL not in str(error) and "110101199001011234" not in str(error)


@pytest.mark.parametrize(("changes", "field"), BROKEN_PARAMS)
def test_encoder_refuses_a_broken_rule(changes: dict[str, object], field: str) -> None:
    with pytest.raises(LeafError) as refused:
        encode_leaf(sample_leaf(**changes))
    _assert_names(refused.value, field, changes)


@pytest.mark.parametrize(("changes", "field"), BROKEN_PARAMS)
def test_decoder_refuses_well_formed_der_with_a_broken_rule(
    changes: dict[str, object], field: str
) -> None:
    der = hand_der(sample_leaf(**changes))
    with pytest.raises(LeafError) as refused:
        decode_leaf(der)
    _assert_names(refused.value, field, changes)


def test_the_reported_leaves_are_refused() -> None:
    """The three leaves of the review used to decode as canonical."""
    for changes in (
        {"loan_ref": PERSONAL},
        {"metadata": (("UPPER KEY", "x"),)},
        {"metadata": (("note", "x" * 5000),)},
    ):
        der = hand_der(sample_leaf(**changes))
        with pytest.raises(LeafError, match=r"^(loan_ref|metadata)\b"):
            decode_leaf(der)


def test_rules_are_checked_on_type_too() -> None:
    with pytest.raises(LeafError) as refused:
        encode_leaf(sample_leaf(loan_ref=42))
    assert refused.value.field == "loan_ref"
    with pytest.raises(LeafError) as refused:
        encode_leaf(sample_leaf(metadata=(("key", 1),)))
    assert refused.value.field == "metadata"
    with pytest.raises(LeafError) as refused:
        encode_leaf(sample_leaf(metadata=(("key",),)))
    assert refused.value.field == "metadata"
    with pytest.raises(LeafError) as refused:
        encode_leaf(sample_leaf(metadata=(("key", "\ud800"),)))  # a lone surrogate
    assert refused.value.field == "metadata"


# --------------------------------------------------------------------------- edge values

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SIXTEEN = tuple((f"k{i:02d}", "v") for i in range(16))

VALID: list[tuple[str, dict[str, object]]] = [
    ("entry_id 1 char", {"entry_id": "e"}),
    ("entry_id 64 chars, whole alphabet", {"entry_id": (ALNUM + "_-")[:64]}),
    ("entry_id dash and underscore", {"entry_id": "-_"}),
    ("institution 1 char", {"institution": "b"}),
    ("institution 128 chars", {"institution": ("bank._:-" + ALNUM)[:64] * 2}),
    ("loan_ref 1 char", {"loan_ref": "L"}),
    ("loan_ref 128 chars with every symbol", {"loan_ref": ("L._:/-" + ALNUM[:58]) * 2}),
    ("loan_ref path-like", {"loan_ref": "branch-07/2024/loan:000123.a"}),
    ("supersedes 64 chars", {"supersedes": "s" * 64}),
    ("no supersedes", {"supersedes": None}),
    ("no metadata", {"metadata": ()}),
    ("16 metadata entries", {"metadata": SIXTEEN}),
    ("metadata key 64 chars", {"metadata": (("k" * 64, "v"),)}),
    ("metadata key symbols", {"metadata": (("a.b_c-d.0", "v"),)}),
    ("metadata empty value", {"metadata": (("note", ""),)}),
    ("metadata 256-byte value", {"metadata": (("note", "x" * 256),)}),
    ("metadata 256-byte utf-8 value", {"metadata": (("note", "é" * 128),)}),
    ("metadata 256-byte cjk value", {"metadata": (("note", "中" * 85 + "x"),)}),
    ("sha384", {"hash_algorithm": "sha384", "digest": b"\x03" * 48}),
    ("sha512", {"hash_algorithm": "sha512", "digest": b"\x05" * 64}),
    ("sm3", {"hash_algorithm": "sm3", "digest": b"\x07" * 32}),
    ("first of its loan", {"loan_sequence": 1, "previous_leaf_hash": None}),
    ("a long chain", {"loan_sequence": 2**40}),
]


@pytest.mark.parametrize("changes", [pytest.param(c, id=name) for name, c in VALID])
def test_edge_values_round_trip(changes: dict[str, object]) -> None:
    fields = sample_leaf(**changes)
    der = encode_leaf(fields)
    assert der == hand_der(fields)  # the hand encoder agrees on every valid leaf
    assert decode_leaf(der) == fields

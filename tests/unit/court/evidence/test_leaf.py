"""The canonical leaf: round trips, readable by asn1crypto, non-canonical forms refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from court.der import read_tlv, tlv
from court.evidence.leaf import (
    HASH_OIDS,
    KIND_NUMBERS,
    LeafError,
    LeafFields,
    decode_leaf,
    encode_leaf,
)
from tests.support.leaf import sample_leaf

_ID = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
    min_size=1,
    max_size=64,
)
_LOAN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._:/-", min_size=1, max_size=128)
_TIME = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
_META = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=64),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    max_size=16,
).map(lambda d: tuple(sorted(d.items())))


@st.composite
def leaves(draw: st.DrawFn) -> LeafFields:
    alg = draw(st.sampled_from(sorted(HASH_OIDS)))
    size = HASH_OIDS[alg][1]
    seq = draw(st.integers(min_value=1, max_value=1 << 40))
    return LeafFields(
        entry_id=draw(_ID),
        institution=draw(_ID),
        loan_ref=draw(_LOAN),
        kind=draw(st.sampled_from(sorted(KIND_NUMBERS))),
        hash_algorithm=alg,
        digest=draw(st.binary(min_size=size, max_size=size)),
        occurred_at=draw(_TIME),
        received_at=draw(_TIME),
        token_sha256=draw(st.binary(min_size=32, max_size=32)),
        loan_sequence=seq,
        supersedes=draw(st.none() | _ID),
        metadata=draw(_META),
        previous_leaf_hash=None if seq == 1 else draw(st.binary(min_size=32, max_size=32)),
    )


@settings(max_examples=300, deadline=None)
@given(leaves())
def test_round_trip(fields: LeafFields) -> None:
    encoded = encode_leaf(fields)
    assert decode_leaf(encoded) == fields
    assert encode_leaf(decode_leaf(encoded)) == encoded


class _Kind(core.Enumerated):  # type: ignore[misc]
    _map = {n: k for k, n in KIND_NUMBERS.items()}  # noqa: RUF012


class _MetadataEntry(core.Sequence):  # type: ignore[misc]
    _fields = [("key", core.UTF8String), ("value", core.UTF8String)]  # noqa: RUF012


class _Metadata(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _MetadataEntry


class _EvidenceLeaf(core.Sequence):  # type: ignore[misc]
    """The ASN.1 module of docs/leaf-format.md, written independently for asn1crypto."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("entry_id", core.UTF8String),
        ("institution", core.UTF8String),
        ("loan_ref", core.UTF8String),
        ("kind", _Kind),
        ("hash_algorithm", core.ObjectIdentifier),
        ("digest", core.OctetString),
        ("occurred_at", core.GeneralizedTime),
        ("received_at", core.GeneralizedTime),
        ("token_hash", core.OctetString),
        ("supersedes", core.UTF8String, {"implicit": 0, "optional": True}),
        ("metadata", _Metadata),
        ("loan_sequence", core.Integer),
        ("previous_leaf_hash", core.OctetString, {"implicit": 1, "optional": True}),
    ]


@settings(max_examples=100, deadline=None)
@given(leaves())
def test_asn1crypto_reads_it_as_der(fields: LeafFields) -> None:
    encoded = encode_leaf(fields)
    parsed = _EvidenceLeaf.load(encoded, strict=True)
    native = parsed.native
    assert native["version"] == 1
    assert native["entry_id"] == fields.entry_id
    assert native["institution"] == fields.institution
    assert native["loan_ref"] == fields.loan_ref
    assert native["kind"] == fields.kind
    assert parsed["hash_algorithm"].dotted == HASH_OIDS[fields.hash_algorithm][0]
    assert native["digest"] == fields.digest
    assert native["token_hash"] == fields.token_sha256
    assert native["supersedes"] == fields.supersedes
    assert tuple((m["key"], m["value"]) for m in native["metadata"]) == fields.metadata
    assert native["loan_sequence"] == fields.loan_sequence
    assert native["previous_leaf_hash"] == fields.previous_leaf_hash
    # asn1crypto re-serialises the parsed value to the same bytes (it writes
    # years before 1000 in a non-DER way of its own, so those are left out).
    if min(fields.occurred_at.year, fields.received_at.year) >= 1000:
        assert parsed.dump(force=True) == encoded


def test_times_as_asn1crypto_reads_them() -> None:
    fields = sample_leaf()
    parsed = _EvidenceLeaf.load(encode_leaf(fields))
    assert parsed["occurred_at"].native == fields.occurred_at
    assert parsed["occurred_at"].contents == b"20240506070809.12Z"
    assert parsed["received_at"].contents == b"20240506070810Z"


def test_times_are_normalised_to_utc() -> None:
    cst = datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC).astimezone(timezone(timedelta(hours=8)))
    assert encode_leaf(sample_leaf(occurred_at=cst)) == encode_leaf(sample_leaf())


def _reframed(body: bytes) -> bytes:
    """The outer SEQUENCE around ``body``, with the right (DER) length."""
    return tlv(0x30, body)


def _edit(find: bytes, replace: bytes) -> Callable[[bytes], bytes]:
    """Replace ``find`` (once, exactly one occurrence) inside the body, then reframe."""

    def edit(leaf: bytes) -> bytes:
        outer, _ = read_tlv(leaf)
        assert outer.contents.count(find) == 1, find
        return _reframed(outer.contents.replace(find, replace))

    return edit


def _long_outer_length(leaf: bytes) -> bytes:
    outer, _ = read_tlv(leaf)
    n = len(outer.contents)
    assert 0x80 <= n <= 0xFF  # the sample's one-octet long form 0x81 n ...
    return b"\x30\x82" + n.to_bytes(2, "big") + outer.contents  # ... written on two octets


# Other encodings of the sample leaf's own values: each is refused for what makes it
# non-canonical, and a lenient BER reader (asn1crypto) reads the same values from it.
NON_CANONICAL = [
    pytest.param(_long_outer_length, "non-minimal length", id="long-form outer length"),
    pytest.param(
        _edit(b"\x0c\x02e1", b"\x0c\x81\x02e1"),
        "non-minimal length",
        id="long-form length of entryId",
    ),
    pytest.param(
        _edit(b"\x02\x01\x01\x0c", b"\x02\x02\x00\x01\x0c"),
        "INTEGER is not minimally encoded",
        id="INTEGER padding of version",
    ),
    pytest.param(
        _edit(b"\x02\x01\x02\x81", b"\x02\x02\x00\x02\x81"),
        "INTEGER is not minimally encoded",
        id="INTEGER padding of loanSequence",
    ),
    pytest.param(
        _edit(b"\x18\x0f20240506070810Z", b"\x18\x1320240506070810.000Z"),
        "not in canonical DER form",
        id="fraction zeros in receivedAt",
    ),
    pytest.param(
        _edit(b"\x18\x0f20240506070810Z", b"\x18\x1120240506070810.0Z"),
        "not in canonical DER form",
        id="zero fraction in receivedAt",
    ),
    pytest.param(
        _edit(b"\x18\x1220240506070809.12Z", b"\x18\x1320240506070809.120Z"),
        "not in canonical DER form",
        id="trailing fraction zero in occurredAt",
    ),
]


@pytest.mark.parametrize(("encode_otherwise", "reason"), NON_CANONICAL)
def test_rejects_another_encoding_of_the_same_values(
    encode_otherwise: Callable[[bytes], bytes], reason: str
) -> None:
    encoded = encode_leaf(sample_leaf())
    other = encode_otherwise(encoded)
    assert other != encoded
    # The same leaf for a lenient reader: only the encoding differs.
    assert _EvidenceLeaf.load(other).native == _EvidenceLeaf.load(encoded).native
    with pytest.raises(LeafError, match=reason):
        decode_leaf(other)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(lambda b: b + b"\x00", "trailing bytes after the leaf", id="trailing byte"),
        pytest.param(lambda b: b[:-1], "truncat", id="truncated"),
        pytest.param(
            _edit(b"20240506070809.12Z", b"20240506070809.120"),
            "occurredAt is not a DER GeneralizedTime in UTC",
            id="time without Z",
        ),
        pytest.param(
            _edit(b"\x0a\x01\x03", b"\x0a\x01\x63"),
            "kind is not a known EvidenceKind",
            id="unknown kind",
        ),
        pytest.param(
            _edit(b"\x02\x01\x01\x0c", b"\x02\x01\x02\x0c"),
            "leaf version is not supported",
            id="version 2",
        ),
    ],
)
def test_rejects_what_is_not_a_leaf(bad: Callable[[bytes], bytes], reason: str) -> None:
    encoded = encode_leaf(sample_leaf())
    with pytest.raises(LeafError, match=reason):
        decode_leaf(bad(encoded))


def test_rejects_unsorted_metadata_in_bytes() -> None:
    encoded = encode_leaf(sample_leaf())
    a = b"\x30\x0e\x0c\x06agency\x0c\x04a-17"
    c = b"\x30\x0e\x0c\x07channel\x0c\x03sms"
    assert a + c in encoded
    with pytest.raises(LeafError, match=r"canonical|sorted"):
        decode_leaf(encoded.replace(a + c, c + a))


def test_rejects_previous_hash_for_first_record() -> None:
    with pytest.raises(LeafError):
        encode_leaf(sample_leaf(loan_sequence=1))
    with pytest.raises(LeafError):
        encode_leaf(sample_leaf(previous_leaf_hash=None))
    first = encode_leaf(sample_leaf(loan_sequence=1, previous_leaf_hash=None))
    assert decode_leaf(first).previous_leaf_hash is None


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "nonsense"},
        {"hash_algorithm": "md5"},
        {"digest": b"\x00" * 31},
        {"token_sha256": b"\x00" * 31},
        {"metadata": (("b", "1"), ("a", "2"))},
        {"metadata": (("a", "1"), ("a", "2"))},
        {"entry_id": ""},
        {"occurred_at": datetime(2024, 1, 1)},
        {"loan_sequence": 0},
    ],
)
def test_encoder_rejects_bad_fields(changes: dict[str, object]) -> None:
    with pytest.raises(LeafError):
        encode_leaf(sample_leaf(**changes))


def test_rejects_garbage() -> None:
    for data in (b"", b"\x30\x00", b"\x04\x00", b"\x30\x80\x00\x00"):
        with pytest.raises(LeafError):
            decode_leaf(data)

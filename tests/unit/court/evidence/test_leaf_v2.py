"""Leaf version 2: the public leaf and the private record, their encodings, the commitment,
the loan key and the opening (each tampering refused for its own reason)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from court.der import read_tlv, tlv
from court.evidence.leaf import HASH_OIDS, KIND_NUMBERS, LeafError, decode_leaf, encode_leaf
from court.evidence.leaf_v2 import (
    COMMITMENT_TAG,
    LOAN_KEY_TAG,
    MAX_PRIVATE_RECORD_BYTES,
    PrivateRecord,
    PublicLeaf,
    decode_private_record,
    decode_public_leaf,
    derive_loan_key,
    encode_private_record,
    encode_public_leaf,
    record_commitment,
)
from court.evidence.opening import (
    LeafOpening,
    OpeningError,
    OpeningProblem,
    decode_any_leaf,
    open_leaf,
)
from tests.support.leaf import (
    LOAN_SALT,
    RECORD,
    sample_leaf,
    sample_public_leaf,
    sample_record,
)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_ID = st.text(alphabet=_ID_CHARS, min_size=1, max_size=64)
_INST = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._:-", min_size=1, max_size=128)
_LOAN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._:/-", min_size=1, max_size=128)
_TIME = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
_META = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=64),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    max_size=16,
).map(lambda d: tuple(sorted(d.items())))
_H32 = st.binary(min_size=32, max_size=32)


@st.composite
def records(draw: st.DrawFn) -> PrivateRecord:
    alg = draw(st.sampled_from(sorted(HASH_OIDS)))
    size = HASH_OIDS[alg][1]
    return PrivateRecord(
        salt=draw(_H32),
        owner=draw(_INST),
        submitter=draw(_INST),
        loan_ref=draw(_LOAN),
        kind=draw(st.sampled_from(sorted(KIND_NUMBERS))),
        hash_algorithm=alg,
        digest=draw(st.binary(min_size=size, max_size=size)),
        occurred_at=draw(_TIME),
        supersedes=draw(st.none() | _ID),
        metadata=draw(_META),
    )


@st.composite
def public_leaves(draw: st.DrawFn) -> PublicLeaf:
    seq = draw(st.integers(min_value=1, max_value=1 << 40))
    return PublicLeaf(
        entry_id=draw(_ID),
        loan_key=draw(_H32),
        loan_sequence=seq,
        received_at=draw(_TIME),
        token_sha256=draw(_H32),
        commitment=draw(_H32),
        previous_leaf_hash=None if seq == 1 else draw(_H32),
    )


# ------------------------------------------------------------------ encodings


@settings(max_examples=200, deadline=None)
@given(public_leaves())
def test_public_leaf_round_trip(leaf: PublicLeaf) -> None:
    encoded = encode_public_leaf(leaf)
    assert decode_public_leaf(encoded) == leaf
    assert decode_any_leaf(encoded) == leaf


@settings(max_examples=200, deadline=None)
@given(records())
def test_private_record_round_trip(record: PrivateRecord) -> None:
    encoded = encode_private_record(record)
    assert decode_private_record(encoded) == record
    assert len(encoded) <= MAX_PRIVATE_RECORD_BYTES


class _PublicLeafSpec(core.Sequence):  # type: ignore[misc]
    """The ASN.1 module of docs/leaf-format.md (version 2), written independently."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("entry_id", core.UTF8String),
        ("loan_key", core.OctetString),
        ("loan_sequence", core.Integer),
        ("previous_leaf_hash", core.OctetString, {"implicit": 1, "optional": True}),
        ("received_at", core.GeneralizedTime),
        ("token_hash", core.OctetString),
        ("commitment", core.OctetString),
    ]


class _MetadataEntry(core.Sequence):  # type: ignore[misc]
    _fields = [("key", core.UTF8String), ("value", core.UTF8String)]  # noqa: RUF012


class _Metadata(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _MetadataEntry


class _PrivateRecordSpec(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("salt", core.OctetString),
        ("owner", core.UTF8String),
        ("submitter", core.UTF8String),
        ("loan_ref", core.UTF8String),
        ("kind", core.Enumerated),
        ("hash_algorithm", core.ObjectIdentifier),
        ("digest", core.OctetString),
        ("occurred_at", core.GeneralizedTime),
        ("supersedes", core.UTF8String, {"implicit": 0, "optional": True}),
        ("metadata", _Metadata),
    ]


class _Kind(core.Enumerated):  # type: ignore[misc]
    _map = {n: k for k, n in KIND_NUMBERS.items()}  # noqa: RUF012


_PrivateRecordSpec._fields[4] = ("kind", _Kind)


def test_asn1crypto_reads_both_as_der() -> None:
    leaf = sample_public_leaf()
    parsed = _PublicLeafSpec.load(encode_public_leaf(leaf), strict=True).native
    assert parsed["version"] == 2
    assert parsed["loan_key"] == leaf.loan_key
    assert parsed["loan_sequence"] == 2
    assert parsed["previous_leaf_hash"] == leaf.previous_leaf_hash
    assert parsed["received_at"] == leaf.received_at
    assert parsed["token_hash"] == leaf.token_sha256
    assert parsed["commitment"] == leaf.commitment
    record = _PrivateRecordSpec.load(encode_private_record(RECORD), strict=True)
    native = record.native
    assert native["salt"] == RECORD.salt
    assert (native["owner"], native["submitter"]) == ("bank-a", "agency-7")
    assert native["kind"] == "collection_call"
    assert record["hash_algorithm"].dotted == HASH_OIDS["sha256"][0]
    assert native["digest"] == RECORD.digest
    assert native["supersedes"] == "e0"
    assert tuple((m["key"], m["value"]) for m in native["metadata"]) == RECORD.metadata


def test_commitment_and_loan_key_as_documented() -> None:
    der = encode_private_record(RECORD)
    assert record_commitment(der) == hashlib.sha256(b"court-evidence/v2/record\x00" + der).digest()
    assert COMMITMENT_TAG == b"court-evidence/v2/record\x00"
    key_input = tlv(0x30, tlv(0x04, LOAN_SALT) + tlv(0x0C, b"bank-a") + tlv(0x0C, b"L-1"))
    expected = hashlib.sha256(LOAN_KEY_TAG + key_input).digest()
    assert derive_loan_key(LOAN_SALT, "bank-a", "L-1") == expected


def test_the_public_leaf_reveals_no_private_value() -> None:
    leaf = encode_public_leaf(sample_public_leaf())
    for secret in (b"bank-a", b"agency-7", b"L-1", RECORD.digest, RECORD.salt, LOAN_SALT, b"sms"):
        assert secret not in leaf
    assert bytes((0x0A, 1, KIND_NUMBERS["collection_call"])) not in leaf


def test_every_private_field_and_the_salt_change_the_commitment() -> None:
    base = record_commitment(encode_private_record(RECORD))
    changes: list[dict[str, object]] = [
        {"salt": b"\x01" * 32},
        {"owner": "bank-b"},
        {"submitter": "bank-a"},
        {"loan_ref": "L-2"},
        {"kind": "collection_visit"},
        {"digest": bytes(32)},
        {"hash_algorithm": "sm3"},
        {"occurred_at": datetime(2024, 5, 6, tzinfo=UTC)},
        {"supersedes": None},
        {"metadata": ()},
    ]
    seen = {base}
    for change in changes:
        commitment = record_commitment(encode_private_record(sample_record(**change)))
        assert commitment not in seen, change
        seen.add(commitment)


def test_the_loan_key_needs_the_loan_salt() -> None:
    key = derive_loan_key(LOAN_SALT, "bank-a", "L-1")
    assert derive_loan_key(LOAN_SALT, "bank-a", "L-1") == key  # one key per loan
    others = {
        derive_loan_key(bytes(32), "bank-a", "L-1"),
        derive_loan_key(LOAN_SALT, "bank-b", "L-1"),
        derive_loan_key(LOAN_SALT, "bank-a", "L-2"),
        # no ambiguity between owner and loan reference
        derive_loan_key(LOAN_SALT, "bank-aL", "-1"),
    }
    assert key not in others and len(others) == 4


def _reframed(data: bytes, find: bytes, replacement: bytes) -> bytes:
    outer, _ = read_tlv(data)
    assert outer.contents.count(find) == 1, find
    return tlv(0x30, outer.contents.replace(find, replacement))


def _long_outer(data: bytes) -> bytes:
    outer, _ = read_tlv(data)
    n = len(outer.contents)
    return b"\x30\x82" + n.to_bytes(2, "big") + outer.contents


LEAF_NOT_CANONICAL = [
    pytest.param(_long_outer, "non-minimal length", id="long-form outer length"),
    pytest.param(
        lambda b: _reframed(b, b"\x0c\x02e1", b"\x0c\x81\x02e1"),
        "non-minimal length",
        id="long-form length of entryId",
    ),
    pytest.param(
        lambda b: _reframed(b, b"\x02\x01\x02\x0c", b"\x02\x02\x00\x02\x0c"),
        "INTEGER is not minimally encoded",
        id="INTEGER padding of version",
    ),
    pytest.param(
        lambda b: _reframed(b, b"\x18\x0f20240506070810Z", b"\x18\x1120240506070810.0Z"),
        "not in canonical DER form",
        id="zero fraction in receivedAt",
    ),
    pytest.param(lambda b: b + b"\x00", "trailing bytes after the leaf", id="trailing byte"),
    pytest.param(
        lambda b: tlv(0x30, read_tlv(b)[0].contents + b"\x05\x00"),
        "unexpected elements",
        id="extra element",
    ),
    pytest.param(
        lambda b: _reframed(b, b"\x02\x01\x02\x0c", b"\x02\x01\x03\x0c"),
        r"leaf version is not supported \(only 1, 2\)",
        id="version 3",
    ),
]


@pytest.mark.parametrize(("otherwise", "reason"), LEAF_NOT_CANONICAL)
def test_public_leaf_other_encodings_refused(
    otherwise: Callable[[bytes], bytes], reason: str
) -> None:
    encoded = encode_public_leaf(sample_public_leaf())
    other = otherwise(encoded)
    assert other != encoded
    with pytest.raises(LeafError, match=reason):
        decode_any_leaf(other)


def test_previous_hash_exactly_after_the_first_record() -> None:
    with pytest.raises(LeafError, match="previous_leaf_hash"):
        encode_public_leaf(sample_public_leaf(loan_sequence=1))
    with pytest.raises(LeafError, match="previous_leaf_hash"):
        encode_public_leaf(sample_public_leaf(previous_leaf_hash=None))
    first = sample_public_leaf(loan_sequence=1, previous_leaf_hash=None)
    assert decode_public_leaf(encode_public_leaf(first)) == first


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"loan_key": b"\x00" * 31}, "loan_key"),
        ({"commitment": b"\x00" * 33}, "commitment"),
        ({"token_sha256": "00" * 32}, "token_sha256"),
        ({"entry_id": "e 1"}, "entry_id"),
        ({"version": 1}, "version"),
    ],
)
def test_public_leaf_encoder_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(LeafError) as caught:
        encode_public_leaf(sample_public_leaf(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"salt": b"\x00" * 16}, "salt"),
        ({"owner": ""}, "owner"),
        ({"submitter": "张三"}, "submitter"),
        ({"loan_ref": "Zhang San 110101199003077777"}, "loan_ref"),  # no room for a name
        ({"kind": "nonsense"}, "kind"),
        ({"hash_algorithm": "md5"}, "hash_algorithm"),
        ({"digest": b"\x00" * 31}, "digest"),
        ({"metadata": (("b", "1"), ("a", "2"))}, "metadata"),
        ({"metadata": (("k", "x" * 257),)}, "metadata"),
        ({"occurred_at": datetime(2024, 1, 1)}, "occurred_at"),
        ({"supersedes": ""}, "supersedes"),
    ],
)
def test_private_record_rules_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(LeafError) as caught:
        encode_private_record(sample_record(**changes))
    assert caught.value.field == field
    assert "Zhang" not in str(caught.value)  # never the value


RECORD_NOT_CANONICAL = [
    pytest.param(_long_outer, "non-minimal length", id="long-form outer length"),
    pytest.param(
        lambda b: _reframed(b, b"\x0c\x03L-1", b"\x0c\x81\x03L-1"),
        "non-minimal length",
        id="long-form length of loanRef",
    ),
    pytest.param(
        lambda b: _reframed(
            b,
            b"\x30\x0e\x0c\x06agency\x0c\x04a-17\x30\x0e\x0c\x07channel\x0c\x03sms",
            b"\x30\x0e\x0c\x07channel\x0c\x03sms\x30\x0e\x0c\x06agency\x0c\x04a-17",
        ),
        "sorted",
        id="unsorted metadata",
    ),
    pytest.param(
        lambda b: _reframed(b, b"\x18\x1220240506070809.12Z", b"\x18\x1320240506070809.120Z"),
        "canonical",
        id="trailing fraction zero in occurredAt",
    ),
    pytest.param(lambda b: b + b"\x00", "trailing bytes", id="trailing byte"),
    pytest.param(
        lambda b: _reframed(b, b"\x0c\x03L-1", b"\x0c\x03L 1"),
        "loan_ref must be 1 to 128 characters",
        id="loanRef outside its rule",
    ),
]


@pytest.mark.parametrize(("otherwise", "reason"), RECORD_NOT_CANONICAL)
def test_private_record_other_encodings_refused(
    otherwise: Callable[[bytes], bytes], reason: str
) -> None:
    encoded = encode_private_record(RECORD)
    other = otherwise(encoded)
    assert other != encoded
    with pytest.raises(LeafError, match=reason):
        decode_private_record(other)


def test_an_oversized_private_record_is_refused_before_parsing() -> None:
    huge = b"\x30\x83" + (MAX_PRIVATE_RECORD_BYTES).to_bytes(3, "big") + b"\x00" * 8192
    with pytest.raises(LeafError, match="at most 8192 bytes"):
        decode_private_record(huge)


# ------------------------------------------------------------------ versions


def test_any_leaf_decodes_version_1_and_2() -> None:
    v1 = encode_leaf(sample_leaf())
    assert decode_any_leaf(v1) == decode_leaf(v1)
    v2 = encode_public_leaf(sample_public_leaf())
    assert isinstance(decode_any_leaf(v2), PublicLeaf)
    with pytest.raises(LeafError, match="only 1"):
        decode_leaf(v2)
    with pytest.raises(LeafError, match="only 2"):
        decode_public_leaf(v1)


# ------------------------------------------------------------------ opening


def _opening(record: bytes | None = None, loan_salt: bytes = LOAN_SALT) -> LeafOpening:
    return LeafOpening(
        private_record=encode_private_record(RECORD) if record is None else record,
        loan_salt=loan_salt,
    )


def test_an_opening_opens_its_leaf() -> None:
    leaf = sample_public_leaf()
    opened = open_leaf(leaf, _opening())
    assert (opened.owner, opened.submitter, opened.loan_ref) == ("bank-a", "agency-7", "L-1")
    assert (opened.kind, opened.hash_algorithm, opened.digest) == (
        "collection_call",
        "sha256",
        RECORD.digest,
    )
    assert opened.metadata == RECORD.metadata and opened.supersedes == "e0"
    assert opened.occurred_at == RECORD.occurred_at
    assert (opened.entry_id, opened.loan_sequence, opened.received_at) == (
        "e1",
        2,
        leaf.received_at,
    )
    assert (opened.loan_key, opened.commitment, opened.version) == (
        leaf.loan_key,
        leaf.commitment,
        2,
    )


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


_DER = encode_private_record(RECORD)
OPENING_TAMPERING = [
    pytest.param(
        _opening(_flip(_DER, _DER.index(RECORD.digest) + 4)),
        OpeningProblem.COMMITMENT,
        id="digest byte of the private record",
    ),
    pytest.param(
        _opening(_flip(_DER, _DER.index(RECORD.salt))),
        OpeningProblem.COMMITMENT,
        id="record salt byte",
    ),
    pytest.param(
        _opening(encode_private_record(sample_record(owner="bank-b"))),
        OpeningProblem.COMMITMENT,
        id="another owner",
    ),
    pytest.param(
        _opening(encode_private_record(sample_record(kind="repayment"))),
        OpeningProblem.COMMITMENT,
        id="another kind",
    ),
    pytest.param(_opening(loan_salt=bytes(32)), OpeningProblem.LOAN_KEY, id="another loan salt"),
    pytest.param(
        _opening(loan_salt=LOAN_SALT[:31]), OpeningProblem.MALFORMED, id="short loan salt"
    ),
    pytest.param(
        _opening(_long_outer(_DER)),  # a longer length form: BER, not DER
        OpeningProblem.MALFORMED,
        id="private record in BER",
    ),
    pytest.param(_opening(b"garbage"), OpeningProblem.MALFORMED, id="not DER"),
]


@pytest.mark.parametrize(("opening", "reason"), OPENING_TAMPERING)
def test_a_tampered_opening_fails_for_its_own_reason(
    opening: LeafOpening, reason: OpeningProblem
) -> None:
    with pytest.raises(OpeningError) as caught:
        open_leaf(sample_public_leaf(), opening)
    assert caught.value.reason is reason
    text = str(caught.value)
    for secret in ("bank-a", "agency-7", "L-1", RECORD.digest.hex()):
        assert secret not in text  # a failed opening names hashes, never private values


def test_an_opening_does_not_open_another_record_of_the_same_loan() -> None:
    other = sample_record(salt=b"\x05" * 32, digest=bytes(32))
    leaf_of_other = sample_public_leaf(other)
    assert leaf_of_other.loan_key == sample_public_leaf().loan_key  # same loan, same key
    with pytest.raises(OpeningError) as caught:
        open_leaf(leaf_of_other, _opening())
    assert caught.value.reason is OpeningProblem.COMMITMENT
    theirs = replace(_opening(), private_record=encode_private_record(other))
    assert open_leaf(leaf_of_other, theirs).digest == bytes(32)

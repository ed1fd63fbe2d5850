"""Valid canonical leaves (version 1 and 2) for tests, and an independent DER encoder of v1."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from court.der import encode_integer, encode_oid, tlv
from court.evidence.leaf import HASH_OIDS, KIND_NUMBERS, LeafFields
from court.evidence.leaf_v2 import (
    PrivateRecord,
    PublicLeaf,
    derive_loan_key,
    encode_private_record,
    record_commitment,
)

BASE = LeafFields(
    entry_id="e1",
    institution="bank-a",
    loan_ref="L-1",
    kind="repayment",
    hash_algorithm="sha256",
    digest=bytes(range(32)),
    occurred_at=datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC),
    received_at=datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC),
    token_sha256=b"\x11" * 32,
    loan_sequence=2,
    supersedes="e0",
    metadata=(("agency", "a-17"), ("channel", "sms")),
    previous_leaf_hash=b"\x22" * 32,
)


def sample_leaf(**changes: object) -> LeafFields:
    """`BASE` with `changes` applied."""
    return replace(BASE, **changes)  # type: ignore[arg-type]


def _utf8(tag: int, text: str) -> bytes:
    return tlv(tag, text.encode("utf-8", errors="surrogatepass"))


def _time(value: datetime) -> bytes:
    text = value.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return tlv(0x18, (text + "Z").encode("ascii"))


def hand_der(f: LeafFields) -> bytes:
    """The DER of ``f`` per the ASN.1 module, whatever the values (no rule applied).

    Besides the names of the leaf module, ``kind`` may be any ENUMERATED value
    (an int) and ``hash_algorithm`` any dotted OID, or the contents octets of one.
    """
    kind = f.kind if isinstance(f.kind, int) else KIND_NUMBERS[f.kind]
    algorithm: str | bytes = f.hash_algorithm
    if isinstance(algorithm, bytes):
        oid = tlv(0x06, algorithm)
    else:
        oid = encode_oid(HASH_OIDS[algorithm][0] if algorithm in HASH_OIDS else algorithm)
    metadata = b"".join(tlv(0x30, _utf8(0x0C, k) + _utf8(0x0C, v)) for k, v in f.metadata)
    return tlv(
        0x30,
        b"".join(
            (
                encode_integer(f.version),
                _utf8(0x0C, f.entry_id),
                _utf8(0x0C, f.institution),
                _utf8(0x0C, f.loan_ref),
                encode_integer(kind).replace(b"\x02", b"\x0a", 1),
                oid,
                tlv(0x04, f.digest),
                _time(f.occurred_at),
                _time(f.received_at),
                tlv(0x04, f.token_sha256),
                b"" if f.supersedes is None else _utf8(0x80, f.supersedes),
                tlv(0x30, metadata),
                encode_integer(f.loan_sequence),
                b"" if f.previous_leaf_hash is None else tlv(0x81, f.previous_leaf_hash),
            )
        ),
    )


RECORD = PrivateRecord(
    salt=bytes(range(32)),
    owner="bank-a",
    submitter="agency-7",
    loan_ref="L-1",
    kind="collection_call",
    hash_algorithm="sha256",
    digest=bytes(range(200, 232)),
    occurred_at=datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC),
    supersedes="e0",
    metadata=(("agency", "a-17"), ("channel", "sms")),
)
LOAN_SALT = bytes(range(64, 96))


def sample_record(**changes: object) -> PrivateRecord:
    """`RECORD` with `changes` applied."""
    return replace(RECORD, **changes)  # type: ignore[arg-type]


def sample_public_leaf(record: PrivateRecord = RECORD, **changes: object) -> PublicLeaf:
    """The version 2 leaf committing to ``record`` (loan salt LOAN_SALT), with ``changes``."""
    leaf = PublicLeaf(
        entry_id="e1",
        loan_key=derive_loan_key(LOAN_SALT, record.owner, record.loan_ref),
        loan_sequence=2,
        received_at=datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC),
        token_sha256=b"\x11" * 32,
        commitment=record_commitment(encode_private_record(record)),
        previous_leaf_hash=b"\x22" * 32,
    )
    return replace(leaf, **changes)  # type: ignore[arg-type]

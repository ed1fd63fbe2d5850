"""The strict DER reader agrees with asn1crypto on DER and refuses BER-only forms."""

from __future__ import annotations

import pytest
from asn1crypto import core
from hypothesis import example, given
from hypothesis import strategies as st

from court.der import (
    DerError,
    decode_integer,
    decode_oid,
    encode_integer,
    encode_length,
    read_tlv,
    tlv,
)


@given(st.integers(min_value=-(1 << 200), max_value=1 << 200))
@example(-128)  # the two's-complement boundaries, where a minimal length is easy to miss
@example(-129)
@example(-32768)
@example(-32769)
@example(127)
@example(128)
@example(0)
@example(-1)
def test_integer_round_trip_matches_asn1crypto(value: int) -> None:
    encoded = encode_integer(value)
    assert encoded == core.Integer(value).dump()
    element, end = read_tlv(encoded)
    assert end == len(encoded)
    assert decode_integer(element) == value


@given(st.integers(min_value=0, max_value=70000))
def test_length_round_trip(n: int) -> None:
    encoded = tlv(0x04, b"\x00" * n)
    assert encoded == core.OctetString(b"\x00" * n).dump()
    element, end = read_tlv(encoded)
    assert end == len(encoded)
    assert len(element.contents) == n


@given(
    st.tuples(st.integers(0, 2), st.integers(0, 39)),
    st.lists(st.integers(0, 1 << 70), max_size=8),
)
def test_oid_matches_asn1crypto(head: tuple[int, int], tail: list[int]) -> None:
    dotted = ".".join(str(a) for a in [*head, *tail])
    element, _ = read_tlv(core.ObjectIdentifier(dotted).dump())
    assert decode_oid(element) == dotted


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x30\x80\x00\x00", "indefinite"),
        (b"\x04\x81\x05hello", "minimal"),
        (b"\x04\x82\x00\x85" + b"\x00" * 0x85, "minimal"),
        (b"\x04\x05hel", "truncated"),
        (b"\x04", "truncated"),
        (b"\x1f\x22\x00", "high tag"),
        (b"\x04\x85\x01\x00\x00\x00\x00", "too long"),
    ],
)
def test_reader_refuses_ber(data: bytes, words: str) -> None:
    with pytest.raises(DerError, match=words):
        read_tlv(data)


@pytest.mark.parametrize("body", [b"", b"\x00\x01", b"\xff\x80"])
def test_integer_refuses_non_minimal(body: bytes) -> None:
    element, _ = read_tlv(tlv(0x02, body))
    with pytest.raises(DerError):
        decode_integer(element)


@pytest.mark.parametrize("body", [b"", b"\x2a\x86", b"\x2a\x80\x01"])
def test_oid_refuses_malformed(body: bytes) -> None:
    element, _ = read_tlv(tlv(0x06, body))
    with pytest.raises(DerError):
        decode_oid(element)


def test_encode_length_forms() -> None:
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x100) == b"\x82\x01\x00"

"""The strict DER reader agrees with asn1crypto on DER, refuses BER-only forms, and on
any input returns or raises DerError (a CourtError), nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from asn1crypto import core
from hypothesis import example, given, settings
from hypothesis import strategies as st

from court.der import (
    MAX_ARC_OCTETS,
    MAX_DEPTH,
    Cursor,
    DerError,
    check_der,
    decode_generalized_time,
    decode_integer,
    decode_oid,
    der_problem,
    each,
    encode_integer,
    encode_length,
    encode_oid,
    one,
    read_children,
    read_header,
    read_tlv,
    tlv,
)
from court.errors import CourtError


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


# --------------------------------------------------------------------------- hostile input


def _only_court_errors(action: Callable[[], object]) -> None:
    """Run ``action``; any exception it raises must be the court's own (a DerError)."""
    try:
        action()
    except CourtError as exc:
        assert isinstance(exc, DerError) and str(exc)


def _nested(depth: int) -> bytes:
    der = b"\x05\x00"
    for _ in range(depth):
        der = tlv(0x30, der)
    return der


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2048),
        st.builds(lambda d, tail: _nested(d) + tail, st.integers(0, 100), st.binary(max_size=4)),
        st.builds(lambda t, body: tlv(t, body), st.integers(0, 255), st.binary(max_size=300)),
    )
)
def test_the_reader_raises_only_der_errors(blob: bytes) -> None:
    """Every reading function, on any bytes: a result or a DerError (a CourtError)."""
    _only_court_errors(lambda: read_tlv(blob))
    _only_court_errors(lambda: read_children(blob))
    _only_court_errors(lambda: read_header(blob, 0, len(blob)))
    _only_court_errors(lambda: check_der(blob))
    problem = der_problem(blob)
    assert problem is None or problem
    walk = each("element", None, each("inner", None, one("one", None)))
    _only_court_errors(lambda: walk(Cursor(blob, where="blob")))
    try:
        element, _ = read_tlv(blob)
    except DerError:
        return
    for decode in (decode_integer, decode_oid, decode_generalized_time):
        _only_court_errors(lambda decode=decode: decode(element))  # type: ignore[misc]


def test_nesting_deeper_than_the_limit_is_a_der_error() -> None:
    check_der(_nested(MAX_DEPTH))
    with pytest.raises(DerError, match="nesting deeper"):
        check_der(_nested(MAX_DEPTH + 1))


def test_oid_arcs_longer_than_the_limit_are_der_errors() -> None:
    """A decimal arc of more than 4,300 digits could not even be printed."""
    uuid_arc = "2.25.74167495855605972033681777401069352886"
    assert decode_oid(read_tlv(encode_oid(uuid_arc))[0]) == uuid_arc
    huge = tlv(0x06, b"\x2a" + b"\xff" * 3000 + b"\x7f")
    with pytest.raises(DerError, match=f"longer than {MAX_ARC_OCTETS} octets"):
        decode_oid(read_tlv(huge)[0])
    with pytest.raises(DerError, match=f"longer than {MAX_ARC_OCTETS} octets"):
        check_der(tlv(0x30, huge))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"20260101120000Z", dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)),
        (b"20260101120000.5Z", dt.datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)),
        (b"20260101120000.1234567Z", dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)),
    ],
)
def test_generalized_time_reads_der_forms(text: bytes, expected: dt.datetime) -> None:
    assert decode_generalized_time(read_tlv(tlv(0x18, text))[0]) == expected


@pytest.mark.parametrize(
    "text",
    [b"20260101120000", b"20260101120000.50Z", b"20260101120000.Z", b"202601011200Z",
     b"20261301120000Z", b"00000101120000Z", b"20260101120000+0800"],
)  # fmt: skip
def test_generalized_time_refuses_other_forms(text: bytes) -> None:
    with pytest.raises(DerError):
        decode_generalized_time(read_tlv(tlv(0x18, text))[0])


def test_cursor_names_where_trailing_bytes_are() -> None:
    data = tlv(0x30, tlv(0x02, b"\x01") + b"\x05\x00")
    cursor = Cursor(data)
    with pytest.raises(DerError, match=r"Outer: 2 trailing byte\(s\) after version"):
        cursor.take("Outer", (0x30,), lambda c: c.take("version", (0x02,)))

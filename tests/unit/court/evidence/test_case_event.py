"""The canonical case event document: round trips, one encoding per value, each rule named,
hostile bytes refused within bounds."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from court.der import tlv
from court.evidence.case_event import (
    MAX_DOCUMENT_BYTES,
    MAX_MINOR_UNITS,
    MAX_RELIED_ON,
    CaseEventDocument,
    CaseEventError,
    Money,
    case_number_rule,
    decode_case_event,
    document_digest,
    encode_case_event,
)
from court.evidence.case_terms import (
    EVENT_RULES,
    BodyKind,
    CaseEventType,
    CaseReason,
    CaseStatus,
)

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FILING = CaseEventDocument(
    case_id="case-1",
    event_number=1,
    event=CaseEventType.FILED,
    status_after=CaseStatus.FILED,
    lender="bank-a",
    loan_ref="L-0001",
    body="court-1",
    body_kind=BodyKind.COURT,
    occurred_at=T0,
    claim=Money("CNY", 1_234_567),
    relied_on=("e1", "e2"),
)
RECOVERED = replace(
    FILING,
    event_number=7,
    event=CaseEventType.AMOUNT_RECOVERED,
    status_after=CaseStatus.PROPERTY_FROZEN,
    previous_event="e-prev",
    claim=None,
    relied_on=None,
    amount=Money("CNY", 500),
    recovered_total=1500,
)
#: The filing above, byte for byte: the format is pinned (a change here is a new version).
FILING_HEX = (
    "3072"
    "0c1c" + b"court-evidence/v1/case-event".hex() + "0c06" + b"case-1".hex() + "020101"
    "0a0101"  # event filed(1)
    "0a0101"  # statusAfter filed(1)
    "0c06" + b"bank-a".hex() + "0c06" + b"L-0001".hex() + "0c07" + b"court-1".hex() + "0a0101"
    "180f" + b"20260301093000Z".hex() + "a10a0c03" + b"CNY".hex() + "0203" + "12d687"
    "a2080c02" + b"e1".hex() + "0c02" + b"e2".hex()
)


def test_the_filing_document_is_pinned_byte_for_byte() -> None:
    der = encode_case_event(FILING)
    assert der.hex() == FILING_HEX
    assert decode_case_event(der) == FILING
    # Any ASN.1 tool reads it: the outer SEQUENCE and its first element.
    parsed = core.Sequence.load(der)
    assert parsed[0].contents == b"court-evidence/v1/case-event"
    assert parsed[1].contents == b"case-1"
    assert document_digest(der) == hashlib.sha256(der).digest()


def _valid_event(event: CaseEventType, kind: BodyKind, status: CaseStatus) -> CaseEventDocument:
    rule = EVENT_RULES[event]
    doc = replace(
        FILING,
        event_number=2,
        event=event,
        status_after=status if rule.to_status is None else rule.to_status,
        body_kind=kind,
        previous_event="e-prev",
        claim=None,
        relied_on=None,
    )
    if event is CaseEventType.ACCEPTED:
        doc = replace(doc, case_number="(2026)京0105民初12345号")
    if rule.reasons:
        doc = replace(doc, reason=sorted(rule.reasons)[0])
    if event is CaseEventType.AMOUNT_RECOVERED:
        doc = replace(doc, amount=Money("CNY", 10), recovered_total=10)
    return doc


@pytest.mark.parametrize(
    "event", [e for e in CaseEventType if e is not CaseEventType.FILED], ids=str
)
def test_every_event_round_trips(event: CaseEventType) -> None:
    rule = EVENT_RULES[event]
    kind = sorted(rule.bodies)[0]
    status = sorted(rule.from_statuses)[0]
    doc = _valid_event(event, kind, status)
    assert decode_case_event(encode_case_event(doc)) == doc


_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC),
)
_money = st.builds(
    Money, st.from_regex(r"[A-Z]{3}", fullmatch=True), st.integers(1, MAX_MINOR_UNITS)
)
_case_numbers = st.text(
    st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=64
).filter(lambda s: case_number_rule(s) is None)


@st.composite
def documents(draw: st.DrawFn) -> CaseEventDocument:
    event = draw(st.sampled_from(list(CaseEventType)))
    rule = EVENT_RULES[event]
    kind = draw(st.sampled_from(sorted(rule.bodies)))
    base = dict(
        case_id=draw(_ids),
        lender=draw(st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True)),
        loan_ref=draw(st.from_regex(r"[A-Za-z0-9._:/-]{1,128}", fullmatch=True)),
        body=draw(st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True)),
        body_kind=kind,
        occurred_at=draw(_times),
        event=event,
    )
    if event is CaseEventType.FILED:
        return CaseEventDocument(
            **base,  # type: ignore[arg-type]
            event_number=1,
            status_after=CaseStatus.FILED,
            claim=draw(_money),
            relied_on=tuple(draw(st.lists(_ids, min_size=1, max_size=20, unique=True))),
        )
    status = (
        draw(st.sampled_from(sorted(rule.from_statuses)))
        if rule.to_status is None
        else rule.to_status
    )
    extra: dict[str, object] = {}
    if event is CaseEventType.ACCEPTED or (event is CaseEventType.REJECTED and draw(st.booleans())):
        extra["case_number"] = draw(_case_numbers)
    if rule.reasons:
        extra["reason"] = draw(st.sampled_from(sorted(rule.reasons)))
    if event is CaseEventType.AMOUNT_RECOVERED:
        amount = draw(_money)
        extra["amount"] = amount
        extra["recovered_total"] = draw(st.integers(amount.minor_units, MAX_MINOR_UNITS))
    return CaseEventDocument(
        **base,  # type: ignore[arg-type]
        event_number=draw(st.integers(2, 2**31 - 1)),
        status_after=status,
        previous_event=draw(_ids),
        **extra,  # type: ignore[arg-type]
    )


@settings(max_examples=300)
@given(documents())
def test_random_documents_round_trip(doc: CaseEventDocument) -> None:
    der = encode_case_event(doc)
    assert decode_case_event(der) == doc
    assert len(der) <= MAX_DOCUMENT_BYTES


@settings(max_examples=300)
@given(documents(), st.data())
def test_any_changed_byte_is_refused_or_is_another_canonical_document(
    doc: CaseEventDocument, data: st.DataObject
) -> None:
    """Strictness: whatever one byte becomes, the decoder either refuses with
    CaseEventError or reads a document whose encoding is exactly those bytes."""
    der = bytearray(encode_case_event(doc))
    i = data.draw(st.integers(0, len(der) - 1))
    der[i] = data.draw(st.integers(0, 255).filter(lambda b: b != der[i]))
    try:
        other = decode_case_event(bytes(der))
    except CaseEventError:
        return
    assert encode_case_event(other) == bytes(der)
    assert other != doc


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_case_event_error(data: bytes) -> None:
    try:
        doc = decode_case_event(data)
    except CaseEventError:
        return
    assert encode_case_event(doc) == data  # pragma: no cover - astronomically unlikely


def test_the_largest_filing_fits_and_longer_input_is_refused_before_parsing() -> None:
    big = replace(FILING, relied_on=tuple(f"{i:064d}" for i in range(MAX_RELIED_ON)))
    der = encode_case_event(big)
    assert len(der) <= MAX_DOCUMENT_BYTES
    assert decode_case_event(der) == big
    hostile = b"\x30\x84" + (10**8).to_bytes(4, "big") + bytes(MAX_DOCUMENT_BYTES)
    start = time.perf_counter()
    with pytest.raises(CaseEventError, match="at most"):
        decode_case_event(hostile)
    assert time.perf_counter() - start < 0.05
    with pytest.raises(CaseEventError, match="more than 1000"):
        decode_case_event(_with_relied_on(MAX_RELIED_ON + 1))


def _with_relied_on(n: int) -> bytes:
    """A filing naming ``n`` entries (built by hand: the encoder refuses n > 1000)."""
    der = encode_case_event(replace(FILING, relied_on=("e1",)))
    relied = tlv(0xA2, b"".join(tlv(0x0C, f"e{i}".encode()) for i in range(n)))
    body = der[2:-6] + relied  # drop the outer header and the one-entry [2]
    return tlv(0x30, body)


def test_deeply_nested_or_truncated_input_is_refused() -> None:
    nested = b"\x30\x80" * 1000
    for data in (b"", b"\x30", nested, encode_case_event(FILING)[:-1]):
        with pytest.raises(CaseEventError):
            decode_case_event(data)
    with pytest.raises(CaseEventError, match="nothing after"):
        decode_case_event(encode_case_event(FILING) + b"\x00")


def test_non_canonical_encodings_are_refused() -> None:
    der = encode_case_event(FILING)
    long_form = b"\x30\x81" + der[1:]  # the same contents with a non-minimal length
    with pytest.raises(CaseEventError):
        decode_case_event(long_form)
    other_format = der.replace(b"court-evidence/v1/case-event", b"court-evidence/v2/case-event")
    with pytest.raises(CaseEventError, match="format"):
        decode_case_event(other_format)
    # The optional fields in another order than their tags'.
    swapped = encode_case_event(RECOVERED)
    amount_at = swapped.index(b"\xa5")
    total_at = swapped.index(b"\x86", amount_at)
    reordered = swapped[:amount_at] + swapped[total_at:] + swapped[amount_at:total_at]
    with pytest.raises(CaseEventError, match="unexpected element"):
        decode_case_event(reordered)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status_after": CaseStatus.ACCEPTED}, "status_after"),
        ({"event_number": 2}, "event_number"),
        ({"event_number": 0}, "event_number"),
        ({"previous_event": "e0"}, "previous_event"),
        ({"relied_on": ("e1", "e1")}, "relied_on"),
        ({"relied_on": ()}, "relied_on"),
        ({"relied_on": ("not an id",)}, "relied_on"),
        ({"claim": Money("cny", 1)}, "claim.currency"),
        ({"claim": Money("CNY", 0)}, "claim.minor_units"),
        ({"claim": Money("CNY", MAX_MINOR_UNITS + 1)}, "claim.minor_units"),
        ({"claim": None}, "claim"),
        ({"case_number": "(2026)1号"}, "case_number"),
        ({"reason": CaseReason.OTHER}, "reason"),
        ({"amount": Money("CNY", 1)}, "amount"),
        ({"lender": "bank a"}, "lender"),
        ({"loan_ref": "张三"}, "loan_ref"),
        ({"case_id": ""}, "case_id"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),  # naive on purpose
        ({"event": "filed"}, "event"),
    ],
)
def test_each_rule_of_a_filing_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(CaseEventError) as info:
        encode_case_event(replace(FILING, **changes))  # type: ignore[arg-type]
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize(
    ("base", "changes", "field"),
    [
        (RECOVERED, {"status_after": CaseStatus.ACCEPTED}, "status_after"),
        (RECOVERED, {"recovered_total": 499}, "recovered_total"),
        (RECOVERED, {"recovered_total": None}, "recovered_total"),
        (RECOVERED, {"amount": None}, "amount"),
        (RECOVERED, {"previous_event": None}, "previous_event"),
        (RECOVERED, {"body_kind": BodyKind.ARBITRATION}, "body_kind"),
        (RECOVERED, {"reason": CaseReason.OTHER}, "reason"),
        (RECOVERED, {"relied_on": ("e1",)}, "relied_on"),
        (
            _valid_event(CaseEventType.AWARD, BodyKind.ARBITRATION, CaseStatus.ACCEPTED),
            {"body_kind": BodyKind.COURT},
            "body_kind",
        ),
        (
            _valid_event(CaseEventType.ACCEPTED, BodyKind.COURT, CaseStatus.FILED),
            {"case_number": None},
            "case_number",
        ),
        (
            _valid_event(CaseEventType.ACCEPTED, BodyKind.COURT, CaseStatus.FILED),
            {"case_number": "line\nbreak"},
            "case_number",
        ),
        (
            _valid_event(CaseEventType.ACCEPTED, BodyKind.COURT, CaseStatus.FILED),
            {"case_number": " padded"},
            "case_number",
        ),
        (
            _valid_event(CaseEventType.TERMINATED, BodyKind.COURT, CaseStatus.ACCEPTED),
            {"reason": CaseReason.NO_JURISDICTION},
            "reason",
        ),
        (
            _valid_event(CaseEventType.REJECTED, BodyKind.COURT, CaseStatus.FILED),
            {"reason": None},
            "reason",
        ),
        (
            _valid_event(CaseEventType.SETTLED, BodyKind.COURT, CaseStatus.FILED),
            {"case_number": "(2026)1号"},
            "case_number",
        ),
    ],
)
def test_each_rule_of_a_later_event_names_its_field(
    base: CaseEventDocument, changes: dict[str, object], field: str
) -> None:
    encode_case_event(base)  # the base itself is valid
    with pytest.raises(CaseEventError) as info:
        encode_case_event(replace(base, **changes))  # type: ignore[arg-type]
    assert info.value.field == field, str(info.value)


def test_messages_never_repeat_the_value() -> None:
    secret = "张三110101199003077777"
    for changes in ({"loan_ref": secret}, {"lender": secret}):
        with pytest.raises(CaseEventError) as info:
            encode_case_event(replace(FILING, **changes))  # type: ignore[arg-type]
        assert secret not in str(info.value)


def test_case_numbers_of_real_shape_pass_and_bad_ones_are_named() -> None:
    full_width = "\uff082025\uff09沪74执123号"  # full-width brackets
    for good in ("(2026)京0105民初12345号", full_width, "2026-ARB-0007", "A 1"):
        assert case_number_rule(good) is None, good
    assert case_number_rule("") is not None
    assert case_number_rule("x" * 65) is not None
    assert case_number_rule("号" * 64) is None  # 192 bytes
    assert case_number_rule("tab\there") is not None
    assert case_number_rule("zero\u200bwidth") is not None
    assert case_number_rule("trailing ") is not None

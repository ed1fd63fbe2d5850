"""One vocabulary of cases: the court's tables, the gateway's kinds and the API's enums agree
number for number."""

from __future__ import annotations

from enum import StrEnum

import pytest

from court.evidence.case_terms import (
    BODY_KIND_NUMBERS,
    EVENT_KINDS,
    EVENT_NUMBERS,
    EVENT_RULES,
    REASON_NUMBERS,
    STATUS_NUMBERS,
    TERMINAL_STATUSES,
    CaseEventType,
    CaseStatus,
)
from court.evidence.leaf import KIND_NUMBERS
from evidence_gateway.v1 import case_service_pb2, common_pb2
from gateway.cases.machine import BODY_ROLES, UPDATE_EVENTS
from gateway.model import CASE_KINDS, GATEWAY_KINDS, EvidenceKind


@pytest.mark.parametrize(
    ("table", "enum", "prefix"),
    [
        (STATUS_NUMBERS, case_service_pb2.CaseStatus, "CASE_STATUS_"),
        (EVENT_NUMBERS, case_service_pb2.CaseEventType, "CASE_EVENT_TYPE_"),
        (REASON_NUMBERS, case_service_pb2.CaseReason, "CASE_REASON_"),
        (BODY_KIND_NUMBERS, case_service_pb2.BodyKind, "BODY_KIND_"),
    ],
)
def test_the_court_tables_are_the_api_enums(
    table: dict[StrEnum, int], enum: object, prefix: str
) -> None:
    api = {
        name.removeprefix(prefix).lower(): number
        for name, number in enum.items()  # type: ignore[attr-defined]
        if number
    }
    assert {member.value: number for member, number in table.items()} == api


def test_each_event_has_its_evidence_kind_in_every_table() -> None:
    assert set(EVENT_KINDS.values()) == {k.value for k in CASE_KINDS}
    numbers = sorted(KIND_NUMBERS[kind] for kind in EVENT_KINDS.values())
    assert numbers == list(range(17, 30))
    for event, kind in EVENT_KINDS.items():
        assert common_pb2.EvidenceKind.Value("EVIDENCE_KIND_" + kind.upper()) == KIND_NUMBERS[kind]
        assert EvidenceKind(kind) in GATEWAY_KINDS, event  # never submitted by a client
    assert {k.value for k in EvidenceKind} == set(KIND_NUMBERS)


def test_the_table_is_consistent() -> None:
    assert EVENT_RULES.keys() == set(CaseEventType)
    assert {r.to_status for r in EVENT_RULES.values()} - {None} == set(CaseStatus)
    for event, rule in EVENT_RULES.items():
        assert not rule.from_statuses & TERMINAL_STATUSES, event
        if rule.to_status is None:  # stays: only where it may happen again
            assert rule.from_statuses
    assert set(BODY_ROLES) == set(BODY_KIND_NUMBERS)
    assert CaseEventType.FILED not in UPDATE_EVENTS

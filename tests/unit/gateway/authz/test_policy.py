"""The authorization table and the object rules, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.authz.policy import (
    POLICY,
    Delegation,
    ReadScope,
    Rule,
    ScopeKind,
    decide,
    read_scope,
    submit_denial,
)
from gateway.authz.roles import Caller, Role
from gateway.model import EvidenceKind

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LENDER = Caller("bank-a", Role.LENDER)
AGENCY = Caller("agency-1", Role.COLLECTOR)
SUBMIT = "/evidence_gateway.v1.EvidenceService/SubmitEvidence"


def test_a_role_the_table_does_not_list_is_denied_with_the_reason() -> None:
    decision = decide(SUBMIT, Role.COURT)
    assert not decision.allowed and decision.rule is None
    assert decision.reason == "role court may not call it (only collector, lender)"
    assert decide(SUBMIT, Role.LENDER).rule is Rule.SUBMIT_OWN
    assert decide(SUBMIT, Role.COLLECTOR).rule is Rule.SUBMIT_DELEGATED


def test_an_rpc_missing_from_the_table_is_denied_to_every_role() -> None:
    for role in Role:
        decision = decide("/evidence_gateway.v1.EvidenceService/DeleteEvidence", role)
        assert not decision.allowed
        assert "no entry in the authorization table" in decision.reason


def test_the_public_log_is_every_role_s_and_statistics_the_regulator_s() -> None:
    for method, rules in POLICY.items():
        if "/evidence_gateway.v1.LogService/" in method:
            assert dict(rules) == {role: Rule.PUBLIC_LOG for role in Role}, method
    assert dict(POLICY["/evidence_gateway.v1.AccessService/GetStatistics"]) == {
        Role.REGULATOR: Rule.STATISTICS
    }


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        (Role.LENDER, ScopeKind.OWNER),
        (Role.COLLECTOR, ScopeKind.SUBMITTER),
        (Role.COURT, ScopeKind.SHARED),
        (Role.ARBITRATION, ScopeKind.SHARED),
        (Role.REGULATOR, ScopeKind.NOTHING),
        (Role.ADMIN, ScopeKind.OPERATOR_RECORDS),
    ],
)
def test_read_scope_of_each_role(role: Role, kind: ScopeKind) -> None:
    assert read_scope(Caller("x", role), NOW) == ReadScope(kind, "x", NOW)


def test_a_lender_records_its_own_loans_only() -> None:
    repayment = EvidenceKind.REPAYMENT
    assert submit_denial(LENDER, "bank-a", "L-1", repayment, [], NOW) is None
    reason = submit_denial(LENDER, "bank-b", "L-1", repayment, [], NOW)
    assert reason is not None and "its own loans only" in reason
    grant = submit_denial(LENDER, "bank-a", "L-1", EvidenceKind.LOAN_SHARED, [], NOW)
    assert grant is not None and "recorded by the gateway itself" in grant


def test_a_collector_records_collection_kinds_of_delegated_loans_until_the_expiry() -> None:
    call = EvidenceKind.COLLECTION_CALL
    one = Delegation("bank-a", "agency-1", "L-1", NOW + timedelta(days=1))
    every = Delegation("bank-a", "agency-1", None, NOW + timedelta(days=1))
    assert submit_denial(AGENCY, "bank-a", "L-1", call, [one], NOW) is None
    assert submit_denial(AGENCY, "bank-a", "L-2", call, [every], NOW) is None
    for kind in (EvidenceKind.REPAYMENT, EvidenceKind.LOAN_CONTRACT):
        reason = submit_denial(AGENCY, "bank-a", "L-1", kind, [one], NOW)
        assert reason is not None and "collection kinds only" in reason
    not_covered = [
        submit_denial(AGENCY, "bank-a", "L-2", call, [one], NOW),  # another loan
        submit_denial(AGENCY, "bank-b", "L-1", call, [one], NOW),  # another lender
        submit_denial(AGENCY, "bank-a", "L-1", call, [one], NOW + timedelta(days=1)),  # expired
        submit_denial(  # delegated to another agency
            AGENCY, "bank-a", "L-1", call, [Delegation("bank-a", "agency-2", None, NOW)], NOW
        ),
    ]
    assert all(r is not None and r.startswith("no delegation in force") for r in not_covered)
    own = submit_denial(AGENCY, "agency-1", "L-1", call, [one], NOW)
    # Says what to put in owner (an empty owner means the agency itself).
    assert own == (
        "a collection agency records evidence for a lender's loan: set owner to the"
        " institution id of the lender that delegated the loan"
    )


@pytest.mark.parametrize("role", [Role.COURT, Role.ARBITRATION, Role.REGULATOR, Role.ADMIN])
def test_other_roles_record_nothing(role: Role) -> None:
    reason = submit_denial(Caller("x", role), "x", "L-1", EvidenceKind.OTHER, [], NOW)
    assert reason == f"role {role.value} records no evidence"

"""The object rules over real gRPC: whose records each role reads and writes.

Attack tests: each names the exact status, and a record the caller may not read
is answered byte for byte as a record that does not exist.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.api.errors import shown as escaped
from gateway.authz.roles import Role
from tests.support.grpc_client import error_fields, submission, timestamp
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import delegate, share, submit, who

CALL = common_pb2.EVIDENCE_KIND_COLLECTION_CALL
SHA256 = common_pb2.HASH_ALGORITHM_SHA256


def get(h: Harness, entry_id: str, role: Role, institution: str = "") -> ev.GetEvidenceResponse:
    return h.evidence.GetEvidence(
        ev.GetEvidenceRequest(entry_id=entry_id), metadata=who(role, institution or None)
    )


def error(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value


def listed(
    h: Harness, loan: str, role: Role, institution: str = "", owner: str = "bank-a"
) -> list[str]:
    response = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=loan, institution=owner),
        metadata=who(role, institution or None),
    )
    return [r.receipt.entry_id for r in response.records]


def find(
    h: Harness, digest: bytes, role: Role, institution: str = "", **kw: object
) -> ev.FindEvidenceResponse:
    return h.evidence.FindEvidence(
        ev.FindEvidenceRequest(hash_algorithm=SHA256, digest=digest, **kw),  # type: ignore[arg-type]
        metadata=who(role, institution or None),
    )


def verify(h: Harness, institution: str, **kw: object) -> vf.VerifyEvidenceResponse:
    return h.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(**kw),  # type: ignore[arg-type]
        metadata=who(Role.LENDER, institution),
    )


# ------------------------------------------------------------------ no probing


def test_lender_b_learns_nothing_of_lender_a_s_record(harness: Harness) -> None:
    """By id, by digest, through list paging, through VerifyEvidence and supersedes:
    every answer to bank-b is the answer for a record that does not exist."""
    h = harness
    data = b"bank-a's loan contract"
    digest = hashlib.sha256(data).digest()
    record = submit(h, submission("L-1", data=data), Role.LENDER, "bank-a")
    missing_id = "a" * len(record.entry_id)
    unknown = hashlib.sha256(b"no such document").digest()

    # GetEvidence: same code, same message (but for the id asked about)
    theirs = error(lambda: get(h, record.entry_id, Role.LENDER, "bank-b"))
    nothing = error(lambda: get(h, missing_id, Role.LENDER, "bank-b"))
    assert theirs.code() is nothing.code() is grpc.StatusCode.NOT_FOUND
    assert theirs.details() == nothing.details().replace(missing_id, record.entry_id)  # type: ignore[union-attr]
    # FindEvidence and ListEvidence: empty, as for an unknown digest or loan
    assert find(h, digest, Role.LENDER, "bank-b") == find(h, unknown, Role.LENDER, "bank-b")
    assert find(h, digest, Role.LENDER, "bank-b").records == []
    assert (
        listed(h, "L-1", Role.LENDER, "bank-b") == listed(h, "L-none", Role.LENDER, "bank-b") == []
    )
    # VerifyEvidence: the very same answer as for a missing record, by id, digest, receipt
    by_id = verify(h, "bank-b", entry_id=record.entry_id)
    assert by_id == verify(h, "bank-b", entry_id=missing_id)
    assert by_id.verdict == vf.VERDICT_NOT_FOUND
    by_digest = verify(h, "bank-b", digest=vf.Digest(hash_algorithm=SHA256, value=digest))
    assert by_digest == verify(h, "bank-b", digest=vf.Digest(hash_algorithm=SHA256, value=unknown))
    assert by_digest.verdict == vf.VERDICT_NOT_FOUND
    with_receipt = verify(
        h, "bank-b", digest=vf.Digest(hash_algorithm=SHA256, value=digest), receipt=record
    )
    assert with_receipt.verdict == vf.VERDICT_NOT_FOUND and not with_receipt.HasField("record")
    # supersedes naming bank-a's entry: refused as one naming no entry
    named = error(
        lambda: submit(h, submission("L-1", supersedes=record.entry_id), Role.LENDER, "bank-b")
    )
    none = error(lambda: submit(h, submission("L-1", supersedes=missing_id), Role.LENDER, "bank-b"))
    assert named.code() is none.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert named.details() == none.details()
    # bank-a itself sees it all
    assert get(h, record.entry_id, Role.LENDER, "bank-a").record.receipt == record
    assert verify(h, "bank-a", entry_id=record.entry_id).verdict == vf.VERDICT_VALID


def test_pages_hold_only_the_callers_records_and_stay_full(harness: Harness) -> None:
    h = harness
    data = b"a collection SMS template"
    digest = hashlib.sha256(data).digest()
    owners = ["bank-a", "bank-b", "bank-a", "bank-a", "bank-b", "bank-a", "bank-b"]
    ids = {"bank-a": [], "bank-b": []}  # type: dict[str, list[str]]
    for n, bank in enumerate(owners):
        ids[bank].append(submit(h, submission(f"L-{n}", data=data), Role.LENDER, bank).entry_id)
    for bank in ("bank-a", "bank-b"):
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            page = find(h, digest, Role.LENDER, bank, page_size=2, page_token=token)
            seen += [r.receipt.entry_id for r in page.records]
            pages += 1
            assert len(page.records) == 2 or not page.next_page_token  # full pages
            token = page.next_page_token
            if not token:
                break
        assert seen == ids[bank]
        assert pages == (len(ids[bank]) + 1) // 2


def test_a_lender_records_only_its_own_loans(harness: Harness) -> None:
    other = error(lambda: submit(harness, submission("L-1", owner="bank-b"), Role.LENDER, "bank-a"))
    assert other.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "its own loans only" in (other.details() or "")
    ok = submit(harness, submission("L-1", owner="bank-a"), Role.LENDER, "bank-a")
    assert get(harness, ok.entry_id, Role.LENDER, "bank-a").record.submission.owner == "bank-a"


# ------------------------------------------------------------------ collection agencies


def test_a_collector_writes_collection_kinds_for_delegated_loans_only(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.WARNING, logger="gateway.api.evidence")
    call = submission("L-1", kind=CALL, owner="bank-a")
    before = error(lambda: submit(h, call, Role.COLLECTOR))
    assert before.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "no delegation in force from bank-a" in (before.details() or "")
    delegate(h, ["L-1"])
    written = submit(h, call, Role.COLLECTOR)
    assert written.loan_sequence == 2  # after the delegation record, in bank-a's chain
    repayment = submission("L-1", owner="bank-a")
    assert error(lambda: submit(h, repayment, Role.COLLECTOR)).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    denied = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied:")]
    assert denied[-1].startswith(
        "denied: caller agency-1 (role collector) called SubmitEvidence: "
        "a collection agency records collection kinds only ("
    )
    assert denied[-1].endswith("not repayment")
    not_delegated = submission("L-2", kind=CALL, owner="bank-a")
    assert error(lambda: submit(h, not_delegated, Role.COLLECTOR)).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    # In a batch, each item is judged alone.
    batch = h.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(
            submissions=[submission("L-1", kind=CALL, owner="bank-a"), not_delegated]
        ),
        metadata=who(Role.COLLECTOR),
    )
    assert batch.results[0].HasField("receipt")
    assert batch.results[1].error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]


def test_a_collector_reads_only_what_it_submitted(harness: Harness) -> None:
    h = harness
    lenders = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    delegate(h, ["L-1"])
    own = submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    assert get(h, own.entry_id, Role.COLLECTOR).record.institution == "agency-1"
    assert error(lambda: get(h, lenders.entry_id, Role.COLLECTOR)).code() is (
        grpc.StatusCode.NOT_FOUND
    )
    assert listed(h, "L-1", Role.COLLECTOR) == [own.entry_id]
    # the lender sees both, in chain order (with its delegation record between them)
    assert listed(h, "L-1", Role.LENDER)[0] == lenders.entry_id
    assert listed(h, "L-1", Role.LENDER)[-1] == own.entry_id


def test_a_collector_after_its_delegation_expired_or_was_revoked(harness: Harness) -> None:
    h = harness
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    delegate(h, ["L-1"], expires_at=timestamp(expires))
    delegate(h, [], collector="agency-2")  # all loans
    assert submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR).entry_id
    assert submit(h, submission("L-7", kind=CALL, owner="bank-a"), Role.COLLECTOR, "agency-2")
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    expired = error(lambda: submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR))
    assert expired.code() is grpc.StatusCode.PERMISSION_DENIED
    h.access.RevokeDelegation(
        ac.RevokeDelegationRequest(
            request_id="r-1", collector="agency-2", loans=ac.LoanSelection(all_loans=True)
        ),
        metadata=who(Role.LENDER),
    )
    revoked = error(
        lambda: submit(h, submission("L-7", kind=CALL, owner="bank-a"), Role.COLLECTOR, "agency-2")
    )
    assert revoked.code() is grpc.StatusCode.PERMISSION_DENIED


# ------------------------------------------------------------------ courts


def test_a_court_reads_only_loans_shared_with_it(harness: Harness) -> None:
    h = harness
    delegate(h, ["L-1"])
    a = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    b = submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    other = submit(h, submission("L-2"), Role.LENDER, "bank-a")
    assert error(lambda: get(h, a.entry_id, Role.COURT)).code() is grpc.StatusCode.NOT_FOUND
    assert listed(h, "L-1", Role.COURT) == []
    share(h, ["L-1"])
    seen = listed(h, "L-1", Role.COURT)
    assert a.entry_id in seen and b.entry_id in seen  # every record of the shared loan
    assert listed(h, "L-1", Role.COURT, "court-2") == []  # shared with court-1 only
    assert error(lambda: get(h, other.entry_id, Role.COURT)).code() is grpc.StatusCode.NOT_FOUND
    assert get(h, b.entry_id, Role.COURT).record.receipt == b
    h.access.RevokeShare(
        ac.RevokeShareRequest(
            request_id="rs", grantee="court-1", loans=ac.LoanSelection(loan_refs=["L-1"])
        ),
        metadata=who(Role.LENDER),
    )
    assert listed(h, "L-1", Role.COURT) == []
    assert error(lambda: get(h, a.entry_id, Role.COURT)).code() is grpc.StatusCode.NOT_FOUND


def test_a_share_ends_at_its_expiry(harness: Harness) -> None:
    h = harness
    a = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    share(h, ["L-1"], "arb-1", expires_at=timestamp(expires))
    assert get(h, a.entry_id, Role.ARBITRATION).record.receipt == a
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    assert error(lambda: get(h, a.entry_id, Role.ARBITRATION)).code() is grpc.StatusCode.NOT_FOUND


def test_a_lender_cannot_share_another_lender_s_loan(harness: Harness) -> None:
    h = harness
    a = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    share(h, ["L-1"], lender="bank-b")  # bank-b's loan L-1, not bank-a's
    assert error(lambda: get(h, a.entry_id, Role.COURT)).code() is grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------ regulators


def test_a_regulator_reads_counts_not_records(harness: Harness) -> None:
    h = harness
    delegate(h, ["L-1"])  # itself a record: bank-a, loan_delegated
    first = submit(h, submission("L-1"), Role.LENDER, "bank-a")
    submit(h, submission("L-2"), Role.LENDER, "bank-a")
    submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    response = h.access.GetStatistics(
        ac.GetStatisticsRequest(from_day=today, to_day=today), metadata=who(Role.REGULATOR)
    )
    counts = {(c.day, c.institution, c.kind): c.count for c in response.counts}
    assert counts == {
        (today, "agency-1", CALL): 1,
        (today, "bank-a", common_pb2.EVIDENCE_KIND_LOAN_DELEGATED): 1,
        (today, "bank-a", common_pb2.EVIDENCE_KIND_REPAYMENT): 2,
    }
    assert "L-1" not in str(response)
    denied = error(lambda: get(h, first.entry_id, Role.REGULATOR))
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
    bad = error(
        lambda: h.access.GetStatistics(
            ac.GetStatisticsRequest(from_day="2026-01-01", to_day="2027-06-01"),
            metadata=who(Role.REGULATOR),
        )
    )
    assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT and "to_day" in (bad.details() or "")


def test_statistics_come_in_pages_of_at_most_page_size(harness: Harness) -> None:
    h = harness
    for n in range(5):
        submit(h, submission("L-1"), Role.LENDER, f"bank-{n}")
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    def page(size: int, token: str = "", to_day: str = today) -> ac.GetStatisticsResponse:
        request = ac.GetStatisticsRequest(
            from_day=today, to_day=to_day, page_size=size, page_token=token
        )
        return h.access.GetStatistics(request, metadata=who(Role.REGULATOR))

    whole = page(0)  # 0: the default page size, 100
    assert [c.institution for c in whole.counts] == [f"bank-{n}" for n in range(5)]
    assert whole.next_page_token == ""
    seen, token, sizes = [], "", []
    while True:
        got = page(2, token)
        sizes.append(len(got.counts))
        seen += list(got.counts)
        token = got.next_page_token
        if not token:
            break
    assert sizes == [2, 2, 1] and seen == list(whole.counts)
    first = page(2)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    for call, field in (
        (lambda: page(-1), "page_size"),
        (lambda: page(2, "%%%"), "page_token"),
        (lambda: page(2, "QUFB" * 200), "page_token"),
        (lambda: page(2, first.next_page_token, to_day=tomorrow), "page_token"),  # other query
    ):
        bad = error(call)
        assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_fields(bad) == [field]


@pytest.mark.parametrize(
    "day", ["2026-1-1", "2026-12-1", "\uff12\uff10\uff12\uff16-12-01", "20261201"]
)
def test_statistics_days_are_exactly_yyyy_mm_dd(harness: Harness, day: str) -> None:
    bad = error(
        lambda: harness.access.GetStatistics(
            ac.GetStatisticsRequest(from_day=day, to_day="2026-12-31"),
            metadata=who(Role.REGULATOR),
        )
    )
    assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert bad.details() == f'from_day: must be a UTC date as YYYY-MM-DD, got "{escaped(day)}"'


def test_statistics_errors_echo_the_value_escaped_and_bounded(harness: Harness) -> None:
    day = "2026-01-01\x1b[31m" + "9" * 500
    bad = error(
        lambda: harness.access.GetStatistics(
            ac.GetStatisticsRequest(from_day=day, to_day="2026-12-31"),
            metadata=who(Role.REGULATOR),
        )
    )
    details = bad.details() or ""
    assert details.startswith(
        'from_day: must be a UTC date as YYYY-MM-DD, got "2026-01-01\\x1b[31m'
    )
    assert "\x1b" not in details and len(details) < 120, details
    assert "digits hidden]..." in details, details
    reversed_days = error(
        lambda: harness.access.GetStatistics(
            ac.GetStatisticsRequest(from_day="2026-02-01", to_day="2026-01-01"),
            metadata=who(Role.REGULATOR),
        )
    )
    assert reversed_days.details() == (
        "to_day: must not be before from_day (2026-02-01); 2026-01-01 is before"
    )


def test_corrections_are_listed_only_to_those_who_may_read_them(harness: Harness) -> None:
    h = harness
    delegate(h, ["L-1"])
    agency = submit(h, submission("L-1", kind=CALL, owner="bank-a"), Role.COLLECTOR)
    fix = submit(h, submission("L-1", supersedes=agency.entry_id), Role.LENDER, "bank-a")
    assert list(get(h, agency.entry_id, Role.LENDER, "bank-a").record.superseded_by) == [
        fix.entry_id
    ]
    # The agency reads its record, but not the lender's correction, nor that one exists.
    assert list(get(h, agency.entry_id, Role.COLLECTOR).record.superseded_by) == []


def test_a_loan_s_revocation_never_leaves_the_agency_writing_it(harness: Harness) -> None:
    """A delegation of all loans cannot be revoked for one loan: the log would say
    "delegation revoked" for that loan while the agency, under the delegation of all
    loans, went on writing it. The revocation is refused and nothing is recorded."""
    h = harness
    delegate(h, [])  # all of bank-a's loans to agency-1
    before = listed(h, "L-1", Role.LENDER, "bank-a")
    refused = error(
        lambda: h.access.RevokeDelegation(
            ac.RevokeDelegationRequest(
                request_id="r-one", collector="agency-1", loans=ac.LoanSelection(loan_refs=["L-1"])
            ),
            metadata=who(Role.LENDER),
        )
    )
    assert refused.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "all_loans" in (refused.details() or "")
    assert listed(h, "L-1", Role.LENDER, "bank-a") == before  # no revocation record
    # A loan delegated by name is revoked by name, the delegation of all loans aside.
    delegate(h, ["L-2"], collector="agency-2")
    h.access.RevokeDelegation(
        ac.RevokeDelegationRequest(
            request_id="r-two", collector="agency-2", loans=ac.LoanSelection(loan_refs=["L-2"])
        ),
        metadata=who(Role.LENDER),
    )
    revoked = error(
        lambda: submit(h, submission("L-2", kind=CALL, owner="bank-a"), Role.COLLECTOR, "agency-2")
    )
    assert revoked.code() is grpc.StatusCode.PERMISSION_DENIED

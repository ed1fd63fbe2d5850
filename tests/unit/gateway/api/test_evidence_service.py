"""EvidenceService over real gRPC, on the real ledger (SQLite, in-process TSA)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_inclusion
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.api.caller import set_current_caller
from gateway.api.evidence import EvidenceServicer
from gateway.authz.roles import Caller, Role
from gateway.errors import ResourceExhausted
from tests.support.grpc_client import error_fields, rich_status, submission
from tests.unit.gateway.api.conftest import Harness


def submit(h: Harness, s: common_pb2.EvidenceSubmission, institution: str | None = None):
    metadata = (("x-institution", institution),) if institution else None
    return h.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s), metadata=metadata)


def test_submit_returns_a_complete_receipt(harness: Harness) -> None:
    s = submission(metadata={"channel": "sms"})
    receipt = submit(harness, s).receipt
    assert receipt.leaf_index == 0
    assert receipt.loan_sequence == 1 and receipt.previous_leaf_hash == b""
    assert receipt.checkpoint.size == 1 and receipt.inclusion_proof.tree_size == 1
    cp = verify_checkpoint(receipt.checkpoint.signed_note, harness.vkey)
    assert (cp.origin, cp.size, cp.root_hash) == (
        receipt.checkpoint.origin,
        receipt.checkpoint.size,
        receipt.checkpoint.root_hash,
    )
    verify_inclusion(
        receipt.leaf_index,
        cp.size,
        leaf_hash(receipt.leaf),
        list(receipt.inclusion_proof.hashes),
        cp.root_hash,
    )
    record = harness.ledger.get(receipt.entry_id)
    assert record.submission.institution == "dev-bank"
    assert record.submission.metadata == (("channel", "sms"),)
    assert record.submission.digest == s.digest


def test_second_record_of_a_loan_chains_to_the_first(harness: Harness) -> None:
    first = submit(harness, submission("loan-7")).receipt
    submit(harness, submission("other-loan"))
    second = submit(harness, submission("loan-7")).receipt
    assert second.loan_sequence == 2
    assert second.previous_leaf_hash == leaf_hash(first.leaf)
    assert second.leaf_index == 2


def test_x_institution_header_names_the_caller(harness: Harness) -> None:
    receipt = submit(harness, submission(), institution="bank-b").receipt
    assert harness.ledger.get(receipt.entry_id).submission.institution == "bank-b"


def test_malformed_x_institution_is_unauthenticated(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, submission(), institution="bank b")
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert harness.ledger.size == 0


def test_idempotent_resubmission_returns_the_original_receipt(harness: Harness) -> None:
    s = submission()
    first = submit(harness, s).receipt
    again = submit(harness, s).receipt
    assert again == first
    assert harness.ledger.size == 1


def test_request_id_reused_with_other_content_is_already_exists(harness: Harness) -> None:
    s = submission()
    submit(harness, s)
    changed = common_pb2.EvidenceSubmission()
    changed.CopyFrom(s)
    changed.loan_ref = "another-loan"
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, changed)
    assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert rich_status(info.value).code == code_pb2.ALREADY_EXISTS


def _bad(**changes: object) -> common_pb2.EvidenceSubmission:
    s = submission()
    for name, value in changes.items():
        if name == "occurred_at":
            s.ClearField("occurred_at")
            if value is not None:
                s.occurred_at.CopyFrom(value)  # type: ignore[arg-type]
        elif name == "metadata":
            s.metadata.update(value)  # type: ignore[call-overload]
        else:
            setattr(s, name, value)
    return s


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"request_id": ""}, "submission.request_id"),
        ({"request_id": "x" * 129}, "submission.request_id"),
        ({"request_id": "has space"}, "submission.request_id"),
        ({"loan_ref": ""}, "submission.loan_ref"),
        ({"loan_ref": "Zhang San"}, "submission.loan_ref"),
        ({"kind": common_pb2.EVIDENCE_KIND_UNSPECIFIED}, "submission.kind"),
        ({"kind": 99}, "submission.kind"),
        ({"hash_algorithm": common_pb2.HASH_ALGORITHM_UNSPECIFIED}, "submission.hash_algorithm"),
        ({"hash_algorithm": common_pb2.HASH_ALGORITHM_SHA384}, "submission.digest"),
        ({"digest": b"\x01" * 31}, "submission.digest"),
        ({"digest": b""}, "submission.digest"),
        ({"occurred_at": None}, "submission.occurred_at"),
        ({"metadata": {"Bad Key": "v"}}, "submission.metadata[Bad Key]"),
        ({"metadata": {"k": "v" * 257}}, "submission.metadata[k]"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "submission.metadata"),
        ({"supersedes": "not/an/id"}, "submission.supersedes"),
    ],
)
def test_bad_field_is_named_in_bad_request(
    harness: Harness, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, _bad(**changes))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_fields(info.value)
    assert harness.ledger.size == 0


def test_occurred_at_in_the_future_is_rejected(harness: Harness) -> None:
    s = submission(occurred_at=datetime.now(UTC) + timedelta(minutes=10))
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, s)
    assert error_fields(info.value) == ["submission.occurred_at"]


def test_every_bad_field_is_named_at_once(harness: Harness) -> None:
    s = _bad(request_id="", loan_ref="", kind=0, hash_algorithm=0, occurred_at=None)
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, s)
    fields = error_fields(info.value)
    assert set(fields) >= {
        "submission.request_id",
        "submission.loan_ref",
        "submission.kind",
        "submission.hash_algorithm",
        "submission.occurred_at",
    }
    # The digest is 32 bytes: without an algorithm it cannot be judged, so it is not named.
    assert "submission.digest" not in fields


def test_missing_submission_is_named(harness: Harness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest())
    assert error_fields(info.value) == ["submission"]


def test_supersedes_must_name_an_entry_of_the_same_loan(harness: Harness) -> None:
    original = submit(harness, submission("loan-1")).receipt
    with pytest.raises(grpc.RpcError) as info:
        submit(harness, submission("loan-2", supersedes=original.entry_id))
    assert error_fields(info.value) == ["submission.supersedes"]
    correction = submit(harness, submission("loan-1", supersedes=original.entry_id)).receipt
    got = harness.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=original.entry_id))
    assert list(got.record.superseded_by) == [correction.entry_id]
    fixed = harness.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=correction.entry_id))
    assert fixed.record.submission.supersedes == original.entry_id


def test_resource_exhausted_and_unavailable_carry_retry_info(harness: Harness) -> None:
    def fails(code: grpc.StatusCode, message: str) -> None:
        with pytest.raises(grpc.RpcError) as info:
            submit(harness, submission())
        assert info.value.code() is code
        assert message in info.value.details()
        status = rich_status(info.value)
        assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)

    harness.ledger.refuse = lambda _: ResourceExhausted("queue full")
    fails(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full")
    harness.ledger.refuse = None
    harness.store.down = True
    fails(grpc.StatusCode.UNAVAILABLE, "the store is unavailable")


# ------------------------------------------------------------------ batch


def test_batch_returns_a_result_per_item_in_order(harness: Harness) -> None:
    good1, good2 = submission("loan-b"), submission("loan-b")
    bad = submission("loan-b", digest=b"short")
    response = harness.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[good1, bad, good2])
    )
    results = list(response.results)
    assert [r.request_id for r in results] == [good1.request_id, bad.request_id, good2.request_id]
    assert [r.WhichOneof("result") for r in results] == ["receipt", "error", "receipt"]
    assert results[1].error.code == code_pb2.INVALID_ARGUMENT
    from gateway.api.errors import violations_of

    assert [f for f, _ in violations_of(results[1].error)] == ["digest"]
    assert results[2].receipt.loan_sequence == results[0].receipt.loan_sequence + 1
    # One ledger call for the valid items: they share a commit.
    assert harness.ledger.submit_calls == [2]


def test_batch_of_1000_fits_and_1001_is_rejected(harness: Harness) -> None:
    items = [submission(f"loan-{i % 7}") for i in range(1000)]
    response = harness.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=items)
    )
    assert len(response.results) == 1000
    assert all(r.HasField("receipt") for r in response.results)
    assert response.ByteSize() > 1000 * 500
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[*items, submission()])
        )
    assert error_fields(info.value) == ["submissions"]
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.BatchSubmitEvidence(ev.BatchSubmitEvidenceRequest())
    assert error_fields(info.value) == ["submissions"]


def test_batch_per_item_already_exists_and_repeated_request_id(harness: Harness) -> None:
    s = submission()
    changed = common_pb2.EvidenceSubmission()
    changed.CopyFrom(s)
    changed.loan_ref = "x-loan"
    response = harness.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[s, s, changed])
    )
    a, b, c = response.results
    assert a.receipt == b.receipt
    assert c.error.code == code_pb2.ALREADY_EXISTS


def _copy(s: common_pb2.EvidenceSubmission, **changes: object) -> common_pb2.EvidenceSubmission:
    out = common_pb2.EvidenceSubmission()
    out.CopyFrom(s)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def test_batch_repeat_after_a_failed_first_is_judged_on_its_own(harness: Harness) -> None:
    # As separate calls in order: the first item fails (TSA down for its digest, or a
    # field the servicer refuses), so a repeat of its request_id is a new registration.
    down = submission("loan-r")
    harness.tsa.fail_next[down.digest] = 1
    other = _copy(down, digest=hashlib.sha256(b"other").digest())
    bad = submission("loan-r", digest=b"short")
    fixed = _copy(bad, digest=hashlib.sha256(b"fixed").digest())
    retried = submission("loan-r")
    harness.tsa.fail_next[retried.digest] = 1
    response = harness.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[down, other, bad, fixed, retried, retried])
    )
    r = list(response.results)
    assert [x.WhichOneof("result") for x in r] == [
        "error", "receipt", "error", "receipt", "error", "receipt"
    ]  # fmt: skip
    assert (r[0].error.code, r[2].error.code, r[4].error.code) == (
        code_pb2.UNAVAILABLE,
        code_pb2.INVALID_ARGUMENT,
        code_pb2.UNAVAILABLE,
    )
    assert [x.receipt.loan_sequence for x in (r[1], r[3], r[5])] == [1, 2, 3]
    assert harness.ledger.get(r[1].receipt.entry_id).submission.digest == other.digest
    assert harness.ledger.size == 3


def test_batch_repeat_after_a_refused_supersedes_is_judged_on_its_own(harness: Harness) -> None:
    elsewhere = submit(harness, submission("loan-x")).receipt
    refused = submission("loan-y", supersedes=elsewhere.entry_id)  # another loan's entry
    plain = _copy(refused, supersedes="")
    response = harness.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[refused, plain, plain, refused])
    )
    a, b, c, d = response.results
    assert a.error.code == code_pb2.INVALID_ARGUMENT
    assert b.receipt.loan_sequence == 1 and c.receipt == b.receipt
    assert d.error.code == code_pb2.ALREADY_EXISTS  # the request_id is now plain's


class _Context:
    """What the servicer uses of a call's context: no metadata (dev institution), and
    the stream's answers as written."""

    def __init__(self) -> None:
        self.written: list[ev.SubmitEvidenceStreamResponse] = []

    def invocation_metadata(self) -> tuple[()]:
        return ()

    async def write(self, response: ev.SubmitEvidenceStreamResponse) -> None:
        self.written.append(response)


def test_stream_repeats_inside_one_chunk_are_separate_submissions(harness: Harness) -> None:
    # The servicer on a stream we pace: the first message is alone in the ledger
    # (held at the TSA) while the next four are read, so they reach the ledger
    # as one chunk, i.e. one submit call.
    elsewhere = submit(harness, submission("loan-x")).receipt
    refused = submission("loan-z", supersedes=elsewhere.entry_id)  # another loan's entry
    plain = _copy(refused, supersedes="")
    changed = _copy(plain, loan_ref="loan-w")
    harness.tsa.gate.clear()
    harness.tsa.entered.clear()

    async def requests() -> AsyncIterator[ev.SubmitEvidenceStreamRequest]:
        yield ev.SubmitEvidenceStreamRequest(submission=submission("loan-c"))
        while not harness.tsa.entered.is_set():
            await asyncio.sleep(0.001)
        for s in (refused, plain, plain, changed):
            yield ev.SubmitEvidenceStreamRequest(submission=s)
        harness.tsa.gate.set()  # all four are read: the first finishes, the rest follow

    async def stream() -> list[ev.SubmitEvidenceStreamResponse]:
        servicer = EvidenceServicer(harness.ledger)
        set_current_caller(Caller("dev-bank", Role.LENDER))  # the interceptor's part
        context = _Context()
        await servicer.SubmitEvidenceStream(requests(), context)
        return context.written

    first, a, b, c, d = asyncio.run(stream())
    assert harness.ledger.submit_calls[-2:] == [1, 4]  # the premise: one chunk of four
    assert first.HasField("receipt")
    assert a.error.code == code_pb2.INVALID_ARGUMENT
    assert b.HasField("receipt") and c.receipt == b.receipt
    assert d.error.code == code_pb2.ALREADY_EXISTS
    assert harness.ledger.size == 3


def test_batch_queue_full_fails_the_whole_call(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(max_queue=2)
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[submission() for _ in range(3)])
        )
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert harness.ledger.size == 0


# ----------------------------------------------------------------- stream


def test_stream_answers_in_order_with_per_item_errors(harness: Harness) -> None:
    items = [submission("loan-s") for _ in range(50)]
    items[10] = submission("loan-s", digest=b"x")
    responses = list(
        harness.evidence.SubmitEvidenceStream(
            ev.SubmitEvidenceStreamRequest(submission=s) for s in items
        )
    )
    assert [r.request_id for r in responses] == [s.request_id for s in items]
    assert responses[10].error.code == code_pb2.INVALID_ARGUMENT
    from gateway.api.errors import violations_of

    assert [f for f, _ in violations_of(responses[10].error)] == ["digest"]
    sequences = [r.receipt.loan_sequence for r in responses if r.HasField("receipt")]
    assert sequences == list(range(1, 50))


def test_stream_waits_out_a_full_queue(harness: Harness) -> None:
    calls = {"n": 0}

    def full_three_times(_: object) -> ResourceExhausted | None:
        calls["n"] += 1
        return ResourceExhausted("queue full") if calls["n"] <= 3 else None

    harness.ledger.refuse = full_three_times
    responses = list(
        harness.evidence.SubmitEvidenceStream(
            iter([ev.SubmitEvidenceStreamRequest(submission=submission())])
        )
    )
    assert len(responses) == 1 and responses[0].HasField("receipt")
    assert calls["n"] == 4


def test_stream_ends_with_unavailable_when_a_dependency_is_down(harness: Harness) -> None:
    submit(harness, submission())
    harness.tsa.down = True
    call = harness.evidence.SubmitEvidenceStream(
        iter([ev.SubmitEvidenceStreamRequest(submission=submission())])
    )
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE


def test_stream_with_no_items_ends_ok(harness: Harness) -> None:
    assert list(harness.evidence.SubmitEvidenceStream(iter([]))) == []


def test_stream_client_can_pace_its_requests(harness: Harness) -> None:
    # A request generator that waits for each answer before sending the next one.
    answered = threading.Semaphore(0)
    items = [submission("loan-p") for _ in range(5)]

    def requests():  # type: ignore[no-untyped-def]
        for s in items:
            yield ev.SubmitEvidenceStreamRequest(submission=s)
            assert answered.acquire(timeout=5)

    got = []
    for response in harness.evidence.SubmitEvidenceStream(requests()):
        got.append(response.receipt.loan_sequence)
        answered.release()
    assert got == [1, 2, 3, 4, 5]


# ------------------------------------------------------------------- read


def test_get_evidence(harness: Harness) -> None:
    s = submission(metadata={"agency": "a-17"})
    receipt = submit(harness, s).receipt
    record = harness.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=receipt.entry_id)).record
    s.owner = "dev-bank"  # an empty owner is the submitter
    assert record.submission == s
    assert record.receipt == receipt
    assert record.institution == "dev-bank"
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="nope"))
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="bad id!"))
    assert error_fields(info.value) == ["entry_id"]


def test_find_evidence_paginates_in_log_order(harness: Harness) -> None:
    digest = hashlib.sha256(b"the contract").digest()
    ids = [
        submit(harness, submission(f"loan-{i}", digest=digest)).receipt.entry_id for i in range(5)
    ]
    submit(harness, submission("loan-x"))
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = harness.evidence.FindEvidence(
            ev.FindEvidenceRequest(
                hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
                digest=digest,
                page_size=2,
                page_token=token,
            )
        )
        pages += 1
        assert len(page.records) <= 2
        seen += [r.receipt.entry_id for r in page.records]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids and pages == 3
    empty = harness.evidence.FindEvidence(
        ev.FindEvidenceRequest(
            hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, digest=hashlib.sha256(b"?").digest()
        )
    )
    assert list(empty.records) == [] and empty.next_page_token == ""


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"hash_algorithm": 0, "digest": b"\0" * 32}, ["hash_algorithm"]),
        ({"hash_algorithm": common_pb2.HASH_ALGORITHM_SHA512, "digest": b"\0" * 32}, ["digest"]),
        (
            {
                "hash_algorithm": common_pb2.HASH_ALGORITHM_SHA256,
                "digest": b"\0" * 32,
                "page_size": -1,
            },
            ["page_size"],
        ),
        (
            {
                "hash_algorithm": common_pb2.HASH_ALGORITHM_SHA256,
                "digest": b"\0" * 32,
                "page_token": "zz",
            },
            ["page_token"],
        ),
    ],
)
def test_find_evidence_bad_input(
    harness: Harness, request_fields: dict[str, object], expected: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.FindEvidence(ev.FindEvidenceRequest(**request_fields))  # type: ignore[arg-type]
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected


def test_list_evidence_pages_are_stable_while_the_loan_grows(harness: Harness) -> None:
    for _ in range(3):
        submit(harness, submission("loan-l"))
    first = harness.evidence.ListEvidence(ev.ListEvidenceRequest(loan_ref="loan-l", page_size=2))
    assert [r.receipt.loan_sequence for r in first.records] == [1, 2]
    submit(harness, submission("loan-l"))
    second = harness.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref="loan-l", page_size=2, page_token=first.next_page_token)
    )
    assert [r.receipt.loan_sequence for r in second.records] == [3, 4]
    other = harness.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref="loan-l", institution="bank-z")
    )
    assert list(other.records) == []


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"loan_ref": ""}, ["loan_ref"]),
        ({"loan_ref": "ok", "institution": "bad inst"}, ["institution"]),
        ({"loan_ref": "ok", "page_size": -5}, ["page_size"]),
        ({"loan_ref": "ok", "page_token": "garbage"}, ["page_token"]),
    ],
)
def test_list_evidence_bad_input(
    harness: Harness, request_fields: dict[str, object], expected: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.ListEvidence(ev.ListEvidenceRequest(**request_fields))  # type: ignore[arg-type]
    assert error_fields(info.value) == expected


def test_store_down_is_unavailable_for_reads(harness: Harness) -> None:
    harness.store.down = True
    with pytest.raises(grpc.RpcError) as info:
        harness.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="abc"))
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE


def test_stream_flood_shares_ledger_calls(harness: Harness) -> None:
    items = [submission("loan-f") for _ in range(300)]
    responses = list(
        harness.evidence.SubmitEvidenceStream(
            ev.SubmitEvidenceStreamRequest(submission=s) for s in items
        )
    )
    assert [r.receipt.loan_sequence for r in responses] == list(range(1, 301))
    assert sum(harness.ledger.submit_calls) == 300
    assert len(harness.ledger.submit_calls) < 300  # chunks, not one call per message


def test_stream_splits_a_chunk_that_never_fits(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(max_queue=4)  # a chunk of more than 4 never fits
    items = [submission("loan-q") for _ in range(40)]
    responses = list(
        harness.evidence.SubmitEvidenceStream(
            ev.SubmitEvidenceStreamRequest(submission=s) for s in items
        )
    )
    assert [r.receipt.loan_sequence for r in responses] == list(range(1, 41))
    assert max(harness.ledger.submit_calls) <= 4


def test_stream_with_a_malformed_institution_is_unauthenticated(harness: Harness) -> None:
    call = harness.evidence.SubmitEvidenceStream(
        iter([ev.SubmitEvidenceStreamRequest(submission=submission())]),
        metadata=(("x-institution", "not valid!"),),
    )
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert harness.ledger.size == 0

"""GetEvidenceBundle, GetDossier and ListCheckpoints over real gRPC, on the real ledger.

Every bundle and dossier is checked with the court's own functions (checkpoint
signature, inclusion, consistency, the opening, the loan map proof), so a
field filled wrongly fails here. Callers are development-mode identities.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import LeafOpening, decode_any_leaf, open_leaf
from court.verify.checkpoint import verify_checkpoint
from court.verify.loanmap import EMPTY, LoanHead, LoanHeadProof, map_root_of, verify_loan_head
from court.verify.merkle import verify_inclusion
from court.verify.rfc6962 import leaf_hash
from court.verify.token import verify_timestamp
from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import bundle_pb2, common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.api.bundle_convert import BUNDLE_MEDIA_TYPE, DOSSIER_MEDIA_TYPE
from gateway.authz.roles import Role
from gateway.server import load_tsa_trust
from tests.support.authz_matrix import dev_headers as who
from tests.support.grpc_client import error_fields, submission, timestamp
from tests.unit.gateway.api.conftest import Harness, _config

SHARE_KINDS = (common_pb2.EVIDENCE_KIND_LOAN_SHARED, common_pb2.EVIDENCE_KIND_SHARE_REVOKED)


def submit(h: Harness, s: common_pb2.EvidenceSubmission, role: Role = Role.LENDER) -> Any:
    return h.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(submission=s), metadata=who(role)
    ).receipt


def share(h: Harness, loan: str, grantee: str) -> None:
    h.access.ShareLoan(
        ac.ShareLoanRequest(
            request_id=f"s-{time.monotonic_ns()}",
            grantee=grantee,
            loans=ac.LoanSelection(loan_refs=[loan]),
            expires_at=timestamp(datetime.now(UTC) + timedelta(days=30)),
        ),
        metadata=who(Role.LENDER),
    )


def bundle(h: Harness, role: Role = Role.LENDER, **fields: Any) -> vf.GetEvidenceBundleResponse:
    return h.verification.GetEvidenceBundle(  # type: ignore[no-any-return]
        vf.GetEvidenceBundleRequest(**fields), metadata=who(role)
    )


def dossier(h: Harness, role: Role = Role.LENDER, **fields: Any) -> bundle_pb2.Dossier:
    return h.verification.GetDossier(  # type: ignore[no-any-return]
        vf.GetDossierRequest(**fields), metadata=who(role)
    ).dossier


def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def check_record(r: bundle_pb2.BundledRecord, checkpoint: common_pb2.Checkpoint) -> None:
    """The record's leaf is in the checkpoint's tree at its index."""
    p = r.inclusion_proof
    assert (p.leaf_index, p.tree_size) == (r.leaf_index, checkpoint.size)
    verify_inclusion(
        r.leaf_index, checkpoint.size, leaf_hash(r.leaf), list(p.hashes), checkpoint.root_hash
    )


def opened_record(r: bundle_pb2.BundledRecord) -> Any:
    leaf = decode_any_leaf(bytes(r.leaf))
    assert isinstance(leaf, PublicLeaf)
    assert hashlib.sha256(r.timestamp_token).digest() == leaf.token_sha256
    return open_leaf(leaf, LeafOpening(bytes(r.opening.private_record), bytes(r.opening.loan_salt)))


def head_proof(p: bundle_pb2.LoanHeadProof) -> LoanHeadProof:
    return LoanHeadProof(
        head=LoanHead(bytes(p.loan_key), p.loan_sequence, p.leaf_index, bytes(p.leaf_hash)),
        siblings=tuple(bytes(s) or EMPTY for s in p.siblings),
    )


# ------------------------------------------------------------------ bundles


def test_a_bundle_holds_what_proves_its_record(harness: Harness, pki_p256: Path) -> None:
    receipt = submit(harness, submission("L-1", data=b"the contract"))
    submit(harness, submission("L-2"))
    b = bundle(harness, entry_id=receipt.entry_id).bundle
    assert b.media_type == BUNDLE_MEDIA_TYPE
    assert b.record.entry_id == receipt.entry_id and b.record.leaf == receipt.leaf
    verify_checkpoint(b.checkpoint.signed_note, harness.vkey)
    assert b.checkpoint.size == 2  # the latest, not the receipt's
    check_record(b.record, b.checkpoint)
    record = opened_record(b.record)
    assert record.digest == hashlib.sha256(b"the contract").digest()
    # The token's chain: the TSA's certificate from the bundle, the root from the verifier.
    roots, _ = load_tsa_trust(_config(pki_p256, Path()))
    certs = [x509.load_der_x509_certificate(c) for c in b.tsa_certificates]
    assert certs and all(c.subject != c.issuer for c in certs)  # no root
    assert not {c.subject for c in certs} & {r.subject for r in roots}
    verdict = verify_timestamp(
        bytes(b.record.timestamp_token),
        roots=roots,
        untrusted=certs,
        digest=record.digest,
        hash_algorithm="sha256",
    )
    assert verdict.ok, verdict.checks
    assert not b.HasField("anchor")  # the harness anchors nothing


def test_a_bundle_by_digest_is_the_earliest_record_and_names_the_others(
    harness: Harness,
) -> None:
    first = submit(harness, submission("L-1", data=b"same"))
    second = submit(harness, submission("L-2", data=b"same"))
    digest = vf.Digest(
        hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256, value=hashlib.sha256(b"same").digest()
    )
    got = bundle(harness, digest=digest)
    assert got.bundle.record.entry_id == first.entry_id
    assert list(got.other_entry_ids) == [second.entry_id]


def test_a_bundle_at_an_earlier_checkpoint_and_its_refusals(harness: Harness) -> None:
    first = submit(harness, submission("L-1"))
    later = submit(harness, submission("L-1"))
    # the checkpoint of the first commit (size 1), which carries the loan map
    at_one = harness.log.ListCheckpoints(lg.ListCheckpointsRequest(from_size=1, page_size=1))
    assert map_root_of(at_one.checkpoints[0].signed_note) is not None
    b = bundle(harness, entry_id=first.entry_id, tree_size=1).bundle
    assert b.checkpoint.size == 1
    check_record(b.record, b.checkpoint)
    # a later record is not in it: refused, naming tree_size
    with pytest.raises(grpc.RpcError) as refused:
        bundle(harness, entry_id=later.entry_id, tree_size=1)
    assert error_fields(refused.value) == ["tree_size"]
    with pytest.raises(grpc.RpcError) as info:
        bundle(harness, entry_id=first.entry_id, tree_size=99)
    assert error_fields(info.value) == ["tree_size"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["subject"]),
        ({"entry_id": "not an id!"}, ["entry_id"]),
        ({"digest": vf.Digest(value=b"x")}, ["digest.hash_algorithm"]),
        (
            {"digest": vf.Digest(hash_algorithm=1, value=b"x"), "tree_size": 1 << 63},
            ["digest.value", "tree_size"],
        ),
    ],
)
def test_a_bad_bundle_request_names_its_fields(
    harness: Harness, fields: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        bundle(harness, **fields)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected


def test_a_record_the_caller_may_not_read_is_not_found_as_one_that_does_not_exist(
    harness: Harness,
) -> None:
    theirs = submit(harness, submission("L-1", data=b"bank-a's"))
    missing = theirs.entry_id[:-4] + ("AAAA" if not theirs.entry_id.endswith("AAAA") else "BBBB")
    answers = set()
    for role, entry_id in ((Role.COURT, theirs.entry_id), (Role.LENDER, missing)):
        code, details = code_of(lambda r=role, e=entry_id: bundle(harness, r, entry_id=e))
        answers.add((code, details.replace(entry_id, "ID")))
    code, details = code_of(
        lambda: harness.verification.GetEvidenceBundle(
            vf.GetEvidenceBundleRequest(entry_id=theirs.entry_id),
            metadata=who(Role.LENDER, "bank-b"),
        )
    )
    answers.add((code, details.replace(theirs.entry_id, "ID")))
    assert len(answers) == 1 and next(iter(answers))[0] is grpc.StatusCode.NOT_FOUND
    # by digest too
    digest = vf.Digest(hash_algorithm=1, value=hashlib.sha256(b"bank-a's").digest())
    assert code_of(lambda: bundle(harness, Role.COURT, digest=digest))[0] is (
        grpc.StatusCode.NOT_FOUND
    )


# ------------------------------------------------------------------ dossiers


def _loan(h: Harness) -> list[Any]:
    """A loan of bank-a with a correction, shared with court-1 and with court-2."""
    first = submit(h, submission("L-D", data=b"contract"))
    submit(h, submission("L-D"))
    share(h, "L-D", "court-1")
    share(h, "L-D", "court-2")
    fix = submit(h, submission("L-D", supersedes=first.entry_id))
    return [first, fix]


def test_a_lender_s_dossier_holds_every_record_and_proves_the_head(harness: Harness) -> None:
    first, fix = _loan(harness)
    submit(harness, submission("L-other"))
    d = dossier(harness, loan_ref="L-D")
    assert d.media_type == DOSSIER_MEDIA_TYPE
    verify_checkpoint(d.checkpoint.signed_note, harness.vkey)
    root = map_root_of(d.checkpoint.signed_note)
    assert root is not None
    assert [opened_record(r).loan_sequence for r in d.records] == [1, 2, 3, 4, 5]
    for r in d.records:
        check_record(r, d.checkpoint)
        assert r.HasField("opening")
    assert list(d.records[0].superseded_by) == [fix.entry_id]
    assert d.records[0].entry_id == first.entry_id
    proof = head_proof(d.loan_head)
    verify_loan_head(proof, root)
    last = d.records[-1]
    assert (proof.head.leaf_index, proof.head.leaf_hash) == (last.leaf_index, leaf_hash(last.leaf))
    assert proof.head.loan_sequence == 5
    assert len(d.tsa_certificates) == len(set(d.tsa_certificates)) >= 1


def test_a_court_sees_another_court_s_share_withheld(harness: Harness) -> None:
    _loan(harness)
    d = dossier(harness, Role.COURT, owner="bank-a", loan_ref="L-D")
    lender = dossier(harness, loan_ref="L-D")
    assert [r.entry_id for r in d.records] == [r.entry_id for r in lender.records]
    withheld = [r for r in d.records if not r.HasField("opening")]
    assert len(withheld) == 1  # the share with court-2
    hidden = withheld[0]
    assert not hidden.timestamp_token and not hidden.superseded_by  # its digest is private
    check_record(hidden, d.checkpoint)
    kinds = {opened_record(r).kind for r in d.records if r.HasField("opening")}
    assert "loan_shared" in kinds  # its own share record
    verify_loan_head(head_proof(d.loan_head), map_root_of(d.checkpoint.signed_note) or b"")


def test_an_unshared_loan_and_a_loan_that_does_not_exist_answer_alike(harness: Harness) -> None:
    _loan(harness)
    submit(harness, submission("L-private"))
    answers = set()
    for role, owner, loan in (
        (Role.COURT, "bank-a", "L-private"),  # exists, not shared with court-1
        (Role.COURT, "bank-a", "L-none"),  # does not exist
        (Role.LENDER, "bank-a", "L-none"),
        (Role.ARBITRATION, "bank-a", "L-D"),  # shared with courts only
    ):
        code, details = code_of(
            lambda r=role, o=owner, n=loan: dossier(harness, r, owner=o, loan_ref=n)
        )
        answers.add((code, details.replace(loan, "LOAN")))
    code, details = code_of(
        lambda: harness.verification.GetDossier(
            vf.GetDossierRequest(loan_ref="L-D", owner="bank-a"),
            metadata=who(Role.LENDER, "bank-b"),
        )
    )
    answers.add((code, details.replace("L-D", "LOAN")))
    assert len(answers) == 1, answers
    assert next(iter(answers))[0] is grpc.StatusCode.NOT_FOUND


def test_max_records_bounds_a_dossier(harness: Harness) -> None:
    _loan(harness)
    code, details = code_of(lambda: dossier(harness, loan_ref="L-D", max_records=4))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "5 records" in details
    assert len(dossier(harness, loan_ref="L-D", max_records=5).records) == 5
    # ... and the bound says nothing to a caller that may not list the loan
    code, _ = code_of(lambda: dossier(harness, Role.COURT, owner="bank-a", loan_ref="L-x"))
    assert code is grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("role", "fields", "expected"),
    [
        (Role.LENDER, {}, ["loan_ref"]),
        (Role.COURT, {"loan_ref": "L-1"}, ["owner"]),
        (Role.LENDER, {"loan_ref": "L 1", "owner": "b a"}, ["loan_ref", "owner"]),
        (Role.LENDER, {"loan_ref": "L-1", "max_records": 10_001}, ["max_records"]),
        (Role.LENDER, {"loan_ref": "L-1", "tree_size": 50}, ["tree_size"]),
    ],
)
def test_a_bad_dossier_request_names_its_fields(
    harness: Harness, role: Role, fields: dict[str, Any], expected: list[str]
) -> None:
    submit(harness, submission("L-1"))
    with pytest.raises(grpc.RpcError) as info:
        dossier(harness, role, **fields)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == expected


def test_a_dossier_at_an_earlier_checkpoint(harness: Harness) -> None:
    submit(harness, submission("L-E"))
    size = harness.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint.size
    submit(harness, submission("L-E"))
    d = dossier(harness, loan_ref="L-E", tree_size=size)
    assert d.checkpoint.size == size and len(d.records) == 1
    assert d.loan_head.loan_sequence == 1
    verify_loan_head(head_proof(d.loan_head), map_root_of(d.checkpoint.signed_note) or b"")


# ------------------------------------------------------------ ListCheckpoints


def test_list_checkpoints_pages_through_every_signed_checkpoint(harness: Harness) -> None:
    for n in range(5):
        submit(harness, submission(f"L-{n}"))
    seen: list[common_pb2.Checkpoint] = []
    token = ""
    pages = 0
    while True:
        page = harness.log.ListCheckpoints(
            lg.ListCheckpointsRequest(page_size=2, page_token=token), metadata=who(Role.REGULATOR)
        )
        seen += page.checkpoints
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert [c.size for c in seen] == list(range(6)) and pages == 3
    for c in seen:
        assert verify_checkpoint(c.signed_note, harness.vkey).size == c.size
    later = harness.log.ListCheckpoints(lg.ListCheckpointsRequest(from_size=4))
    assert [c.size for c in later.checkpoints] == [4, 5] and not later.next_page_token
    beyond = harness.log.ListCheckpoints(lg.ListCheckpointsRequest(from_size=(1 << 64) - 1))
    assert not beyond.checkpoints


def test_list_checkpoints_refuses_a_foreign_token_and_clamps_a_large_page(
    harness: Harness,
) -> None:
    for n in range(3):
        submit(harness, submission(f"L-{n}"))
    token = harness.log.ListCheckpoints(lg.ListCheckpointsRequest(page_size=1)).next_page_token
    assert token
    large = harness.log.ListCheckpoints(lg.ListCheckpointsRequest(page_size=1 << 31))
    assert [c.size for c in large.checkpoints] == list(range(4)) and not large.next_page_token
    for request, field in (
        (lg.ListCheckpointsRequest(page_token="garbage"), "page_token"),
        (lg.ListCheckpointsRequest(from_size=2, page_token=token), "page_token"),
    ):
        with pytest.raises(grpc.RpcError) as info:
            harness.log.ListCheckpoints(request)
        assert error_fields(info.value) == [field]

"""Bundles, dossiers and the checkpoint list from a real `gateway serve` over mutual TLS.

Institutions are registered as an operator does it (`notary institution add`)
and each calls with its own certificate: a lender gets a bundle and a
dossier of its loan; a court gets the dossier of a loan shared with it, where
the loan's share with another court is withheld (no opening, no token); an
unshared loan and a loan that does not exist get the same NOT_FOUND; and
ListCheckpoints pages through every signed checkpoint. Each answer is checked
with the court's own functions against the log's verifier key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from court.verify.checkpoint import verify_checkpoint
from court.verify.loanmap import EMPTY, LoanHead, LoanHeadProof, map_root_of, verify_loan_head
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.rfc6962 import leaf_hash
from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import bundle_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import verification_service_pb2 as vf
from notary.pki import load_log_verifier_key
from tests.support.authz_matrix import Stubs
from tests.support.gateway_proc import (
    GatewayProcess,
    institution_callers,
    make_pki,
    write_config,
)
from tests.support.grpc_client import submission, timestamp

LENDER, COURT, OTHER_COURT = "bank-b", "court-b", "court-c"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("mtls-bundles")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def callers(
    gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Stubs]]:
    who = ((LENDER, "lender"), (COURT, "court"), (OTHER_COURT, "court"))
    with institution_callers(gateway, who, tmp_path_factory.mktemp("identities")) as stubs:
        yield stubs


def _share(lender: Stubs, loan: str, grantee: str) -> None:
    lender.access.ShareLoan(
        ac.ShareLoanRequest(
            request_id=f"share-{loan}-{grantee}",
            grantee=grantee,
            loans=ac.LoanSelection(loan_refs=[loan]),
            expires_at=timestamp(datetime.now(UTC) + timedelta(days=7)),
        ),
        timeout=30,
    )


def _submit(lender: Stubs, loan: str, data: bytes) -> Any:
    return lender.evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(submission=submission(loan, data=data)), timeout=30
    ).receipt


def _proven(r: bundle_pb2.BundledRecord, checkpoint: Any) -> None:
    assert r.inclusion_proof.tree_size == checkpoint.size
    verify_inclusion(
        r.leaf_index,
        checkpoint.size,
        leaf_hash(r.leaf),
        list(r.inclusion_proof.hashes),
        checkpoint.root_hash,
    )


def _head(d: bundle_pb2.Dossier) -> None:
    p = d.loan_head
    proof = LoanHeadProof(
        head=LoanHead(bytes(p.loan_key), p.loan_sequence, p.leaf_index, bytes(p.leaf_hash)),
        siblings=tuple(bytes(s) or EMPTY for s in p.siblings),
    )
    root = map_root_of(d.checkpoint.signed_note)
    assert root is not None, "a dossier's checkpoint carries the loan map"
    verify_loan_head(proof, root)
    assert (p.leaf_index, p.leaf_hash) == (d.records[-1].leaf_index, leaf_hash(d.records[-1].leaf))


def test_bundles_dossiers_and_checkpoints_over_mutual_tls(
    gateway: GatewayProcess, callers: dict[str, Stubs]
) -> None:
    vkey = load_log_verifier_key(gateway.pki).line
    lender, court = callers[LENDER], callers[COURT]
    first = _submit(lender, "L-B", b"loan contract")
    _submit(lender, "L-B", b"repayment schedule")
    _share(lender, "L-B", COURT)
    _share(lender, "L-B", OTHER_COURT)
    _submit(lender, "L-B", b"overdue notice")
    _submit(lender, "L-private", b"not shared")

    # The lender: a bundle of one record ...
    b = lender.verification.GetEvidenceBundle(
        vf.GetEvidenceBundleRequest(entry_id=first.entry_id), timeout=30
    ).bundle
    verify_checkpoint(b.checkpoint.signed_note, vkey)
    _proven(b.record, b.checkpoint)
    assert hashlib.sha256(b.record.timestamp_token).digest() in b.record.leaf
    assert b.record.HasField("opening") and b.tsa_certificates

    # ... and the dossier of its loan: every record, opened, the head proven.
    mine = lender.verification.GetDossier(vf.GetDossierRequest(loan_ref="L-B"), timeout=30).dossier
    verify_checkpoint(mine.checkpoint.signed_note, vkey)
    assert len(mine.records) == 5 and all(r.HasField("opening") for r in mine.records)
    for r in mine.records:
        _proven(r, mine.checkpoint)
    _head(mine)

    # The court: the shared loan, with the other court's share withheld.
    theirs = court.verification.GetDossier(
        vf.GetDossierRequest(owner=LENDER, loan_ref="L-B"), timeout=30
    ).dossier
    assert [r.entry_id for r in theirs.records] == [r.entry_id for r in mine.records]
    withheld = [r for r in theirs.records if not r.HasField("opening")]
    assert len(withheld) == 1 and not withheld[0].timestamp_token
    for r in theirs.records:
        _proven(r, theirs.checkpoint)
    _head(theirs)

    # An unshared loan and a loan that does not exist: one answer.
    answers = set()
    for loan in ("L-private", "L-nothing"):
        with pytest.raises(grpc.RpcError) as info:
            court.verification.GetDossier(
                vf.GetDossierRequest(owner=LENDER, loan_ref=loan), timeout=30
            )
        answers.add((info.value.code(), info.value.details().replace(loan, "LOAN")))  # type: ignore[attr-defined]
    assert len(answers) == 1 and next(iter(answers))[0] is grpc.StatusCode.NOT_FOUND

    # ListCheckpoints pages through every signed checkpoint, each consistent with the last.
    token, sizes, previous = "", [], None
    while True:
        page = court.log.ListCheckpoints(
            lg.ListCheckpointsRequest(page_size=2, page_token=token), timeout=30
        )
        for c in page.checkpoints:
            verify_checkpoint(c.signed_note, vkey)
            if previous is not None and previous.size > 0:
                proof = court.log.GetConsistencyProof(
                    lg.GetConsistencyProofRequest(from_size=previous.size, to_size=c.size),
                    timeout=30,
                ).consistency_proof
                verify_consistency(
                    previous.size, c.size, list(proof.hashes), previous.root_hash, c.root_hash
                )
            previous = c
            sizes.append(c.size)
        token = page.next_page_token
        if not token:
            break
    assert sizes == sorted(set(sizes)) and sizes[-1] == mine.checkpoint.size
    assert len(sizes) >= 7  # the empty log, then one commit per call above

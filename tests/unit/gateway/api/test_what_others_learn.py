"""What a court learns of shares with others, and what an observer of the public log
learns of one call, over real gRPC on the real ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from court.evidence.opening import decode_any_leaf
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.authz.roles import Role
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_authorization import share, submit, who


def _error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _listed(h: Harness, loan: str, role: Role, institution: str) -> list[common_pb2.EvidenceRecord]:
    response = h.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=loan, institution="bank-a"),
        metadata=who(role, institution),
    )
    return list(response.records)


def test_a_court_learns_of_a_share_with_others_only_as_a_gap(harness: Harness) -> None:
    """A court reads every record of a loan shared with it but the share records naming
    others, "answered as one that does not exist". Its records' loan_sequence skips
    them, and the next record's previous_leaf_hash finds the hidden leaf in the public
    log (its time): the court learns that, and when, the lender recorded something it
    may not read, i.e. shared the loan with (or revoked a share of) another court or
    arbitration body. Accepted within the per-loan chain (docs/access.md, "A court
    sees where a loan was shared with others"): a record of the chain that the court
    may not read is a gap in it. What must not leak: with whom, and the record."""
    h = harness
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    share(h, ["L-1"], grantee="court-1")
    (hidden,) = share(h, ["L-1"], grantee="court-2").receipts
    submit(h, submission("L-1"), Role.LENDER, "bank-a")
    seen = _listed(h, "L-1", Role.COURT, "court-1")
    assert [r.receipt.loan_sequence for r in seen] == [1, 2, 4]  # the gap: 3
    assert seen[2].receipt.previous_leaf_hash == hashlib.sha256(b"\0" + hidden.leaf).digest()
    # The hidden record is answered as one that does not exist ...
    missing = _error(
        lambda: h.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id=hidden.entry_id), metadata=who(Role.COURT, "court-1")
        )
    )
    nothing = _error(
        lambda: h.evidence.GetEvidence(
            ev.GetEvidenceRequest(entry_id="a" * 26), metadata=who(Role.COURT, "court-1")
        )
    )
    assert missing.code() is nothing.code()
    assert missing.details() == (nothing.details() or "").replace("a" * 26, hidden.entry_id)
    assert missing.code() is grpc.StatusCode.NOT_FOUND
    # ... and its public leaf does not say with whom the loan was shared.
    entries = h.log.GetEntries(
        lg.GetEntriesRequest(start=hidden.leaf_index, end=hidden.leaf_index + 1),
        metadata=who(Role.COURT, "court-1"),
    ).entries
    assert bytes(entries[0].leaf) == hidden.leaf
    assert b"court-2" not in hidden.leaf and b"loan_shared" not in hidden.leaf


def test_the_public_log_does_not_group_one_call_s_leaves(
    start_harness: Callable[..., Harness],
) -> None:
    """docs/leaf-format.md: an observer learns the volume of the whole gateway, "not of
    any one institution", and not which lender any record belongs to. Every leaf of a
    commit carries the commit's receivedAt, and entry ids are random: the leaves of
    calls that share a commit cannot be told apart by call, so GetEntries does not
    group one BatchSubmitEvidence's loans (i.e. one institution's).

    (Under low load a commit holds one call: docs/leaf-format.md states that residual.
    Here the commit is taken up when its seven items are queued, whatever the timing:
    ``wait_when_idle`` makes even an idle ledger wait for them.)"""
    h = start_harness(max_batch=7, max_wait_ms=60_000, wait_when_idle=True)

    def batch(bank: str, loans: list[str]) -> list[str]:
        response = h.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[submission(loan) for loan in loans]),
            metadata=who(Role.LENDER, bank),
            timeout=30,
        )
        return [r.receipt.entry_id for r in response.results]

    calls = [
        ("bank-a", ["A-1", "A-2", "A-3"]),
        ("bank-b", ["B-1"]),
        ("bank-a", ["A-4", "A-5", "A-6"]),
    ]
    with ThreadPoolExecutor(len(calls)) as pool:
        ids = list(pool.map(lambda call: batch(*call), calls))
    a_ids = set(ids[0])
    size = h.log.GetCheckpoint(lg.GetCheckpointRequest(), metadata=who(Role.REGULATOR))
    entries = h.log.GetEntries(
        lg.GetEntriesRequest(start=0, end=size.checkpoint.size),
        metadata=who(Role.REGULATOR),
    ).entries
    leaves = [decode_any_leaf(bytes(e.leaf)) for e in entries]
    assert {leaf.entry_id for leaf in leaves} >= {i for call in ids for i in call}
    groups: dict[object, set[str]] = {}
    for leaf in leaves:
        groups.setdefault(leaf.received_at, set()).add(leaf.entry_id)
    assert a_ids not in groups.values(), (
        "the leaves with one receivedAt are exactly bank-a's batch: the observer knows "
        "these three loans belong to one institution"
    )
    assert len(groups) == 1, "the seven leaves of one commit share its receivedAt"
    # Nothing in the ids of one commit is shared either (no time or counter prefix).
    assert len({entry_id[:8] for call in ids for entry_id in call}) == 7

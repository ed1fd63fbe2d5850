"""The benchmark's bulk loader makes a log the ledger accepts and the court's checks pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import biglog
from court.evidence.opening import decode_any_leaf
from court.verify.checkpoint import verify_checkpoint
from court.verify.loanmap import LoanMap, head_of_leaf, map_root_of, verify_loan_head
from court.verify.merkle import verify_consistency
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore
from tests.support.ledger_env import Env, check_chain


def test_loaded_log_verifies_and_a_build_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(biglog, "BATCH", 120)
    monkeypatch.setattr(biglog, "LOANS", 7)
    monkeypatch.setattr(biglog, "HEAVY_EVERY", 50)  # entries 49, 99, ...: the heavy loan
    said: list[str] = []
    folder = biglog.cached_log(tmp_path / "data", 250, said.append)
    assert folder == biglog.folder_for(tmp_path / "data", 250)
    assert said and "building" in said[0]
    store = SqlStore.sqlite(folder / DEFAULT_SQLITE_NAME)
    old = store.latest_checkpoint()
    assert old is not None and old.size == 250
    biglog.fill(store, folder, 500, said.append)  # resumes after the last commit
    store.close()

    env = Env(folder / "pki", tmp_path)
    ledger = env.open(store=SqlStore.sqlite(folder / DEFAULT_SQLITE_NAME))  # checks the head
    try:
        new = verify_checkpoint(ledger.checkpoint(), env.vkey)
        assert new.size == 500
        first = verify_checkpoint(old.note, env.vkey)
        proof = ledger.consistency_proof(first.size, new.size)
        verify_consistency(first.size, new.size, proof, first.root_hash, new.root_hash)
        for index in (0, 119, 120, 249, 250, 499):
            (_, leaf) = ledger.entries(index, index + 1)[0]
            record = ledger.get(decode_any_leaf(leaf).entry_id)
            assert record.submission.digest == biglog.digest_of(index)
            env.check_receipt(record.submission, record.receipt)  # token, leaf, proof
        records, _ = ledger.list_by_loan(biglog.INSTITUTION, "bench-loan-3", 1000, "")
        assert [r.receipt.leaf_index for r in records] == [
            i for i in range(3, 500, 7) if i % 50 != 49
        ]
        check_chain([r.receipt for r in records])  # chained across the resumed build
        heavy, _ = ledger.list_by_loan(biglog.INSTITUTION, biglog.HEAVY_LOAN, 1000, "")
        assert [r.receipt.leaf_index for r in heavy] == list(range(49, 500, 50))
        check_chain([r.receipt for r in heavy])
        # The map was written with the log (the ledger loaded it: no build from the leaves),
        # every checkpoint's map root is the one its leaves make, and heads are proven.
        replay = LoanMap()
        for at, end in ((0, 120), (120, 240), (240, 250), (250, 370), (370, 490), (490, 500)):
            replay.update(
                h for i, leaf in ledger.entries(at, end) if (h := head_of_leaf(i, leaf)) is not None
            )
            assert map_root_of(ledger.checkpoint_at(end)) == replay.root()
        key = decode_any_leaf(ledger.entries(498, 499)[0][1]).loan_key
        assert key is not None
        proof = ledger.loan_head_proof(key, 500)
        assert proof is not None and proof.head.leaf_index == 498
        verify_loan_head(proof, replay.root())
    finally:
        env.close(ledger)
    again: list[str] = []
    assert biglog.cached_log(tmp_path / "data", 250, again.append) == folder
    assert again == []  # cached: nothing built

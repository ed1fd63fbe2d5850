"""The benchmark's bulk loader makes a log the ledger accepts and the court's checks pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import biglog
from court.evidence.opening import decode_any_leaf
from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore
from tests.support.ledger_env import Env, check_chain


def test_loaded_log_verifies_and_a_build_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(biglog, "BATCH", 120)
    monkeypatch.setattr(biglog, "LOANS", 7)
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
        assert len(records) == len(range(3, 500, 7))
        check_chain([r.receipt for r in records])  # chained across the resumed build
    finally:
        env.close(ledger)
    again: list[str] = []
    assert biglog.cached_log(tmp_path / "data", 250, again.append) == folder
    assert again == []  # cached: nothing built

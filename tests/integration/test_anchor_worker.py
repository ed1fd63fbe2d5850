"""The anchoring worker against a real anvil node and the real ledger (SQLite).

Anchors land and match the log; the chain stopped under submission load, then
restarted, gets one catch-up anchor covering every checkpoint signed
meanwhile; a reorganisation that drops an anchor's transaction makes the
worker resubmit it; a key that is not the log's registered submitter is
refused by the contract itself. An anchor is stored before its transaction is
broadcast: a crash in between is recovered on restart (the same transaction
broadcast again, or, its nonce taken meanwhile, a new anchor), with exactly
one row per anchor on chain.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency
from gateway.anchor.chain import ChainClient, ContractRefused
from gateway.anchor.contract import load_artifact
from gateway.anchor.ethlibs import Web3
from gateway.anchor.model import UNSEEN_GRACE_SECONDS, AnchorStatus, StoredAnchor, checkpoint_hash
from gateway.model import Receipt
from tests.support.anchoring import CHAIN, Anchoring, submit_calls
from tests.support.anvil import Anvil, wait_for
from tests.support.ledger_env import Env, sub, submit


@pytest.fixture
def anchoring(pki_p256: Path, tmp_path: Path, anvil: Anvil) -> Iterator[Anchoring]:
    setup = Anchoring(Env(pki_p256, tmp_path), anvil)
    try:
        yield setup
    finally:
        setup.close()


def _rows(a: Anchoring) -> list[StoredAnchor]:
    """Every stored attempt, in order (the test reads the table directly)."""
    from sqlalchemy import select

    from gateway.store.anchors import ANCHORS, _anchor

    with a.store.engine.connect() as conn:
        return [_anchor(r._mapping) for r in conn.execute(select(ANCHORS).order_by(ANCHORS.c.id))]


def _check_against_chain(a: Anchoring, stored: StoredAnchor) -> None:
    """A confirmed stored anchor is what the contract holds, in the block it names."""
    assert stored.status is AnchorStatus.CONFIRMED and stored.anchor_number is not None
    on_chain = a.reader.anchor_at(a.log_id, stored.anchor_number)
    assert on_chain.tree_size == stored.tree_size
    assert on_chain.root_hash == stored.root_hash
    assert (
        on_chain.checkpoint_hash
        == stored.checkpoint_hash
        == checkpoint_hash(stored.checkpoint_note)
    )
    assert on_chain.block_number == stored.block_number
    assert a.reader.block_hash(on_chain.block_number) == stored.block_hash
    cp = verify_checkpoint(stored.checkpoint_note, a.env.vkey)
    assert (cp.size, cp.root_hash) == (stored.tree_size, stored.root_hash)


def test_anchors_land_with_consistency_from_the_previous(anchoring: Anchoring) -> None:
    a = anchoring
    submit(a.ledger, [sub(i) for i in range(5)])
    a.worker.start()
    wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the first anchor")
    first = a.store.latest_anchor(CHAIN)
    _check_against_chain(a, first)
    assert (first.previous_size, first.consistency_proof, first.anchor_number) == (0, (), 0)

    submit(a.ledger, [sub(i) for i in range(5, 12)])
    wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the second anchor")
    second = a.store.latest_anchor(CHAIN)
    _check_against_chain(a, second)
    assert (second.previous_size, second.anchor_number) == (first.tree_size, 1)
    verify_consistency(
        first.tree_size,
        second.tree_size,
        list(second.consistency_proof),
        first.root_hash,
        second.root_hash,
    )
    assert a.store.anchor_covering(first.tree_size + 1) == second
    [lag] = a.worker.lag()
    assert (lag.entries, lag.seconds, lag.down) == (0, 0.0, False)
    assert [r.status for r in _rows(a)] == [AnchorStatus.CONFIRMED] * 2


def test_an_anchor_waits_for_its_confirmations(
    pki_p256: Path, tmp_path: Path, anvil: Anvil
) -> None:
    a = Anchoring(Env(pki_p256, tmp_path), anvil, confirmations=3)
    try:
        submit(a.ledger, [sub(1)])
        a.worker.start()
        wait_for(lambda: a.anchored_size() == a.ledger.size, what="the anchor mined")
        wait_for(lambda: (p := a.store.pending_anchors(CHAIN)) and p[0].block_number is not None)
        assert a.store.latest_anchor(CHAIN) is None  # mined, 1 confirmation of 3
        anvil.mine(1)
        assert a.store.latest_anchor(CHAIN) is None  # 2 of 3
        anvil.mine(1)
        wait_for(lambda: a.store.latest_anchor(CHAIN) is not None, what="3 confirmations")
        _check_against_chain(a, a.store.latest_anchor(CHAIN))
    finally:
        a.close()


def test_chain_down_under_load_then_one_catch_up_anchor(anchoring: Anchoring) -> None:
    a = anchoring
    submit(a.ledger, [sub(i) for i in range(4)])
    a.worker.start()
    wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the first anchor")
    before = a.store.latest_anchor(CHAIN)
    count = a.reader.anchor_count(a.log_id)

    a.chain.stop()
    receipts = submit_calls(
        a.ledger, [[sub(f"{k}-{i}", loan=f"L-{k}") for i in range(6)] for k in range(10)]
    )
    assert all(isinstance(r, Receipt) for r in receipts)
    sizes = sorted({r.tree_size for r in receipts})
    assert len(sizes) >= 2  # several checkpoints signed while the chain was down
    wait_for(lambda: a.worker.lag()[0].down, what="the worker seeing the chain down")
    lag = a.worker.lag()[0]
    assert lag.entries == a.ledger.size - before.tree_size and lag.seconds > 0
    assert "unreachable" in lag.error

    a.chain.start()
    wait_for(lambda: a.confirmed_size() == a.ledger.size, timeout=60, what="the catch-up")
    assert a.reader.anchor_count(a.log_id) == count + 1  # one anchor for the whole downtime
    catch_up = a.store.latest_anchor(CHAIN)
    _check_against_chain(a, catch_up)
    assert catch_up.previous_size == before.tree_size
    verify_consistency(
        before.tree_size,
        catch_up.tree_size,
        list(catch_up.consistency_proof),
        before.root_hash,
        catch_up.root_hash,
    )
    # No checkpoint lost: each one signed while the chain was down is consistent
    # with the anchored one.
    for size in sizes:
        old = verify_checkpoint(a.ledger.checkpoint_at(size), a.env.vkey)
        proof = a.ledger.consistency_proof(size, catch_up.tree_size)
        verify_consistency(size, catch_up.tree_size, list(proof), old.root_hash, catch_up.root_hash)
        assert a.store.anchor_covering(size) == catch_up or size <= before.tree_size
    assert not a.worker.lag()[0].down and a.worker.lag()[0].entries == 0


def test_a_reorg_drops_an_anchor_and_the_worker_resubmits_it(anchoring: Anchoring) -> None:
    a = anchoring
    submit(a.ledger, [sub(i) for i in range(3)])
    a.worker.start()
    wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the first anchor")
    submit(a.ledger, [sub(i) for i in range(3, 7)])
    wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the second anchor")
    dropped = a.store.latest_anchor(CHAIN)
    a.chain.reorg(a.chain.head() - dropped.block_number + 1)  # its block is replaced
    wait_for(
        lambda: any(r.status is AnchorStatus.DROPPED for r in _rows(a)),
        what="the worker seeing the anchor dropped",
    )
    wait_for(lambda: a.anchored_size() == a.ledger.size, what="the resubmitted anchor")
    wait_for(lambda: a.confirmed_size() == a.ledger.size, what="its confirmation")
    rows = _rows(a)
    assert [(r.tree_size, r.status) for r in rows] == [
        (3, AnchorStatus.CONFIRMED),
        (7, AnchorStatus.DROPPED),
        (7, AnchorStatus.CONFIRMED),
    ]
    assert rows[1].tx_hash == dropped.tx_hash and rows[2].id != dropped.id
    _check_against_chain(a, rows[2])
    assert rows[2].anchor_number == 1  # the chain holds it once, after the first
    assert a.reader.anchor_count(a.log_id) == 2
    assert a.store.anchor_covering(5) == rows[2]


def test_the_contract_refuses_a_key_that_is_not_the_registered_submitter(
    pki_p256: Path, tmp_path: Path, anvil: Anvil
) -> None:
    registered = anvil.new_account()
    a = Anchoring(Env(pki_p256, tmp_path), anvil, registered=registered.address)
    try:
        submit(a.ledger, [sub(i) for i in range(3)])
        # The client simulates first and reports the contract's reason ...
        with pytest.raises(ContractRefused) as caught:
            a.client.send_anchor(a.log_id, 3, b"\x01" * 32, b"\x02" * 32, [])
        assert caught.value.reason == "NotSubmitter"
        # ... and the contract itself reverts a transaction sent without simulation.
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        contract = w3.eth.contract(address=a.contract, abi=load_artifact().abi)
        data = contract.encode_abi("anchor", args=[a.log_id, 3, b"\x01" * 32, b"\x02" * 32, []])
        tx = {
            "chainId": 31337,
            "nonce": w3.eth.get_transaction_count(a.key.address),
            "to": a.contract,
            "data": data,
            "gas": 300_000,
            "gasPrice": w3.eth.gas_price,
            "value": 0,
        }
        sent = w3.eth.send_raw_transaction(a.key.sign_transaction(tx).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(sent, timeout=20)["status"] == 0
        # The worker anchors nothing, says why, and the lag grows.
        a.worker.start()
        wait_for(lambda: "NotSubmitter" in a.worker.lag()[0].error, what="the refusal")
        assert a.reader.anchor_count(a.log_id) == 0 and _rows(a) == []
        assert a.worker.lag()[0].entries == a.ledger.size
        # The admin makes this key the submitter: the worker anchors.
        admin = ChainClient(anvil.rpc_url, a.contract, anvil.dev_accounts[0])
        admin.set_submitter(a.log_id, a.key.address)
        wait_for(lambda: a.confirmed_size() == a.ledger.size, timeout=60, what="the anchor")
    finally:
        a.close()


class _Crash(Exception):
    """The worker's process dies here."""


def _crash_after_storing(where: str) -> None:
    if where == "stored":
        raise _Crash(where)


def _crashed(pki: Path, tmp_path: Path, anvil: Anvil) -> tuple[Anchoring, StoredAnchor]:
    """An anchor stored, then the worker crashed before broadcasting it."""
    a = Anchoring(Env(pki, tmp_path), anvil, fault=_crash_after_storing)
    submit(a.ledger, [sub(i) for i in range(4)])
    with pytest.raises(_Crash):
        a.worker.step(a.worker_chain)
    [row] = _rows(a)
    assert row.status is AnchorStatus.PENDING and row.raw_tx is not None
    assert not a.reader.tx_state(row.tx_hash).found  # never broadcast
    assert a.reader.anchor_count(a.log_id) == 0
    return a, row


def test_a_crash_between_storing_and_broadcasting_is_recovered_by_the_same_transaction(
    pki_p256: Path, tmp_path: Path, anvil: Anvil
) -> None:
    a, row = _crashed(pki_p256, tmp_path, anvil)
    try:
        a.new_worker().start()  # the gateway restarted
        wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the anchor")
        [landed] = _rows(a)
        assert (landed.id, landed.tx_hash, landed.raw_tx) == (row.id, row.tx_hash, row.raw_tx)
        _check_against_chain(a, landed)
        assert a.reader.anchor_count(a.log_id) == 1
    finally:
        a.close()


def test_a_crash_then_the_nonce_taken_by_another_transaction_anchors_anew(
    pki_p256: Path, tmp_path: Path, anvil: Anvil
) -> None:
    a, row = _crashed(pki_p256, tmp_path, anvil)
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        transfer = {
            "chainId": 31337,
            "nonce": row.nonce,
            "to": anvil.dev_accounts[0].address,
            "value": 1,
            "gas": 21_000,
            "gasPrice": w3.eth.gas_price,
        }
        sent = w3.eth.send_raw_transaction(a.key.sign_transaction(transfer).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(sent, timeout=20)["status"] == 1
        # Restarted later than the grace a node has to show a transaction it accepted.
        a.new_worker(clock=lambda: time.time() + UNSEEN_GRACE_SECONDS + 1).start()
        wait_for(lambda: a.confirmed_size() == a.ledger.size, what="the new anchor")
        dropped, landed = _rows(a)
        assert (dropped.id, dropped.status) == (row.id, AnchorStatus.DROPPED)
        assert landed.nonce == row.nonce + 1 and landed.tx_hash != row.tx_hash
        _check_against_chain(a, landed)
        assert a.reader.anchor_count(a.log_id) == 1
    finally:
        a.close()


def _stuck_in_the_pool(a: Anchoring, anvil: Anvil) -> StoredAnchor:
    """The worker's first anchor, in the pool of a node that mines nothing; then the
    base fee rises far past its gas price, so blocks leave it out."""
    anvil.set_automine(False)
    submit(a.ledger, [sub(i) for i in range(3)])
    a.worker.start()
    wait_for(lambda: bool(_rows(a)) and a.reader.tx_state(_rows(a)[0].tx_hash).found)
    first = _rows(a)[0]
    assert first.gas_price is not None
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", hex(first.gas_price * 20))
    anvil.mine(1)
    assert a.reader.tx_state(first.tx_hash).block_number is None  # left out
    return first


def test_a_transaction_stuck_in_the_pool_is_replaced_at_a_higher_gas_price(
    pki_p256: Path, tmp_path: Path, anvil: Anvil
) -> None:
    a = Anchoring(Env(pki_p256, tmp_path), anvil)
    try:
        a.new_worker(replace_after_seconds=0.5, max_gas_price=10**12)
        first = _stuck_in_the_pool(a, anvil)

        def mined() -> bool:
            anvil.mine(1)
            return a.confirmed_size() == a.ledger.size

        wait_for(mined, timeout=30, what="the replacement mined")
        [landed] = _rows(a)  # one row: the same anchor, another transaction
        assert landed.id == first.id and landed.nonce == first.nonce
        assert landed.tx_hash != first.tx_hash and landed.earlier_tx_hashes[0] == first.tx_hash
        assert landed.gas_price is not None and landed.gas_price * 8 >= first.gas_price * 9
        _check_against_chain(a, landed)
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        assert w3.eth.get_transaction(landed.tx_hash)["gasPrice"] == landed.gas_price
        assert a.reader.anchor_count(a.log_id) == 1
    finally:
        a.close()


def test_a_replacement_above_the_gas_price_cap_is_not_sent_and_health_says_so(
    pki_p256: Path, tmp_path: Path, anvil: Anvil, caplog: pytest.LogCaptureFixture
) -> None:
    a = Anchoring(Env(pki_p256, tmp_path), anvil)
    try:
        cap = a.client.gas_price()  # the first anchor is priced at the cap already
        a.new_worker(replace_after_seconds=0.3, max_gas_price=cap)
        first = _stuck_in_the_pool(a, anvil)
        wait_for(lambda: a.worker.lag()[0].capped != "", what="the cap reported")
        lag = a.worker.lag()[0]
        assert "anchor.max_gas_price_gwei" in lag.capped and "waits in the pool" in lag.capped
        assert [lag.chain_name for lag in a.worker.lagging()] == [CHAIN]  # health: NOT_SERVING
        assert "anchor.max_gas_price_gwei" in caplog.text
        [row] = _rows(a)
        assert (row.tx_hash, row.earlier_tx_hashes, row.gas_price) == (first.tx_hash, (), cap)
    finally:
        a.close()

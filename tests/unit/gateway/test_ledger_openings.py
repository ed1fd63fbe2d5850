"""The ledger writes leaf version 2: one secret salt per loan (stored, so the loan's key
stays the same), a fresh salt per record, openings in receipts and in every read, and
loans begun in version 1 go on in version 2."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.evidence.leaf import LeafFields, encode_leaf
from court.evidence.leaf_v2 import PublicLeaf, decode_private_record
from court.evidence.opening import decode_any_leaf, open_leaf
from court.verify.receipt import CHECK_LEAF_OPENING, ReceiptCopies, verify_receipt
from court.verify.result import CheckStatus
from court.verify.rfc6962 import leaf_hash
from gateway.log.checkpoint import sign_checkpoint
from gateway.log.tree import CompactTree
from gateway.model import Receipt
from gateway.store.base import StoredCheckpoint, StoredEntry
from gateway.store.sql import SqlStore
from notary.pki import load_log_signing_key
from tests.support.ledger_env import NOW, Env, check_chain, sub, submit
from tests.support.tsa import make_engine


@pytest.fixture
def env(pki_p256: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(pki_p256, tmp_path)
    yield e
    for ledger in list(e.opened):
        e.close(ledger)


def _public(r: Receipt) -> PublicLeaf:
    leaf = decode_any_leaf(r.leaf)
    assert isinstance(leaf, PublicLeaf)
    return leaf


def _receipts(results: list[object]) -> list[Receipt]:
    assert all(isinstance(r, Receipt) for r in results), results
    return [r for r in results if isinstance(r, Receipt)]


def test_one_opaque_key_per_loan_kept_across_restarts(env: Env) -> None:
    ledger = env.open()
    items = [
        sub(1, loan="L-1"),
        sub(2, loan="L-1"),
        sub(3, loan="L-2"),
        sub(4, loan="L-1", institution="bank-b"),  # the same loan_ref of another lender
    ]
    first = _receipts(submit(ledger, items))  # type: ignore[arg-type]
    for s, r in zip(items, first, strict=True):
        env.check_receipt(s, r)  # the opening opens the leaf to exactly the submission
    keys = [_public(r).loan_key for r in first]
    assert keys[0] == keys[1] and len({keys[0], keys[2], keys[3]}) == 3
    env.close(ledger)

    again = env.open()
    [later] = _receipts(submit(again, [sub(5, loan="L-1")]))  # type: ignore[arg-type]
    env.check_receipt(sub(5, loan="L-1"), later)
    assert _public(later).loan_key == keys[0]  # the loan's salt is stored, not remade
    check_chain([first[0], first[1], later])
    assert later.opening is not None and first[0].opening is not None
    assert later.opening.loan_salt == first[0].opening.loan_salt


def test_every_record_has_its_own_salt(env: Env) -> None:
    ledger = env.open()
    same = [sub(1, data=b"same document"), sub(2, data=b"same document")]
    receipts = _receipts(submit(ledger, same))  # type: ignore[arg-type]
    openings = [r.opening for r in receipts]
    assert all(o is not None for o in openings)
    salts = {decode_private_record(o.private_record).salt for o in openings if o is not None}
    assert len(salts) == 2
    assert _public(receipts[0]).commitment != _public(receipts[1]).commitment


def test_reads_and_replays_return_the_opening_of_the_receipt(env: Env) -> None:
    ledger = env.open()
    items = [sub(1), sub(2, metadata=(("agency", "a-17"), ("note", "上门")))]
    receipts = _receipts(submit(ledger, items))  # type: ignore[arg-type]
    for s, r in zip(items, receipts, strict=True):
        assert ledger.get(r.entry_id).receipt.opening == r.opening
        [found], _ = ledger.find(s.hash_algorithm, s.digest, 10, "")
        assert found.receipt.opening == r.opening
    listed, _ = ledger.list_by_loan("bank-a", "L-1", 10, "")
    assert [x.receipt.opening for x in listed] == [r.opening for r in receipts]
    assert submit(ledger, [items[1]]) == [receipts[1]]  # a replay: the same receipt, opening too
    env.close(ledger)
    reopened = env.open()
    assert reopened.get(receipts[1].entry_id).receipt == receipts[1]


def test_a_loan_begun_in_version_1_goes_on_in_version_2(env: Env) -> None:
    # A store an earlier gateway wrote: one version 1 leaf for bank-a's loan L-1.
    old = sub(0)
    token = make_engine(env.pki, env.folder / "serials").issue("sha256", old.digest).token
    received = NOW.replace(microsecond=0)
    v1 = encode_leaf(
        LeafFields(
            entry_id="oldentry",
            institution=old.institution,
            loan_ref=old.loan_ref,
            kind=str(old.kind),
            hash_algorithm=old.hash_algorithm,
            digest=old.digest,
            occurred_at=old.occurred_at,
            received_at=received,
            token_sha256=hashlib.sha256(token).digest(),
            loan_sequence=1,
            metadata=old.metadata,
        )
    )
    tree = CompactTree()
    nodes = tree.append_leaves([leaf_hash(v1)])
    note = sign_checkpoint(env.origin, 1, tree.root(), load_log_signing_key(env.pki), env.origin)
    store = SqlStore.sqlite(env.db)
    store.append_batch(
        [
            StoredEntry(
                leaf_index=0,
                entry_id="oldentry",
                submission=old,
                received_at=received,
                loan_sequence=1,
                previous_leaf_hash=b"",
                leaf=v1,
                leaf_hash=leaf_hash(v1),
                token=token,
                receipt_size=1,
            )
        ],
        nodes,
        StoredCheckpoint(size=1, root=tree.root(), note=note),
    )
    store.close()

    ledger = env.open()
    [new] = _receipts(submit(ledger, [sub(1)]))  # type: ignore[arg-type]
    env.check_receipt(sub(1), new)
    old_receipt = ledger.get("oldentry").receipt
    assert old_receipt.opening is None and old_receipt.leaf == v1
    check_chain([old_receipt, new])  # sequence 2, naming the version 1 leaf
    assert open_leaf(_public(new), new.opening).loan_sequence == 2  # type: ignore[arg-type]
    # and the version 1 receipt still verifies with the court's checks
    result = verify_receipt(
        leaf=old_receipt.leaf,
        token=old_receipt.timestamp_token,
        checkpoint=old_receipt.checkpoint,
        leaf_index=0,
        tree_size=old_receipt.tree_size,
        inclusion_proof=old_receipt.inclusion_proof,
        copies=ReceiptCopies(
            entry_id="oldentry",
            loan_sequence=1,
            previous_leaf_hash=b"",
            received_at_ns=int(received.timestamp()) * 1_000_000_000,
            checkpoint_origin=env.origin,
            checkpoint_size=1,
            checkpoint_root_hash=tree.root(),
        ),
        log_verifier_key=env.vkey,
        roots=env.roots,
        digest=old.digest,
        hash_algorithm="sha256",
    )
    assert result.ok, result.failures
    assert result.verdict[CHECK_LEAF_OPENING].status is CheckStatus.NOT_RUN

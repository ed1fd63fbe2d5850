"""Helpers for ledger tests: submissions, a ledger factory and the court's receipt checks."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import decode_any_leaf, open_leaf
from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_inclusion
from court.verify.rfc6962 import leaf_hash
from court.verify.token import verify_timestamp
from gateway.ledger import Ledger
from gateway.model import EvidenceKind, ItemResult, Receipt, Submission
from gateway.store.sql import SqlStore
from gateway.tsa import EngineTokenSource, TokenSource
from notary.pki import load_log_signing_key, load_log_verifier_key, load_tsa_signing_material
from tests.support.tsa import make_engine

NOW = datetime.now(UTC)


def sub(
    i: int | str,
    *,
    loan: str = "L-1",
    institution: str = "bank-a",
    kind: EvidenceKind = EvidenceKind.REPAYMENT,
    alg: str = "sha256",
    data: bytes | None = None,
    supersedes: str | None = None,
    metadata: tuple[tuple[str, str], ...] = (("channel", "sms"),),
    owner: str = "",
) -> Submission:
    return Submission(
        institution=institution,
        request_id=f"req-{i}",
        loan_ref=loan,
        kind=kind,
        hash_algorithm=alg,
        digest=hashlib.new(alg, data if data is not None else f"doc {i}".encode()).digest(),
        occurred_at=NOW - timedelta(days=1),
        metadata=metadata,
        supersedes=supersedes,
        owner=owner,
    )


class Env:
    """Keys, TSA and a ledger factory on one temporary folder."""

    def __init__(self, pki: Path, folder: Path) -> None:
        self.pki = pki
        self.folder = folder
        self.db = folder / "gateway.sqlite3"
        self.roots: list[x509.Certificate] = load_tsa_signing_material(pki)[2]
        vkey = load_log_verifier_key(pki)
        self.vkey = vkey.line
        self.origin = vkey.origin
        self.opened: list[Ledger] = []

    def tsa(self) -> EngineTokenSource:
        return EngineTokenSource(make_engine(self.pki, self.folder / "serials"), self.roots)

    def open(self, *, store: Any = None, tsa: TokenSource | None = None, **kw: Any) -> Ledger:
        ledger = Ledger.open(
            store=store or SqlStore.sqlite(self.db),
            tsa=tsa or self.tsa(),
            log_key=load_log_signing_key(self.pki),
            log_origin=self.origin,
            **kw,
        )
        self.opened.append(ledger)
        return ledger

    def close(self, ledger: Ledger) -> None:
        asyncio.run(ledger.close())
        self.opened.remove(ledger)

    def check_receipt(self, s: Submission, r: ItemResult) -> Receipt:
        """Everything a court checks, with the court's own code only."""
        assert isinstance(r, Receipt), r
        token = verify_timestamp(
            r.timestamp_token, roots=self.roots, digest=s.digest, hash_algorithm=s.hash_algorithm
        )
        assert token.ok, token.first_failure
        cp = verify_checkpoint(r.checkpoint, self.vkey)
        assert cp.size == r.tree_size > r.leaf_index
        verify_inclusion(r.leaf_index, cp.size, leaf_hash(r.leaf), r.inclusion_proof, cp.root_hash)
        public = decode_any_leaf(r.leaf)
        assert isinstance(public, PublicLeaf) and r.opening is not None  # version 2, opened
        leaf = open_leaf(public, r.opening)
        assert leaf.entry_id == r.entry_id
        assert (leaf.owner, leaf.submitter) == (s.owner, s.institution)
        assert (leaf.loan_ref, leaf.kind) == (s.loan_ref, s.kind)
        assert (leaf.hash_algorithm, leaf.digest) == (s.hash_algorithm, s.digest)
        assert leaf.occurred_at == s.occurred_at
        assert leaf.received_at == r.received_at
        assert leaf.token_sha256 == hashlib.sha256(r.timestamp_token).digest()
        assert leaf.metadata == s.metadata
        assert leaf.supersedes == s.supersedes
        assert leaf.loan_sequence == r.loan_sequence
        assert (leaf.previous_leaf_hash or b"") == r.previous_leaf_hash
        return r


def submit(ledger: Ledger, items: Sequence[Submission]) -> list[ItemResult]:
    return asyncio.run(ledger.submit(items))


def submit_concurrently(
    ledger: Ledger, calls: Sequence[Sequence[Submission]]
) -> list[list[ItemResult]]:
    async def go() -> list[list[ItemResult]]:
        return list(await asyncio.gather(*(ledger.submit(c) for c in calls)))

    return asyncio.run(go())


def check_chain(receipts: list[Receipt]) -> None:
    for seq, r in enumerate(receipts, start=1):
        assert r.loan_sequence == seq
        if seq == 1:
            assert r.previous_leaf_hash == b""
        else:
            assert r.previous_leaf_hash == leaf_hash(receipts[seq - 2].leaf)

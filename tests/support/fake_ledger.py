"""An in-memory ledger for the unit tests of the gRPC servicers ONLY.

It follows the contract of :class:`gateway.ledger.Ledger` closely enough for
the servicers (idempotency, supersession, loan chains, pagination, proofs)
and produces real material: tokens from the notary engine, canonical leaves
from :mod:`court.evidence`, RFC 9162 proofs and signed C2SP checkpoints, so
that VerificationService can be unit-tested end to end. Integration tests use
the real ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.evidence.leaf import LeafFields, encode_leaf
from court.verify.rfc6962 import leaf_hash
from gateway.errors import (
    AlreadyExists,
    GatewayError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from gateway.log import CompactTree, MemoryNodeStore, consistency_proof, inclusion_proof
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from gateway.model import (
    EvidenceRecord,
    ItemResult,
    Receipt,
    Submission,
    new_entry_id,
    validate_submission,
)
from notary.pki import load_log_signing_key, load_log_verifier_key
from notary.tsa.config import TsaConfig
from notary.tsa.engine import TimeStampAuthority
from tests.support.tsa import make_engine


class FakeLedger:
    """Single-process, in-memory; every submit is one 'commit' with one checkpoint."""

    def __init__(self, engine: TimeStampAuthority, log_key: Ed25519PrivateKey, origin: str) -> None:
        self.engine = engine
        self.log_key = log_key
        self.origin = origin
        self.verifier_key = make_verifier_key(origin, log_key.public_key())
        self.nodes = MemoryNodeStore()
        self.tree = CompactTree()
        self.leaves: list[bytes] = []
        self.records: dict[str, EvidenceRecord] = {}
        self.order: list[str] = []  # entry ids by leaf index
        self.by_request: dict[tuple[str, str], str] = {}
        self.by_hash: dict[bytes, int] = {}
        self.checkpoints: dict[int, str] = {}
        self.up: dict[str, bool] = {"store": True, "tsa": True}
        self.submit_error: GatewayError | None = None
        self.submit_calls: list[int] = []
        self.commit_seconds = 0.002
        self.closed = False
        self._sign()

    @classmethod
    def from_pki(cls, pki_dir: Path, state_dir: Path) -> FakeLedger:
        engine = make_engine(pki_dir, state_dir, TsaConfig(accept_sm3=True))
        return cls(engine, load_log_signing_key(pki_dir), load_log_verifier_key(pki_dir).origin)

    def _sign(self) -> None:
        size = self.tree.size
        self.checkpoints[size] = sign_checkpoint(
            self.origin, size, self.tree.root(), self.log_key, self.origin
        )

    # ------------------------------------------------------------------ write

    async def submit(self, items: Sequence[Submission]) -> list[ItemResult]:
        self.submit_calls.append(len(items))
        await asyncio.sleep(self.commit_seconds)  # a commit takes time, as on a disk
        if self.submit_error is not None:
            raise self.submit_error
        if not self.up["store"] or not self.up["tsa"]:
            raise Unavailable("the store or the TSA is down; retry with back-off")
        now = datetime.now(UTC)
        results: list[ItemResult] = []
        new: list[str] = []
        for s in items:
            results.append(self._one(s, now, new))
        if new:
            self._sign()
            size = self.tree.size
            for i, result in enumerate(results):
                if isinstance(result, Receipt) and result.entry_id in new:
                    results[i] = self._with_checkpoint(result, size)
                    rec = self.records[result.entry_id]
                    self.records[result.entry_id] = EvidenceRecord(
                        rec.submission,
                        results[i],
                        rec.superseded_by,  # type: ignore[arg-type]
                    )
        return results

    def _with_checkpoint(self, r: Receipt, size: int) -> Receipt:
        return Receipt(
            entry_id=r.entry_id,
            leaf_index=r.leaf_index,
            leaf=r.leaf,
            timestamp_token=r.timestamp_token,
            checkpoint=self.checkpoints[size],
            tree_size=size,
            inclusion_proof=tuple(inclusion_proof(self.nodes, r.leaf_index, size)),
            received_at=r.received_at,
            loan_sequence=r.loan_sequence,
            previous_leaf_hash=r.previous_leaf_hash,
        )

    def _one(self, s: Submission, now: datetime, new: list[str]) -> ItemResult:
        problems = validate_submission(s, now)
        if problems:
            return InvalidArgument(problems)
        seen = self.by_request.get((s.institution, s.request_id))
        if seen is not None:
            record = self.records[seen]
            if record.submission == s:
                return record.receipt
            return AlreadyExists(
                f"request_id {s.request_id!r} was already used with different content"
            )
        if s.supersedes is not None:
            old = self.records.get(s.supersedes)
            if old is None or (old.submission.institution, old.submission.loan_ref) != (
                s.institution,
                s.loan_ref,
            ):
                return InvalidArgument(
                    [("supersedes", "must name an existing entry of the same loan")]
                )
        chain = [
            r
            for r in self.records.values()
            if (r.submission.institution, r.submission.loan_ref) == (s.institution, s.loan_ref)
        ]
        sequence = len(chain) + 1
        previous = (
            leaf_hash(max(chain, key=lambda r: r.receipt.loan_sequence).receipt.leaf)
            if chain
            else b""
        )
        token = self.engine.issue(s.hash_algorithm, s.digest).token
        entry_id = new_entry_id()
        received = now.replace(microsecond=now.microsecond // 1000 * 1000)
        leaf = encode_leaf(
            LeafFields(
                entry_id=entry_id,
                institution=s.institution,
                loan_ref=s.loan_ref,
                kind=s.kind.value,
                hash_algorithm=s.hash_algorithm,
                digest=s.digest,
                occurred_at=s.occurred_at,
                received_at=received,
                token_sha256=hashlib.sha256(token).digest(),
                loan_sequence=sequence,
                supersedes=s.supersedes,
                metadata=s.metadata,
                previous_leaf_hash=previous or None,
            )
        )
        index = self.tree.size
        self.nodes.put_nodes(self.tree.append_leaves([leaf_hash(leaf)]))
        self.leaves.append(leaf)
        self.by_hash.setdefault(leaf_hash(leaf), index)
        receipt = Receipt(
            entry_id=entry_id,
            leaf_index=index,
            leaf=leaf,
            timestamp_token=token,
            checkpoint="",
            tree_size=0,
            inclusion_proof=(),
            received_at=received,
            loan_sequence=sequence,
            previous_leaf_hash=previous,
        )
        self.records[entry_id] = EvidenceRecord(s, receipt)
        self.order.append(entry_id)
        self.by_request[(s.institution, s.request_id)] = entry_id
        if s.supersedes is not None:
            old = self.records[s.supersedes]
            self.records[s.supersedes] = EvidenceRecord(
                old.submission, old.receipt, (*old.superseded_by, entry_id)
            )
        new.append(entry_id)
        return receipt

    # ------------------------------------------------------------------- read

    def _check_up(self) -> None:
        if not self.up["store"]:
            raise Unavailable("the store is down; retry with back-off")

    def get(self, entry_id: str) -> EvidenceRecord:
        self._check_up()
        record = self.records.get(entry_id)
        if record is None:
            raise NotFound(f"no entry {entry_id!r}")
        return record

    @staticmethod
    def _page(
        records: list[EvidenceRecord], page_size: int, page_token: str, scope: str
    ) -> tuple[list[EvidenceRecord], str]:
        start = 0
        if page_token:
            prefix, _, offset = page_token.partition(":")
            if prefix != scope or not offset.isdigit():
                raise InvalidArgument([("page_token", "is not a token of this query")])
            start = int(offset)
        page = records[start : start + page_size]
        end = start + len(page)
        return page, f"{scope}:{end}" if end < len(records) else ""

    def find(
        self, alg: str, digest: bytes, page_size: int, page_token: str
    ) -> tuple[list[EvidenceRecord], str]:
        self._check_up()
        matches = [
            self.records[e]
            for e in self.order
            if self.records[e].submission.hash_algorithm == alg
            and self.records[e].submission.digest == digest
        ]
        scope = hashlib.sha256(alg.encode() + digest).hexdigest()[:8]
        return self._page(matches, page_size, page_token, scope)

    def entry_ids_by_digest(self, alg: str, digest: bytes, limit: int) -> list[str]:
        records, _ = self.find(alg, digest, limit, "")
        return [r.receipt.entry_id for r in records]

    def list_by_loan(
        self, institution: str, loan_ref: str, page_size: int, page_token: str
    ) -> tuple[list[EvidenceRecord], str]:
        self._check_up()
        matches = sorted(
            (
                r
                for r in self.records.values()
                if (r.submission.institution, r.submission.loan_ref) == (institution, loan_ref)
            ),
            key=lambda r: r.receipt.loan_sequence,
        )
        scope = hashlib.sha256(f"{institution}\n{loan_ref}".encode()).hexdigest()[:8]
        return self._page(matches, page_size, page_token, scope)

    def checkpoint(self) -> str:
        self._check_up()
        return self.checkpoints[self.tree.size]

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> tuple[bytes, ...]:
        return tuple(inclusion_proof(self.nodes, leaf_index, tree_size))

    def leaf_index(self, leaf_hash: bytes) -> int:
        index = self.by_hash.get(leaf_hash)
        if index is None:
            raise NotFound(f"no leaf with hash {leaf_hash.hex()}")
        return index

    def consistency_proof(self, size1: int, size2: int) -> tuple[bytes, ...]:
        return tuple(consistency_proof(self.nodes, size1, size2))

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return [(i, self.leaves[i]) for i in range(start, min(end, len(self.leaves)))]

    def health(self) -> dict[str, bool]:
        return dict(self.up)

    async def close(self) -> None:
        self.closed = True


__all__ = ["FakeLedger", "ResourceExhausted"]

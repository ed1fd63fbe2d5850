"""What the servicers need from the core: the ledger's read and write operations.

:class:`gateway.ledger.Ledger` satisfies this protocol; the servicers are typed
against it only, so they stay thin and can be unit-tested with a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.access import GrantRequest
from gateway.anchor.model import StoredAnchor
from gateway.authz.policy import Delegation, ReadScope
from gateway.bundles import BundleMaterial, DossierMaterial
from gateway.model import EvidenceRecord, ItemResult, Receipt, Submission
from gateway.store.base import DayCount

__all__ = ["LedgerPort"]


class LedgerPort(Protocol):
    """The ledger as the gRPC edge uses it."""

    async def submit(self, items: Sequence[Submission]) -> list[ItemResult]:
        """Register ``items``; one result per item, in order, each durable when returned."""
        ...

    def get(self, entry_id: str, scope: ReadScope | None = None) -> EvidenceRecord:
        """The record with ``entry_id`` within ``scope``; raises ``NotFound``."""
        ...

    def find(
        self,
        alg: str,
        digest: bytes,
        page_size: int,
        page_token: str,
        scope: ReadScope | None = None,
    ) -> tuple[list[EvidenceRecord], str]:
        """Records with this digest within ``scope`` in ascending leaf index, and the
        next page token."""
        ...

    def entry_ids_by_digest(
        self, alg: str, digest: bytes, limit: int, scope: ReadScope | None = None
    ) -> list[str]:
        """Entry ids of the first ``limit`` records with this digest within ``scope``,
        ascending leaf index."""
        ...

    def list_by_loan(
        self,
        owner: str,
        loan_ref: str,
        page_size: int,
        page_token: str,
        scope: ReadScope | None = None,
    ) -> tuple[list[EvidenceRecord], str]:
        """Records of the loan ``(owner, loan_ref)`` within ``scope`` in ascending loan
        sequence, and the next page token."""
        ...

    def delegations_in_force(
        self, collector: str, owner: str, loan_refs: Sequence[str], at: datetime
    ) -> list[Delegation]:
        """The delegations from ``owner`` to ``collector`` in force at ``at``."""
        ...

    async def record_grant(self, grant: GrantRequest, now: datetime) -> list[Receipt]:
        """Register a grant's records, then put it in (or out of) force."""
        ...

    async def record_institution_change(
        self, operator: str, institution: str, change: str, request_id: str, now: datetime
    ) -> Receipt:
        """Register an operator's change to an institution as a log entry."""
        ...

    def statistics(
        self, first: datetime, last: datetime, page_size: int, page_token: str
    ) -> tuple[list[DayCount], str]:
        """A page of the counts per institution, kind and day, for the days ``first`` to
        ``last``, and the next page's token."""
        ...

    def checkpoint(self) -> str:
        """The latest signed checkpoint note."""
        ...

    def checkpoints(self, from_size: int, page_size: int, page_token: str) -> tuple[list[str], str]:
        """A page of the signed checkpoints of size ``from_size`` and up, ascending, and
        the next page token."""
        ...

    def evidence_bundle(
        self,
        *,
        entry_id: str | None = None,
        digest: tuple[str, bytes] | None = None,
        tree_size: int = 0,
        scope: ReadScope | None = None,
    ) -> BundleMaterial:
        """The bundle of one record within ``scope``; raises ``NotFound``."""
        ...

    def dossier(
        self,
        owner: str,
        loan_ref: str,
        *,
        tree_size: int = 0,
        max_records: int = ...,
        scope: ReadScope | None = None,
    ) -> DossierMaterial:
        """Every record of a loan ``scope`` may list; raises ``NotFound``."""
        ...

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> tuple[bytes, ...]: ...

    def leaf_index(self, leaf_hash: bytes) -> int:
        """The index of the leaf with this RFC 9162 leaf hash; raises ``NotFound``."""
        ...

    def consistency_proof(self, size1: int, size2: int) -> tuple[bytes, ...]: ...

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]: ...

    def anchor_covering(self, tree_size: int, chain: str | None = None) -> StoredAnchor | None:
        """The first confirmed anchor (on ``chain``, or any) of a tree size at least
        ``tree_size``; ``None`` when none covers it yet."""
        ...

    def anchor_chains(self) -> list[str]:
        """The names of the chains that have anchors stored, sorted."""
        ...

    def health(self) -> dict[str, bool]:
        """Dependency name -> up."""
        ...

    async def close(self) -> None: ...

"""The storage interface of the gateway core, independent of SQL.

:class:`Store` is what the ledger needs; :class:`gateway.store.sql.SqlStore`
implements it on SQLite and PostgreSQL. Records are write-once: nothing here
updates or deletes an entry, a node or a checkpoint (only each loan's head
pointer moves forward).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.anchor.model import StoredAnchor
from gateway.authz.policy import Delegation, ReadScope
from gateway.authz.roles import Role
from gateway.institutions import Institution, RegisteredCertificate, Status
from gateway.log.tree import Node, NodeID
from gateway.model import Submission

__all__ = [
    "DayCount",
    "InstitutionStore",
    "LoanHead",
    "LoanSalt",
    "Store",
    "StoreError",
    "StoredCheckpoint",
    "StoredEntry",
    "StoredGrant",
    "StoredOpening",
]


class StoreError(Exception):
    """The store cannot be reached or refused an operation (maps to UNAVAILABLE).

    Its message reaches callers, so it names the failure only, never the SQL
    or the values involved (other callers' data); the store logs the detail.
    """


@dataclass(frozen=True, slots=True)
class StoredOpening:
    """What opens a version 2 leaf besides the submission: owner, submitter, salts."""

    owner: str
    submitter: str
    record_salt: bytes
    loan_salt: bytes


@dataclass(frozen=True, slots=True)
class LoanSalt:
    """A loan's secret salt, stored at the loan's first version 2 record."""

    owner: str
    loan_ref: str
    salt: bytes


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One registered record as stored.

    ``receipt_size`` is the size of the checkpoint issued in the record's
    receipt (the first checkpoint containing it); ``previous_leaf_hash`` is
    ``b""`` for a loan's first record. ``opening`` is what opens a version 2
    leaf (``None`` for version 1; reads fetch it with :meth:`Store.openings`).
    """

    leaf_index: int
    entry_id: str
    submission: Submission
    received_at: datetime
    loan_sequence: int
    previous_leaf_hash: bytes
    leaf: bytes
    leaf_hash: bytes
    token: bytes
    receipt_size: int
    opening: StoredOpening | None = None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint: tree size, root hash and the signed note text."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True, slots=True)
class LoanHead:
    """The latest record of one loan's hash chain."""

    owner: str
    loan_ref: str
    sequence: int
    leaf_hash: bytes
    leaf_index: int


@dataclass(frozen=True, slots=True)
class StoredGrant:
    """A delegation (``grantee`` a collection agency) or a share (``grantee`` a court or
    arbitration body) of one loan, made by the log record ``entry_id`` (at
    ``leaf_index``); ``loan_ref`` is :data:`gateway.model.ALL_LOANS` for a delegation
    of all the owner's loans."""

    entry_id: str
    leaf_index: int
    owner: str
    grantee: str
    loan_ref: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DayCount:
    """Records one institution submitted of one kind on one UTC day (days since 1970)."""

    day: int
    institution: str
    kind: str
    count: int


class Store(Protocol):
    """Durable storage of entries, tree nodes, checkpoints and loan heads.

    Every method raises :class:`StoreError` when the database fails (or does
    not answer in time), and :class:`ValueError` for a position, size or
    limit outside the signed 64-bit range of the database's integers.
    """

    def append_batch(
        self,
        entries: Sequence[StoredEntry],
        nodes: Sequence[Node],
        checkpoint: StoredCheckpoint,
        loan_salts: Sequence[LoanSalt] = (),
        map_blocks: Sequence[tuple[str, int, bytes]] = (),
    ) -> None:
        """Write a group commit atomically and durably (one transaction, synced).

        Also moves each loan's head to its last entry in ``entries``, stores
        each entry's ``opening`` and the salts of loans new to version 2
        (``loan_salts``; a loan that has one already makes the commit fail) and the
        loan map's changed nodes ``(path, version, body)`` (:mod:`gateway.log.loanmap`).
        Either everything is written or nothing is.
        """
        ...

    def get_entry(self, entry_id: str, scope: ReadScope | None = None) -> StoredEntry | None:
        """The entry with this id within ``scope`` (None: any), or ``None``.

        Every read that takes a ``scope`` applies it in the query itself, so
        a record outside it is exactly a record that does not exist, and a
        page holds ``limit`` visible records.
        """
        ...

    def get_entries(self, entry_ids: Iterable[str]) -> dict[str, StoredEntry]:
        """The entries with these ids that exist, by id."""
        ...

    def find_by_digest(
        self,
        hash_algorithm: str,
        digest: bytes,
        limit: int,
        after_index: int = -1,
        scope: ReadScope | None = None,
    ) -> list[StoredEntry]:
        """Entries with this digest and leaf index > ``after_index``.

        Ascending leaf index, at most ``limit``.
        """
        ...

    def entry_ids_by_digest(
        self,
        hash_algorithm: str,
        digest: bytes,
        limit: int,
        below: int,
        scope: ReadScope | None = None,
    ) -> list[str]:
        """The ids of the first ``limit`` entries with this digest and a leaf index
        below ``below``, ascending leaf index."""
        ...

    def list_by_loan(
        self,
        owner: str,
        loan_ref: str,
        after_sequence: int,
        limit: int,
        scope: ReadScope | None = None,
    ) -> list[StoredEntry]:
        """A loan's entries with loan_sequence > ``after_sequence``, ascending."""
        ...

    def loan_head(self, owner: str, loan_ref: str) -> LoanHead | None:
        """The head of a loan's chain, or ``None`` for an unknown loan."""
        ...

    def loan_heads(self, loans: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LoanHead]:
        """The heads of several loans (unknown loans are left out)."""
        ...

    def loan_salts(self, loans: Iterable[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        """The secret salts of these ``(owner, loan_ref)`` loans (loans without one are
        left out)."""
        ...

    def openings(self, leaf_indexes: Iterable[int]) -> dict[int, StoredOpening]:
        """What opens the version 2 leaves at these indexes (version 1 leaves are left out)."""
        ...

    def case_documents(self, leaf_indexes: Sequence[int]) -> dict[int, bytes]:
        """The case event documents (DER, docs/cases.md) of the case event records at these
        indexes (other records are left out)."""
        ...

    def entry_by_request(self, institution: str, request_id: str) -> StoredEntry | None:
        """The entry registered under this idempotency key, or ``None``."""
        ...

    def entries_by_requests(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredEntry]:
        """The entries registered under several ``(institution, request_id)`` keys."""
        ...

    def superseded_by(
        self, entry_ids: Iterable[str], scope: ReadScope | None = None
    ) -> dict[str, tuple[str, ...]]:
        """For each id, the ids of the entries within ``scope`` superseding it, in log order."""
        ...

    def claim_grant_request(self, owner: str, request_id: str, fingerprint: bytes) -> bytes:
        """Keep ``fingerprint`` (what a grant call asks for) under ``(owner, request_id)``
        unless one is kept there already; returns the one kept (the first call's)."""
        ...

    def add_grants(self, table: str, grants: Sequence[StoredGrant]) -> None:
        """Record delegations (``table`` "delegations") or shares ("shares"); a grant
        whose entry id is already recorded is left as it is (a retried call).

        The log decides: a grant whose loan (or all loans) the log records a
        revocation of, of the same owner and grantee, AFTER the grant's own record
        (a retry that comes after its revocation) is recorded as ended then, never
        put in force."""
        ...

    def revoke_grants(
        self,
        table: str,
        owner: str,
        grantee: str,
        revocations: Sequence[tuple[str, int]],
        at: datetime,
    ) -> int:
        """End at ``at`` the grants in force of ``owner`` to ``grantee`` that each
        revocation ``(loan_ref, leaf_index)`` covers (the loan; every loan and a grant
        of all loans for :data:`~gateway.model.ALL_LOANS`) and whose record comes
        BEFORE the revocation's record at ``leaf_index`` in the log: a replayed
        revocation never ends a grant recorded after it. Returns how many ended."""
        ...

    def delegations(
        self, collector: str, owner: str, loan_refs: Iterable[str], at: datetime
    ) -> list[Delegation]:
        """The delegations in force at ``at`` from ``owner`` to ``collector`` covering
        any of ``loan_refs`` (by name or as a delegation of all loans)."""
        ...

    def day_counts(
        self, first_day: int, last_day: int, after: tuple[int, str, str] | None, limit: int
    ) -> list[DayCount]:
        """At most ``limit`` counts of days ``first_day`` to ``last_day`` (days since
        1970), ordered by day, institution and kind, after the key ``after`` (``(day,
        institution, kind)``; ``None``: from the first)."""
        ...

    def anchor_covering(self, size: int, chain_name: str | None = None) -> StoredAnchor | None:
        """The first confirmed anchor (on ``chain_name``, or any) of a tree size at least
        ``size``, or ``None``."""
        ...

    def anchor_chain_names(self, limit: int = 16) -> list[str]:
        """The names of the chains that have anchors stored, sorted, at most ``limit``."""
        ...

    def map_block(self, path: str, version: int) -> bytes | None:
        """The body of the loan map's node at ``path`` in the map of checkpoint size
        ``version`` (the one written at the largest version not above it), or ``None``."""
        ...

    def map_blocks(self, version: int) -> list[tuple[str, bytes]]:
        """Every node ``(path, body)`` of the loan map of checkpoint size ``version``
        (reads the whole table: the ledger's start only)."""
        ...

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """Node hashes in order (:class:`gateway.log.tree.NodeReader`)."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest size, or ``None`` for a new store."""
        ...

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly this size, or ``None``."""
        ...

    def checkpoints_from(self, from_size: int, limit: int) -> list[StoredCheckpoint]:
        """At most ``limit`` checkpoints of size ``from_size`` and up, ascending size."""
        ...

    def entries_range(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """``(leaf_index, leaf)`` for the leaves in ``[start, end)``, ascending."""
        ...

    def leaf_index_by_hash(self, leaf_hash: bytes) -> int | None:
        """The index of the leaf with this RFC 9162 leaf hash, or ``None``."""
        ...

    def ping(self) -> bool:
        """Whether the database answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class InstitutionStore(Protocol):
    """The institutions registry (see :mod:`gateway.institutions`).

    Writes go through the store's writer lock; reads see every committed
    change, so the gateway's next call after a change sees it. Methods raise
    ``gateway.errors.Unavailable`` when the database fails; those that change a named
    institution raise ``gateway.errors.NotFound`` for an unknown one and
    ``AlreadyExists`` for a name or fingerprint already registered.
    """

    def create(
        self, name: str, role: Role, certificate: RegisteredCertificate, now: datetime
    ) -> Institution:
        """Register a new, active institution with its first certificate."""
        ...

    def get(self, name: str) -> Institution | None:
        """The institution and its certificates, or ``None``."""
        ...

    def list(self, after: str, limit: int) -> list[Institution]:
        """Institutions with a name after ``after``, by name, at most ``limit``."""
        ...

    def set_status(self, name: str, status: Status, now: datetime) -> Institution:
        """Change the status; revoking also revokes every certificate (final)."""
        ...

    def add_certificate(
        self, certificate: RegisteredCertificate, retire_others_at: datetime | None
    ) -> Institution:
        """Add a certificate; the others then count at most until ``retire_others_at``."""
        ...

    def revoke_certificate(self, name: str, sha256: bytes, now: datetime) -> Institution:
        """Revoke one certificate of the institution (final)."""
        ...

    def standing(self, name: str) -> tuple[Role, Status] | None:
        """The role and status of the institution named, or ``None`` (one key lookup)."""
        ...

    def by_fingerprint(
        self, sha256: bytes
    ) -> tuple[str, Role, Status, RegisteredCertificate] | None:
        """The institution (name, role, status) and the certificate with this fingerprint."""
        ...

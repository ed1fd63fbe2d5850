"""The read side of the ledger: records, receipts, proofs and pages, from the store.

:class:`LedgerReads` is mixed into :class:`gateway.ledger.Ledger`, which owns
the write path and sets ``_store`` and ``_checkpoints`` (a bounded cache of
checkpoint notes). Every read answers only for what the latest *published*
checkpoint covers (:meth:`LedgerReads.published`: the store's own latest
checkpoint), so whatever is served can be proven. Published sizes only grow:
a record or tree size at most the largest one a read has already seen is
known to be covered without reading the latest checkpoint again.
Every read here costs O(log n) in the size of the log: one or a few indexed
store queries (their plans are checked by ``tests/unit/gateway/store``) and
O(log n) tree nodes per proof, never a scan.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Sequence

from court.evidence.leaf import LeafError
from court.evidence.opening import LeafOpening
from court.verify.loanmap import LoanHeadProof, LoanMapError, map_root_of, verify_loan_head
from gateway.anchor.model import StoredAnchor
from gateway.authz.policy import ReadScope
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from gateway.leaves import opening_of
from gateway.log.loanmap import prove as prove_loan_head
from gateway.log.tree import MissingNodeError, consistency_proof, inclusion_plan, inclusion_proof
from gateway.model import (
    DIGEST_SIZES,
    HASH_ALGORITHM_RULE,
    EvidenceRecord,
    Receipt,
    validate_entry_id,
    validate_institution,
    validate_loan_ref,
)
from gateway.store.base import Store, StoredCheckpoint, StoredEntry, StoreError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_ENTRIES", "MAX_PAGE_SIZE", "LedgerReads", "receipt_of"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_ENTRIES = 1000
_CHECKPOINT_CACHE = 4096  # checkpoint notes kept in memory (one per commit)


def _page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument([("page_size", "must not be negative (0 means 100)")])
    if page_size == 0:
        return DEFAULT_PAGE_SIZE
    return min(page_size, MAX_PAGE_SIZE)


def _fingerprint(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(4, "big") + p)
    return h.digest()[:8]


def _encode_token(kind: bytes, position: int, fingerprint: bytes) -> str:
    raw = kind + position.to_bytes(8, "big") + fingerprint
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_token(token: str, kind: bytes, fingerprint: bytes) -> int:
    """The position after which the next page starts (-1 for the first page)."""
    if not token:
        return -1
    bad = InvalidArgument(
        [("page_token", "is not a next_page_token of this same query; start from an empty one")]
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise bad from None
    if len(raw) != 17 or raw[:1] != kind or raw[9:] != fingerprint:
        raise bad
    position = int.from_bytes(raw[1:9], "big")
    if position >= 1 << 63:  # never issued: positions are signed 64-bit in the store
        raise bad
    return position


def _check_digest(hash_algorithm: str, digest: bytes) -> None:
    size = DIGEST_SIZES.get(hash_algorithm)
    if size is None:
        raise InvalidArgument([("hash_algorithm", HASH_ALGORITHM_RULE)])
    if len(digest) != size:
        raise InvalidArgument(
            [("digest", f"must be {size} bytes for {hash_algorithm}, got {len(digest)}")]
        )


class LedgerReads:
    """The ledger's read operations (see the module docstring)."""

    _store: Store
    _checkpoints: dict[int, str]
    # The largest published size a read has seen. Published sizes only grow, so a
    # size at most this one is covered without reading the store again (_covered).
    _published_floor: int = 0

    def published(self) -> StoredCheckpoint:
        """The latest published checkpoint: the bound of every read.

        It is the store's own latest checkpoint. A group commit writes its
        entries, their tree nodes and the checkpoint covering them in one
        transaction, so everything at or below this size can be proven from
        the store, and a record that a read returns is covered by every
        checkpoint a later read returns (the size only grows). The writer's
        in-memory tree is never consulted: it lags the store between a commit
        and the answers to its callers, and in another process reading the
        same store it never moves. One indexed read (the checkpoints' primary
        key). Raises :class:`Unavailable` if the store fails.
        """
        try:
            latest = self._store.latest_checkpoint()
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        if latest is None:
            raise Unavailable("the store holds no checkpoint; retry later")
        self._remember_checkpoint(latest.size, latest.note)
        if latest.size > self._published_floor:
            self._published_floor = latest.size
        return latest

    @property
    def size(self) -> int:
        """The size of the latest published checkpoint (see :meth:`published`)."""
        return self.published().size

    def _covered(self, size: int) -> bool:
        """Whether the latest published checkpoint covers ``size`` leaves: without a
        store read when an earlier read saw a published size at least as large (a
        later one is never smaller), else with one (:meth:`published`)."""
        return size <= self._published_floor or size <= self.size

    def _remember_checkpoint(self, size: int, note: str) -> None:
        """Cache a checkpoint note; the cache stays bounded (one note per commit)."""
        if len(self._checkpoints) >= _CHECKPOINT_CACHE:
            self._checkpoints.clear()
        self._checkpoints[size] = note

    def _checkpoint_note(self, size: int) -> str:
        note = self._checkpoints.get(size)
        if note is None:
            stored = self._store.checkpoint_at(size)
            if stored is None:
                raise Unavailable(f"the checkpoint of size {size} is missing from the store")
            note = stored.note
            self._remember_checkpoint(size, note)
        return note

    def _receipt(self, entry: StoredEntry) -> Receipt:
        """The receipt as issued at registration (checkpoint and proof of that size)."""
        return self._receipts([entry])[0]

    def _receipts(self, entries: Sequence[StoredEntry]) -> list[Receipt]:
        """The registration receipts of ``entries``, reading all proof nodes (and the
        openings of version 2 leaves) at once."""
        try:
            entries = self._with_openings(entries)
            notes = {
                size: self._checkpoint_note(size) for size in {e.receipt_size for e in entries}
            }
            plans = [inclusion_plan(e.leaf_index, e.receipt_size) for e in entries]
            wanted = list(dict.fromkeys(i for plan in plans for i in plan.ids))
            nodes = dict(zip(wanted, self._store.get_nodes(wanted), strict=True)) if wanted else {}
        except (StoreError, MissingNodeError) as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        return [
            receipt_of(
                e,
                notes[e.receipt_size],
                tuple(plan.assemble([nodes[i] for i in plan.ids])) if plan.ids else (),
            )
            for e, plan in zip(entries, plans, strict=True)
        ]

    def _with_openings(self, entries: Sequence[StoredEntry]) -> Sequence[StoredEntry]:
        """``entries`` with their stored openings (one primary-key query for those without)."""
        wanted = [e.leaf_index for e in entries if e.opening is None]
        if not wanted:
            return entries
        found = self._store.openings(wanted)
        if not found:
            return entries
        return [
            e
            if e.opening is not None or e.leaf_index not in found
            else dataclasses.replace(e, opening=found[e.leaf_index])
            for e in entries
        ]

    def _records(
        self, entries: list[StoredEntry], scope: ReadScope | None = None
    ) -> list[EvidenceRecord]:
        try:
            later = (
                self._store.superseded_by((e.entry_id for e in entries), scope) if entries else {}
            )
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        return [
            EvidenceRecord(
                submission=e.submission,
                receipt=receipt,
                superseded_by=later.get(e.entry_id, ()),
            )
            for e, receipt in zip(entries, self._receipts(entries), strict=True)
        ]

    def get(self, entry_id: str, scope: ReadScope | None = None) -> EvidenceRecord:
        """The record with this entry id within ``scope`` (None: any).

        :class:`NotFound` if there is none; a record outside ``scope`` is not
        found, with the same message (the scope is a condition of the query).
        """
        problems = validate_entry_id(entry_id)
        if problems:
            raise InvalidArgument(problems)
        try:
            entry = self._store.get_entry(entry_id, scope)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        if entry is None or not self._covered(entry.leaf_index + 1):
            raise NotFound(f"no evidence record has the entry id {entry_id!r}; check the receipt")
        return self._records([entry], scope)[0]

    def find(
        self,
        hash_algorithm: str,
        digest: bytes,
        page_size: int,
        page_token: str,
        scope: ReadScope | None = None,
    ) -> tuple[list[EvidenceRecord], str]:
        """Records with this digest within ``scope``, in log order; returns
        ``(records, next_page_token)``."""
        _check_digest(hash_algorithm, digest)
        return self._page(
            b"F",
            _fingerprint(hash_algorithm.encode(), digest),
            page_size,
            page_token,
            lambda after, n: self._store.find_by_digest(hash_algorithm, digest, n, after, scope),
            lambda e: e.leaf_index,
            scope,
        )

    def entry_ids_by_digest(
        self, hash_algorithm: str, digest: bytes, limit: int, scope: ReadScope | None = None
    ) -> list[str]:
        """The entry ids of the first ``limit`` published records with this digest, in log order.

        Reads the ids only (one index range, no receipts): a bounded answer
        whatever the number of records with this digest.
        """
        _check_digest(hash_algorithm, digest)
        if limit < 1:
            raise ValueError("limit must be positive")
        visible = self.size
        try:
            return self._store.entry_ids_by_digest(hash_algorithm, digest, limit, visible, scope)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc

    def list_by_loan(
        self,
        owner: str,
        loan_ref: str,
        page_size: int,
        page_token: str,
        scope: ReadScope | None = None,
    ) -> tuple[list[EvidenceRecord], str]:
        """The records of the loan ``(owner, loan_ref)`` within ``scope``, in chain order;
        returns ``(records, next_page_token)``."""
        problems = validate_loan_ref(loan_ref) + validate_institution(owner)
        if problems:
            raise InvalidArgument(problems)
        return self._page(
            b"L",
            _fingerprint(owner.encode(), loan_ref.encode()),
            page_size,
            page_token,
            lambda after, n: self._store.list_by_loan(owner, loan_ref, max(after, 0), n, scope),
            lambda e: e.loan_sequence,
            scope,
        )

    def _page(
        self,
        kind: bytes,
        fingerprint: bytes,
        page_size: int,
        page_token: str,
        fetch: Callable[[int, int], list[StoredEntry]],
        position: Callable[[StoredEntry], int],
        scope: ReadScope | None = None,
    ) -> tuple[list[EvidenceRecord], str]:
        """One page: ``fetch(after, n)`` reads n entries past the token's position."""
        limit = _page_size(page_size)
        after = _decode_token(page_token, kind, fingerprint)
        visible = self.size
        try:
            found = fetch(after, limit + 1)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        # Entries past the published checkpoint cannot be proven yet: not served.
        found = [e for e in found if e.leaf_index < visible]
        more = len(found) > limit
        found = found[:limit]
        token = _encode_token(kind, position(found[-1]), fingerprint) if more else ""
        return self._records(found, scope), token

    def checkpoint(self) -> str:
        """The latest published checkpoint (C2SP signed note text)."""
        return self.published().note

    def checkpoint_at(self, size: int) -> str:
        """The signed checkpoint of exactly ``size`` (one exists per group commit)."""
        latest = self.size
        if size < 0 or size > latest:
            raise InvalidArgument([("tree_size", f"must be between 0 and {latest}")])
        try:
            return self._checkpoint_note(size)
        except Unavailable:
            raise NotFound(f"no checkpoint was signed at size {size}") from None

    def checkpoints(self, from_size: int, page_size: int, page_token: str) -> tuple[list[str], str]:
        """The signed checkpoints of size ``from_size`` and up, ascending, one page of at
        most ``page_size`` (0 means 100; larger than 1,000 means 1,000, as for the other
        lists), and the next page's token (empty after the last one so far). One range read
        of the checkpoints' primary key."""
        limit = _page_size(page_size)
        fingerprint = _fingerprint(str(from_size).encode())
        after = _decode_token(page_token, b"C", fingerprint)
        latest = self.size
        start = max(from_size, after + 1)
        if start > latest:
            return [], ""
        try:
            found = self._store.checkpoints_from(start, limit + 1)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        found = [c for c in found if c.size <= latest]
        more = len(found) > limit
        found = found[:limit]
        token = _encode_token(b"C", found[-1].size, fingerprint) if more else ""
        return [c.note for c in found], token

    def _resolve_size(self, size: int, field_name: str) -> int:
        if size < 0:
            raise InvalidArgument([(field_name, "must not be negative")])
        if size == 0:
            return self.size
        if not self._covered(size):
            raise InvalidArgument(
                [(field_name, f"is larger than the latest checkpoint's size {self.size}")]
            )
        return size

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> tuple[bytes, ...]:
        """The inclusion proof of a leaf at ``tree_size`` (0: the latest checkpoint's)."""
        size = self._resolve_size(tree_size, "tree_size")
        if leaf_index < 0 or leaf_index >= size:
            raise InvalidArgument([("leaf_index", f"must be below the tree size {size}")])
        try:
            return tuple(inclusion_proof(self._store, leaf_index, size))
        except (StoreError, MissingNodeError) as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc

    def loan_head_proof(self, loan_key: bytes, tree_size: int) -> LoanHeadProof | None:
        """The proof of a loan's head in the loan map of the checkpoint of exactly
        ``tree_size`` (any published one carrying a ``loan-map/v1`` line), or ``None`` if
        the loan has no record below that size. A few primary-key reads (one per
        radix-16 level of the map); the proof is checked against the checkpoint's
        line before it is returned.

        :class:`InvalidArgument` for a key that is not 32 bytes or a size beyond the
        latest checkpoint, :class:`NotFound` for a size with no checkpoint or whose
        checkpoint was written before the map existed, :class:`FailedPrecondition`
        if the stored map does not match the checkpoint (a damaged database).
        """
        if not isinstance(loan_key, bytes) or len(loan_key) != 32:
            raise InvalidArgument([("loan_key", "must be 32 bytes (a version 2 leaf's loanKey)")])
        if type(tree_size) is not int:
            raise InvalidArgument([("tree_size", f"must be between 0 and {self.size}")])
        note = self.checkpoint_at(tree_size)
        try:
            root = map_root_of(note)
            if root is None:
                raise NotFound(
                    f"the checkpoint of size {tree_size} was signed before the loan map "
                    "existed (it has no loan-map/v1 line); use a later checkpoint"
                )
            proof = prove_loan_head(self._store, loan_key, tree_size)
            if proof is not None:
                verify_loan_head(proof, root)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        except LoanMapError as exc:
            raise FailedPrecondition(
                f"the stored loan map does not match the checkpoint of size {tree_size} ({exc})"
            ) from exc
        return proof

    def leaf_index(self, leaf_hash: bytes) -> int:
        """The index of the leaf with this RFC 9162 leaf hash. :class:`NotFound` if none."""
        if len(leaf_hash) != 32:
            raise InvalidArgument([("leaf_hash", "must be 32 bytes (an RFC 9162 leaf hash)")])
        visible = self.size
        try:
            index = self._store.leaf_index_by_hash(leaf_hash)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc
        if index is None or index >= visible:
            raise NotFound("no leaf of the log has this leaf hash")
        return index

    def anchor_covering(self, tree_size: int, chain: str | None = None) -> StoredAnchor | None:
        """The first confirmed anchor (on ``chain``, or any) of a tree size at least
        ``tree_size``, ``None`` when none covers it yet. One indexed read."""
        try:
            return self._store.anchor_covering(tree_size, chain)
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc

    def anchor_chains(self) -> list[str]:
        """The names of the chains that have anchors stored (at most 16), sorted."""
        try:
            return self._store.anchor_chain_names()
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc

    def consistency_proof(self, size1: int, size2: int) -> tuple[bytes, ...]:
        """The consistency proof from ``size1`` to ``size2`` (0: the latest size)."""
        to_size = self._resolve_size(size2, "to_size")
        if size1 < 1:
            raise InvalidArgument([("from_size", "must be at least 1")])
        if size1 > to_size:
            raise InvalidArgument([("from_size", f"must not be larger than to_size {to_size}")])
        try:
            return tuple(consistency_proof(self._store, size1, to_size))
        except (StoreError, MissingNodeError) as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Leaves ``[start, end)`` as ``(index, leaf)``: at most 1,000, from ``start``."""
        latest = self.size
        if start < 0:
            raise InvalidArgument([("start", "must not be negative")])
        if end <= start:
            raise InvalidArgument([("end", "must be greater than start")])
        if end > latest:
            raise InvalidArgument(
                [("end", f"must not exceed the latest checkpoint's size {latest}")]
            )
        try:
            return self._store.entries_range(start, min(end, start + MAX_ENTRIES))
        except StoreError as exc:
            raise Unavailable(f"the store is unavailable ({exc}); retry later") from exc


def receipt_of(
    entry: StoredEntry,
    note: str,
    proof: tuple[bytes, ...],
    private_record: bytes | None = None,
) -> Receipt:
    """The receipt of ``entry`` with this checkpoint note and inclusion proof (and the
    opening of its version 2 leaf, when ``entry`` carries the stored one: rebuilt, or
    from ``private_record``, the one its leaf was just sealed with)."""
    opening = None
    if entry.opening is not None and private_record is not None:
        opening = LeafOpening(private_record=private_record, loan_salt=entry.opening.loan_salt)
    elif entry.opening is not None:
        try:
            opening = opening_of(entry.submission, entry.opening)
        except LeafError as exc:  # pragma: no cover - the same values made its leaf
            raise Unavailable(f"the record's opening cannot be rebuilt ({exc})") from exc
    return Receipt(
        entry_id=entry.entry_id,
        leaf_index=entry.leaf_index,
        leaf=entry.leaf,
        timestamp_token=entry.token,
        checkpoint=note,
        tree_size=entry.receipt_size,
        inclusion_proof=proof,
        received_at=entry.received_at,
        loan_sequence=entry.loan_sequence,
        previous_leaf_hash=entry.previous_leaf_hash,
        opening=opening,
    )

"""Evidence bundles and loan dossiers: what a court verifies offline, read from the store.

:class:`LedgerBundles` is mixed into :class:`gateway.ledger.Ledger` (as
:class:`gateway.reads.LedgerReads` is). It reads, for one record
(:meth:`LedgerBundles.evidence_bundle`) or for every record of one loan
(:meth:`LedgerBundles.dossier`), everything the court's verifier needs besides
its trust material: the leaves, tokens and openings, the inclusion proofs at
one signed checkpoint, the proof of the loan's head in that checkpoint's loan
map (docs/loan-map.md) and the first anchor on chain with the consistency
proof that ties the checkpoint to it. The results are plain model objects;
:mod:`gateway.api.bundle_convert` turns them into the ``EvidenceBundle`` and
``Dossier`` messages (docs/bundles.md).

Who gets what is the read rules' (docs/access.md), applied in the store's
queries as for every read: a bundle's record is one the caller may read
(``GetEvidence``'s scope), a dossier's loan one the caller may list
(``ListEvidence``'s: at least one of its records in the checkpoint is
visible to the caller). Anything else is :class:`NotFound` with the message
a record or loan that does not exist gets, and nothing about the loan is read
before that is decided. A dossier then holds every record of the loan in the
checkpoint, because completeness is what it proves; those the caller may not
read are *withheld*: their public leaf and inclusion proof only, no token (its
imprint is the private digest), no opening, no ``superseded_by``.

Work: a bundle is a few indexed reads and O(log n) tree nodes; a dossier of
``k`` records one read of the loan's records the caller may read
(``uq_entries_chain``, scoped as ``ListEvidence``'s), a second of all of them
when some are withheld, one of their openings and one batched read of the
nodes of ``k`` inclusion proofs, bounded by ``max_records``; the documents of the
case event records the caller may read (docs/cases.md) are one more batched read
(of ``case_events`` by leaf index), made only when there are such records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from court.errors import CourtError
from court.evidence.leaf_v2 import derive_loan_key
from court.evidence.opening import LeafOpening
from court.verify.loanmap import LoanHeadProof, map_root_of
from gateway.anchor.model import StoredAnchor
from gateway.authz.policy import ReadScope
from gateway.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from gateway.leaves import opening_of
from gateway.log.tree import MissingNodeError, consistency_proof, inclusion_proofs
from gateway.model import CASE_KINDS
from gateway.store.base import Store, StoredCheckpoint, StoredEntry, StoreError

__all__ = [
    "DEFAULT_MAX_RECORDS",
    "MAX_OTHER_ENTRY_IDS",
    "AnchorMaterial",
    "BundleMaterial",
    "DossierMaterial",
    "LedgerBundles",
    "RecordMaterial",
    "no_loan",
    "no_record",
]

#: A dossier holds at most this many records (``max_records`` 0 means this; more is refused).
DEFAULT_MAX_RECORDS: Final = 10_000
#: A bundle by digest lists at most this many other records with the digest.
MAX_OTHER_ENTRY_IDS: Final = 1000


@dataclass(frozen=True, slots=True)
class RecordMaterial:
    """One record as a bundle or a dossier carries it.

    ``opening`` is ``None`` for a version 1 leaf (which has none) and for a
    withheld record (``withheld``: in a dossier, a record of the loan the
    caller may not read), whose ``timestamp_token`` is ``None`` too: the
    token's message imprint is the document's digest, which is private (and for
    a share revocation, whose document is all known but the grantee, would tell
    with whom the loan had been shared). ``inclusion_proof`` is at the size of the bundle's or
    dossier's checkpoint; ``superseded_by`` lists the later records the caller
    may read that correct this one, in log order.
    """

    entry_id: str
    leaf_index: int
    leaf: bytes
    leaf_hash: bytes
    timestamp_token: bytes | None
    opening: LeafOpening | None
    inclusion_proof: tuple[bytes, ...]
    superseded_by: tuple[str, ...] = ()
    withheld: bool = False
    #: The document of a case event record the caller may read (the DER case event
    #: document the gateway wrote and keeps, docs/cases.md); ``None`` for any other.
    document: bytes | None = None


@dataclass(frozen=True, slots=True)
class AnchorMaterial:
    """The first confirmed anchor covering a leaf, and the consistency proof between the
    anchored size and the bundle's checkpoint size (``from_size`` the smaller)."""

    anchor: StoredAnchor
    from_size: int
    to_size: int
    consistency_proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BundleMaterial:
    """One record, proven in the signed checkpoint ``checkpoint`` (of ``tree_size``)."""

    checkpoint: str
    tree_size: int
    record: RecordMaterial
    anchor: AnchorMaterial | None
    #: By digest: the other records with it the caller may read (at most 1,000).
    other_entry_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DossierMaterial:
    """Every record of one loan in the checkpoint, in loan_sequence order, and the proof of
    the loan's head (the last of them) in the checkpoint's loan map."""

    checkpoint: str
    tree_size: int
    records: tuple[RecordMaterial, ...]
    loan_head: LoanHeadProof
    anchor: AnchorMaterial | None


def no_record(entry_id: str) -> NotFound:
    """The answer for a record that does not exist or that the caller may not read (the
    same text as GetEvidence's)."""
    return NotFound(f"no evidence record has the entry id {entry_id!r}; check the receipt")


def no_digest() -> NotFound:
    return NotFound("no evidence record has this digest")


def no_loan(loan_ref: str) -> NotFound:
    """The answer for a loan that does not exist, that the caller may not list, or that has
    no record in the checkpoint: one text for all three."""
    return NotFound(
        f"no loan {loan_ref!r} with records in this checkpoint among the loans you may read"
    )


def _down(exc: Exception) -> Unavailable:
    return Unavailable(f"the store is unavailable ({exc}); retry later")


class LedgerBundles:
    """Bundles and dossiers on the ledger's store (mixed into Ledger, see the module doc)."""

    _store: Store

    def published(self) -> StoredCheckpoint:
        raise NotImplementedError  # pragma: no cover - LedgerReads'

    def loan_head_proof(self, loan_key: bytes, tree_size: int) -> LoanHeadProof | None:
        raise NotImplementedError  # pragma: no cover - the loan map's (Ledger)

    # ------------------------------------------------------------ checkpoints

    def map_checkpoint(self, tree_size: int) -> StoredCheckpoint:
        """The checkpoint to prove against: the latest for 0, else the signed checkpoint of
        exactly ``tree_size``, which must carry the loan map's line. InvalidArgument naming
        ``tree_size`` otherwise (the answer depends on the log only, never on a record)."""
        latest = self.published()
        if tree_size == 0:
            return latest
        if tree_size < 0 or tree_size > latest.size:
            raise InvalidArgument(
                [
                    (
                        "tree_size",
                        f"is {tree_size}, beyond the latest checkpoint's size {latest.size}",
                    )
                ]
            )
        try:
            stored = latest if tree_size == latest.size else self._store.checkpoint_at(tree_size)
        except StoreError as exc:
            raise _down(exc) from exc
        if stored is None:
            raise InvalidArgument(
                [
                    (
                        "tree_size",
                        f"is {tree_size}: the log signed no checkpoint of that size "
                        "(LogService.ListCheckpoints lists those it signed); 0 means the latest",
                    )
                ]
            )
        if map_root_of(stored.note) is None:
            raise InvalidArgument(
                [
                    (
                        "tree_size",
                        f"is {tree_size}: that checkpoint was signed before the log kept its "
                        'loan map (it has no "loan-map/v1" line); use a later one, or 0 for '
                        "the latest",
                    )
                ]
            )
        return stored

    # ----------------------------------------------------------------- bundle

    def evidence_bundle(
        self,
        *,
        entry_id: str | None = None,
        digest: tuple[str, bytes] | None = None,
        tree_size: int = 0,
        scope: ReadScope | None = None,
    ) -> BundleMaterial:
        """The bundle of the record with ``entry_id``, or of the earliest record with
        ``digest`` (``(hash_algorithm, value)``), among those ``scope`` may read.

        NotFound for a record outside ``scope`` exactly as for one that does not exist;
        InvalidArgument naming ``tree_size`` for a size that is not a checkpoint with
        the loan map (checked first, whatever the record) or that does not contain the
        record (checked only for a record the caller may read).
        """
        if (entry_id is None) == (digest is None):
            raise ValueError("give entry_id or digest")
        checkpoint = self.map_checkpoint(tree_size)
        latest = self.published().size
        others: tuple[str, ...] = ()
        try:
            if entry_id is not None:
                entry = self._store.get_entry(entry_id, scope)
                if entry is None or entry.leaf_index >= latest:
                    raise no_record(entry_id)
            else:
                assert digest is not None
                found = self._store.find_by_digest(digest[0], digest[1], 1, -1, scope)
                if not found or found[0].leaf_index >= latest:
                    raise no_digest()
                entry = found[0]
                ids = self._store.entry_ids_by_digest(
                    digest[0], digest[1], MAX_OTHER_ENTRY_IDS + 1, latest, scope
                )
                others = tuple(i for i in ids if i != entry.entry_id)[:MAX_OTHER_ENTRY_IDS]
            size = checkpoint.size
            if entry.leaf_index >= size:
                raise InvalidArgument(
                    [
                        (
                            "tree_size",
                            f"is {size}: that checkpoint does not contain the record (leaf "
                            f"{entry.leaf_index}); use a larger one, or 0 for the latest",
                        )
                    ]
                )
            later = self._store.superseded_by([entry.entry_id], scope).get(entry.entry_id, ())
            if later:  # only those in the checkpoint
                known = self._store.get_entries(later)
                later = tuple(i for i in later if i in known and known[i].leaf_index < size)
            record = self._materials([entry], {entry.leaf_index}, size)[0]
            anchor = self._anchor(entry.leaf_index, size)
        except (StoreError, MissingNodeError) as exc:
            raise _down(exc) from exc
        return BundleMaterial(
            checkpoint=checkpoint.note,
            tree_size=size,
            record=dataclasses.replace(record, superseded_by=later),
            anchor=anchor,
            other_entry_ids=others,
        )

    # ---------------------------------------------------------------- dossier

    def dossier(
        self,
        owner: str,
        loan_ref: str,
        *,
        tree_size: int = 0,
        max_records: int = DEFAULT_MAX_RECORDS,
        scope: ReadScope | None = None,
    ) -> DossierMaterial:
        """Every record of the loan ``(owner, loan_ref)`` in the checkpoint, for a caller
        (``scope``) that may list the loan (see the module doc).

        Raises InvalidArgument (``tree_size``), NotFound (the loan is not one the caller
        may list, or has no record in the checkpoint: one answer),
        ResourceExhausted (more than ``max_records`` records: the message says how
        many), FailedPrecondition (the loan's records in the checkpoint are version 1
        leaves only, which the map does not hold), Unavailable (store down, or no
        checkpoint with the loan map yet).
        """
        if not 1 <= max_records <= DEFAULT_MAX_RECORDS:
            raise ValueError(f"max_records must be 1 to {DEFAULT_MAX_RECORDS}")
        checkpoint = self.map_checkpoint(tree_size)
        size = checkpoint.size
        if map_root_of(checkpoint.note) is None:  # the latest, signed before the map existed
            raise Unavailable(
                "the log has not signed a checkpoint with its loan map yet (its next commit "
                "will); retry later"
            )
        try:
            readable = [
                e
                for e in self._store.list_by_loan(owner, loan_ref, 0, max_records + 1, scope)
                if e.leaf_index < size
            ]
            if not readable:
                raise no_loan(loan_ref)
            # Only now, for a loan the caller may list: its head in the map, then all of it.
            salt = self._store.loan_salts([(owner, loan_ref)]).get((owner, loan_ref))
            head = (
                None
                if salt is None
                else self.loan_head_proof(derive_loan_key(salt, owner, loan_ref), size)
            )
            if head is None:
                raise FailedPrecondition(
                    "the loan has no record in this checkpoint's loan map (its records there "
                    "are version 1 leaves, which the map does not hold); get each record's "
                    "bundle with GetEvidenceBundle instead"
                )
            count = head.head.loan_sequence
            if count > max_records:
                raise ResourceExhausted(
                    f"the loan has {count} records in the checkpoint of size {size}, more "
                    f"than max_records ({max_records}; at most {DEFAULT_MAX_RECORDS})"
                )
            # The caller reads every record of the loan (a lender's own): no second read.
            entries = (
                readable
                if len(readable) == count
                else [
                    e
                    for e in self._store.list_by_loan(owner, loan_ref, 0, count, None)
                    if e.leaf_index < size
                ]
            )
            _check_chain(entries, head, count)
            shown = {e.leaf_index for e in readable}
            records = self._materials(entries, shown, size)
            anchor = self._anchor(head.head.leaf_index, size)
        except (StoreError, MissingNodeError) as exc:
            raise _down(exc) from exc
        return DossierMaterial(
            checkpoint=checkpoint.note,
            tree_size=size,
            records=tuple(_with_supersessions(records, entries, shown)),
            loan_head=head,
            anchor=anchor,
        )

    # ---------------------------------------------------------------- helpers

    def _materials(
        self, entries: Sequence[StoredEntry], shown: set[int], size: int
    ) -> list[RecordMaterial]:
        """``entries`` with their inclusion proofs at ``size`` (all nodes read at once) and
        the openings of those whose leaf index is in ``shown``."""
        stored = self._store.openings([e.leaf_index for e in entries if e.leaf_index in shown])
        documents = self._case_documents(entries, shown)
        proofs = inclusion_proofs(self._store, [e.leaf_index for e in entries], size)
        out = []
        for e, proof in zip(entries, proofs, strict=True):
            opening = stored.get(e.leaf_index)
            try:
                opened = None if opening is None else opening_of(e.submission, opening)
            except CourtError as exc:  # pragma: no cover - the same values made its leaf
                raise Unavailable(f"the record's opening cannot be rebuilt ({exc})") from exc
            out.append(
                RecordMaterial(
                    entry_id=e.entry_id,
                    leaf_index=e.leaf_index,
                    leaf=e.leaf,
                    leaf_hash=e.leaf_hash,
                    timestamp_token=e.token if e.leaf_index in shown else None,
                    opening=opened,
                    inclusion_proof=tuple(proof),
                    withheld=e.leaf_index not in shown,
                    document=documents.get(e.leaf_index),
                )
            )
        return out

    def _case_documents(self, entries: Sequence[StoredEntry], shown: set[int]) -> dict[int, bytes]:
        """The documents of the case event records among ``entries`` the caller may read
        (``shown``), by leaf index: one batched read, none when there is no such record."""
        wanted = [
            e.leaf_index
            for e in entries
            if e.leaf_index in shown and e.submission.kind in CASE_KINDS
        ]
        return self._store.case_documents(wanted) if wanted else {}

    def _anchor(self, leaf_index: int, size: int) -> AnchorMaterial | None:
        """The first confirmed anchor covering ``leaf_index``, with the consistency proof
        between its size and ``size`` (the smaller first)."""
        anchor = self._store.anchor_covering(leaf_index + 1, None)
        if anchor is None:
            return None
        low, high = sorted((anchor.tree_size, size))
        return AnchorMaterial(
            anchor=anchor,
            from_size=low,
            to_size=high,
            consistency_proof=tuple(consistency_proof(self._store, low, high)),
        )


def _check_chain(entries: Sequence[StoredEntry], head: LoanHeadProof, count: int) -> None:
    """The loan's records read from the store agree with its head in the map: ``count``
    records, loan_sequence 1 to ``count``, the last the map's head. Otherwise the store
    and the map disagree, which the gateway reports rather than serves."""
    ok = (
        len(entries) == count
        and all(e.loan_sequence == n for n, e in enumerate(entries, start=1))
        and entries[-1].leaf_index == head.head.leaf_index
        and entries[-1].leaf_hash == head.head.leaf_hash
    )
    if not ok:
        raise Unavailable(
            "the loan's records and its head in the loan map disagree; the operator must "
            "check the store (audit-log); retry later"
        )


def _with_supersessions(
    records: Sequence[RecordMaterial], entries: Sequence[StoredEntry], shown: set[int]
) -> list[RecordMaterial]:
    """``records`` with ``superseded_by``: the ids of the later records the caller may read
    that name it (a withheld record's correction is private), in log order."""
    later: dict[str, list[str]] = {}
    for e in entries:  # loan_sequence order is log order
        target = e.submission.supersedes
        if target is not None and e.leaf_index in shown:
            later.setdefault(target, []).append(e.entry_id)
    return [
        dataclasses.replace(r, superseded_by=tuple(later[r.entry_id])) if r.entry_id in later else r
        for r in records
    ]

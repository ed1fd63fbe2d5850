"""The ledger: the gateway's application service below the RPC layer.

It registers evidence (time-stamp, canonical leaf, Merkle log, signed
checkpoint, durable commit) and serves what was registered: the write path
is here, the reads are :class:`gateway.reads.LedgerReads`, mixed in.

Group commit
------------
:meth:`Ledger.submit` validates its items, puts them on a bounded queue and
waits. Batches of up to ``max_batch`` items go through a two-stage pipeline of
threads, so that batch N+1 is time-stamped while batch N is written. A
batch is taken as soon as ``max_batch`` items are waiting, or
``max_wait_ms`` after the first of them arrived, or at once when the
committing stage is idle: waiting for more items only pays while a commit
runs (they could not be written sooner), and an idle gateway answers without
the wait (``wait_when_idle`` restores the wait whatever the committing stage
does). Every record of a batch gets the same received time (when the
writer took the batch up, in whole milliseconds), so the public leaves of one
call carry nothing that sets them apart from the other calls' of the batch.
The preparing stage:

1. resolves idempotency keys: a ``request_id`` already registered with
   identical content gets the original receipt, with different content
   ``AlreadyExists``; a ``request_id`` that an earlier item still in the
   pipeline holds (earlier in the same batch, or in a batch being
   committed) waits for that item's outcome (see "Repeated request ids");
2. checks ``supersedes`` (an existing entry of the same loan);
3. time-stamps every new digest (the token source verifies each token).

The committing stage, one batch at a time:

4. builds each canonical leaf (version 2, :mod:`gateway.leaves`: a random
   salt per record, the loan's secret salt, chosen at its first version 2
   record), chaining each loan's records (sequence number and previous leaf
   hash, also between several records of one loan inside the batch);
5. appends the leaf hashes to a copy of the in-memory compact tree and signs
   ONE checkpoint for the new size;
6. writes entries, their openings, new loan salts, new tree nodes, loan
   heads and the checkpoint in one transaction (synced before it returns):
   this publishes the batch;
7. only then swaps in the new tree, computes the batch's inclusion proofs in
   memory, in one pass (from the new nodes and the old tree's frontier: no
   database read) and answers every waiting caller.

Publication
-----------
Reads answer only for entries below the size of the latest published
checkpoint, which is the store's own latest checkpoint
(:meth:`Ledger.published`, the one place that decides it). Entries, nodes
and their checkpoint become visible together, in one transaction, so
whatever a read returns can be proven, by this process or by any other
reading the same store. The writer's in-memory tree is not what readers
see: it lags the store between steps 6 and 7, and another process's is
never moved at all.

If the store fails, the whole batch fails with ``Unavailable`` and nothing of
it is written (one transaction); the in-memory tree was never changed, and
it is reloaded from the store before the next batch if the store's size might
differ. If the TSA fails for an item, that item fails with ``Unavailable``
and the others go on.

Repeated request ids
--------------------
A ``request_id`` still in the pipeline is matched against it (atomically
with the pipeline's answers), so a repeat is never registered twice. A
repeat (a "follower") is treated exactly as a separate call made after the
earlier item, in order: once the earlier item has a receipt, an identical
follower gets that receipt and a different one ``AlreadyExists``; if the
earlier item failed (refused ``supersedes``, TSA down, store down), the
follower is judged on its own. Inside one batch that happens in another
round of the preparing stage, and the batch still registers in its own
order (a loan's chain follows the order of the items); a follower whose
earlier item failed in the committing stage goes back to the head of the
queue.

Health
------
:meth:`Ledger.health` reports the store, the TSA and, with
``max_queue_age_seconds``, the queue: down while the oldest item not yet
answered (queued, being time-stamped or committed) has waited longer
(:meth:`Ledger.oldest_queued_seconds`, also a metric).

Single writer: one ledger process appends to a given database at a time.
(A second writer would not corrupt the log: leaf indices, checkpoint sizes
and chain positions are unique keys, so its conflicting commit fails whole,
its callers get ``Unavailable`` and it reloads; but the two would mostly
fail each other.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.evidence.leaf import LeafError
from court.verify.checkpoint import CheckpointError, parse_checkpoint, verify_checkpoint
from court.verify.loanmap import LoanHead, LoanMapError, format_map_line
from gateway.access import LedgerAccess
from gateway.bundles import LedgerBundles
from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from gateway.leaves import fresh_salts, loan_key_of, new_salt, private_record_of, seal
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from gateway.log.loanmap import VersionedLoanMap
from gateway.log.tree import (
    CompactTree,
    MissingNodeError,
    NodeID,
    inclusion_proofs,
)
from gateway.metrics import NO_OBSERVER, Observer
from gateway.model import (
    DEFAULT_MIN_OCCURRED_AT,
    ItemResult,
    Submission,
    new_entry_ids,
    validate_submission,
)
from gateway.reads import LedgerReads
from gateway.reads import receipt_of as _receipt
from gateway.store.base import (
    LoanSalt,
    Store,
    StoredCheckpoint,
    StoredEntry,
    StoredOpening,
    StoreError,
)
from gateway.tsa import TokenSource

__all__ = ["Ledger"]

log = logging.getLogger(__name__)

_LEAF_PREFIX = b"\x00"

# A record being committed: item, entry id, leaf, leaf hash, loan sequence, previous
# leaf hash, opening, loan key.
_Built = tuple["_New", str, bytes, bytes, int, bytes, StoredOpening, bytes]


class _Call:
    """One :meth:`Ledger.submit` call waiting for its queued items."""

    __slots__ = ("future", "loop", "remaining", "results")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        results: list[ItemResult | None],
        remaining: int,
    ) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.results = results
        self.remaining = remaining

    def resolve(self, position: int, result: ItemResult) -> None:
        """Record one item's result (writer thread only); wake the caller after the last."""
        self.results[position] = result
        self.remaining -= 1
        if self.remaining == 0:
            # RuntimeError: the caller's loop is closed, nobody is waiting.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._done)

    def _done(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


@dataclass(slots=True, eq=False)
class _Item:
    submission: Submission
    received_at: datetime  # the batch's, set when the writer takes it (see _take)
    call: _Call
    position: int
    enqueued: float


@dataclass(slots=True, eq=False)
class _New:
    """An item being registered in the current batch.

    ``followers`` are later items with the same idempotency key (in the same
    batch or a later one), in order: each is judged once this one's outcome is
    known, as a separate later call would be (see :meth:`Ledger._finish`).
    """

    item: _Item
    followers: list[_Item] = field(default_factory=list)
    token: bytes = b""
    entry: StoredEntry | None = None
    private_record: bytes = b""  # the encoded private record its leaf was sealed with
    error: GatewayError | None = None


class _OverlayReader:
    """Nodes of the batch being committed plus the old frontier (see the module doc)."""

    __slots__ = ("_fallback", "_nodes")

    def __init__(self, nodes: dict[NodeID, bytes], fallback: Store) -> None:
        self._nodes = nodes
        self._fallback = fallback

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        nodes = self._nodes
        missing = [i for i in ids if i not in nodes]
        if missing:  # not expected: proofs of new leaves need only these nodes
            nodes.update(zip(missing, self._fallback.get_nodes(missing), strict=True))
        return [nodes[i] for i in ids]


class Ledger(LedgerReads, LedgerAccess, LedgerBundles):
    """Registers evidence with group commit and serves the log (see the module docstring).

    Thread-safe for readers; :meth:`submit` may be awaited from any event
    loop. Create it with :meth:`open`.
    """

    #: Told of each commit (:mod:`gateway.metrics`); nothing by default.
    observer: Observer = NO_OBSERVER

    def __init__(
        self,
        *,
        store: Store,
        tsa: TokenSource,
        log_key: Ed25519PrivateKey,
        log_origin: str,
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
        min_occurred_at: datetime = DEFAULT_MIN_OCCURRED_AT,
        loan_map: bool = True,
        max_queue_age_seconds: float = 0.0,
        wait_when_idle: bool = False,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and max_queue must be positive, max_wait_ms >= 0")
        self._store = store
        self._tsa = tsa
        self._key = log_key
        self._origin = log_origin
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000.0
        self._wait_when_idle = wait_when_idle
        self._max_queue = max_queue
        self._min_occurred_at = min_occurred_at
        self._max_queue_age = max_queue_age_seconds
        self._queue_too_old = False
        # When the oldest item of the batch each stage holds was queued (None: idle).
        self._preparing: float | None = None
        self._committing: float | None = None
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._drained = False  # closing, and the preparing stage took its last batch
        self._needs_reload = False
        self._tree = CompactTree()  # the writer's; readers use published()
        self._checkpoints: dict[int, str] = {}
        # The loan map (gateway.log.loanmap); off only in the bench's comparison run.
        self._map_on = loan_map
        self._loan_map: VersionedLoanMap | None = None
        self._load_state()
        self._lock = threading.Lock()  # guards _inflight and answering callers
        self._inflight: dict[tuple[str, str], _New] = {}
        # A prepared batch, its items and when it was ready (time.monotonic()).
        self._handoff: queue.Queue[tuple[list[_Item], list[_New], float] | None] = queue.Queue(1)
        self._stamping = 0.0  # the preparing stage's batch: seconds in the token source
        self._preparer = threading.Thread(
            target=self._run_prepare, name="ledger-prepare", daemon=True
        )
        self._writer = threading.Thread(target=self._run_commit, name="ledger-commit", daemon=True)
        self._preparer.start()
        self._writer.start()

    @classmethod
    def open(
        cls,
        *,
        store: Store,
        tsa: TokenSource,
        log_key: Ed25519PrivateKey,
        log_origin: str,
        max_batch: int = 500,
        max_wait_ms: float = 5.0,
        max_queue: int = 20000,
        min_occurred_at: datetime = DEFAULT_MIN_OCCURRED_AT,
        loan_map: bool = True,
        max_queue_age_seconds: float = 0.0,
        wait_when_idle: bool = False,
    ) -> Ledger:
        """Open the ledger on ``store``: recover the tree and start the writer.

        A new store gets a signed checkpoint of the empty tree. Raises
        :class:`Unavailable` if the store cannot be read, and
        :class:`FailedPrecondition` if the stored tree does not match its
        latest checkpoint (or the checkpoint is not signed by ``log_key``).
        ``loan_map=False`` (the bench's comparison only) signs checkpoints
        without the loan map's line and keeps no map. ``max_queue_age_seconds``
        (0: no bound) is the age of the oldest unanswered item past which
        :meth:`health` reports the queue down. ``wait_when_idle``: wait
        ``max_wait_ms`` for a fuller batch even when no commit is running (by
        default a batch then goes at once).
        """
        return cls(
            store=store,
            tsa=tsa,
            log_key=log_key,
            log_origin=log_origin,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            min_occurred_at=min_occurred_at,
            loan_map=loan_map,
            max_queue_age_seconds=max_queue_age_seconds,
            wait_when_idle=wait_when_idle,
        )

    @property
    def store(self) -> Store:
        """The store the ledger writes to (the institutions registry shares it)."""
        return self._store

    @property
    def token_source(self) -> TokenSource:
        """Where the ledger's time-stamp tokens come from."""
        return self._tsa

    # ------------------------------------------------------------ state

    def _sign(self, size: int, root: bytes) -> StoredCheckpoint:
        """The checkpoint, with the loan map's line once the writer holds the map."""
        m = self._loan_map
        lines = (format_map_line(m.root()),) if m is not None else ()
        note = sign_checkpoint(self._origin, size, root, self._key, self._origin, lines)
        return StoredCheckpoint(size=size, root=root, note=note)

    def _load_state(self) -> None:
        """(Re)load the tree frontier and the latest checkpoint from the store."""
        try:
            latest = self._store.latest_checkpoint()
            self._loan_map = VersionedLoanMap() if self._map_on and latest is None else None
            if latest is None:
                latest = self._sign(0, CompactTree().root())
                self._store.append_batch([], [], latest)
            tree = CompactTree.from_reader(self._store, latest.size)
        except (StoreError, MissingNodeError) as exc:
            raise Unavailable(f"cannot load the log from the store: {exc}") from exc
        if tree.root() != latest.root:
            raise FailedPrecondition(
                f"the stored tree of size {latest.size} does not match its checkpoint; "
                "the database is damaged: restore it from a backup"
            )
        parsed = parse_checkpoint(latest.note)
        if parsed.origin != self._origin:
            raise FailedPrecondition(
                f"the store holds the log {parsed.origin!r}, not {self._origin!r}: "
                "configure the matching log origin or another database"
            )
        try:
            verify_checkpoint(latest.note, make_verifier_key(self._origin, self._key.public_key()))
        except CheckpointError as exc:
            raise FailedPrecondition(
                f"the store's latest checkpoint is not signed by this gateway's log key "
                f"({exc}): configure the key that signed it, or another database"
            ) from exc
        if self._map_on:
            try:
                self._loan_map = VersionedLoanMap.load(self._store, latest.size, latest.note)
            except StoreError as exc:
                raise Unavailable(f"cannot load the loan map from the store: {exc}") from exc
            except LoanMapError as exc:
                raise FailedPrecondition(
                    f"the stored loan map does not match the latest checkpoint ({exc}); "
                    "the database is damaged: restore it from a backup"
                ) from exc
        self._tree = tree
        self._remember_checkpoint(latest.size, latest.note)
        self._needs_reload = False

    # ------------------------------------------------------------ submitting

    async def submit(self, items: Sequence[Submission]) -> list[ItemResult]:
        """Register ``items``; return a receipt or an error for each, in order.

        Every receipt is durable when this returns. Per-item errors:
        :class:`InvalidArgument` (field rules, a ``supersedes`` that names no
        entry of the same loan, an algorithm the TSA refuses),
        :class:`AlreadyExists` (request_id reused with other content),
        :class:`Unavailable` (store or TSA failed; resubmitting is safe).
        Raises (nothing queued) :class:`ResourceExhausted` when the queue
        cannot take the valid items, :class:`FailedPrecondition` once closed.
        """
        loop = asyncio.get_running_loop()
        now = datetime.now(UTC)
        results: list[ItemResult | None] = [None] * len(items)
        valid: list[int] = []
        for i, s in enumerate(items):
            problems = validate_submission(s, now, self._min_occurred_at)
            if problems:
                results[i] = InvalidArgument(problems)
            else:
                valid.append(i)
        if valid:
            call = _Call(loop, results, len(valid))
            enqueued = time.monotonic()
            with self._cond:
                if self._closing:
                    raise FailedPrecondition("the ledger is shutting down; retry on another server")
                if len(self._queue) + len(valid) > self._max_queue:
                    raise ResourceExhausted(
                        f"the gateway's queue is full ({len(self._queue)} items waiting); "
                        "retry with back-off"
                    )
                for i in valid:
                    self._queue.append(_Item(items[i], now, call, i, enqueued))
                self._cond.notify()
            await asyncio.shield(call.future)
        return [r for r in results if r is not None]

    def queued(self) -> int:
        """Items waiting for the writer."""
        return len(self._queue)

    def oldest_queued_seconds(self) -> float:
        """How long the oldest item not yet answered has waited: queued, being
        time-stamped or being committed (0 when there is none)."""
        with self._cond:
            times = [t for t in (self._preparing, self._committing) if t is not None]
            if self._queue:
                times.append(self._queue[0].enqueued)
        return max(0.0, time.monotonic() - min(times)) if times else 0.0

    def log_size(self) -> int:
        """Entries in the log (the writer's tree; readers see the published checkpoint)."""
        return self._tree.size

    # ------------------------------------------------------------ the writer

    def _take(self) -> list[_Item] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    self._drained = True
                    return None
                self._cond.wait()
            deadline = self._queue[0].enqueued + self._max_wait
            while len(self._queue) < self._max_batch and not self._closing:
                if not self._wait_when_idle and not self._commit_busy():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            n = min(self._max_batch, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
        # One received time for the whole batch (its commit): the leaves of one call
        # carry nothing that sets them apart from the other calls' of the commit.
        now = datetime.now(UTC)
        received = now.replace(microsecond=now.microsecond // 1000 * 1000)
        for item in batch:
            item.received_at = received
        return batch

    def _commit_busy(self) -> bool:
        """Whether the committing stage has a batch (being written or handed to it)."""
        return self._committing is not None or not self._handoff.empty()

    def _resolve(self, pairs: Sequence[tuple[_Item, ItemResult]]) -> None:
        with self._lock:
            for item, result in pairs:
                _answer(item, result)

    def _finish(self, done: Sequence[_New], result_of: Any = None) -> list[_Item]:
        """Answer ``done`` (each its ``error``, or ``result_of(p)``) and its followers.

        A follower gets what a separate call made after this item's would get:
        after a receipt, that same receipt if its content is identical, else
        ``AlreadyExists``; after an error, nothing yet: it is returned, to be
        judged on its own (the caller puts it through the pipeline again).
        Under the lock, so that the preparing stage either attaches a follower
        before this (and it is handled here) or finds the key settled.
        """
        again: list[_Item] = []
        with self._lock:
            for p in done:
                result = p.error if p.error is not None else result_of(p)
                _answer(p.item, result)
                for f in p.followers:
                    if isinstance(result, GatewayError):
                        again.append(f)
                    elif f.submission == p.item.submission:
                        _answer(f, result)
                    else:
                        _answer(f, _conflict(f.submission))
                self._inflight.pop(
                    (p.item.submission.institution, p.item.submission.request_id), None
                )
        return again

    def _requeue(self, items: list[_Item]) -> None:
        """Put followers of items that failed when committing back at the head of the
        queue, to be judged on their own; refuse them once the queue is drained."""
        with self._lock:
            items = [i for i in items if i.call.results[i.position] is None]
        if not items:
            return
        items.sort(key=lambda i: (i.enqueued, i.position))
        with self._cond:
            if not self._drained:
                self._queue.extendleft(reversed(items))
                self._cond.notify()
                return
        refused = FailedPrecondition("the ledger is shutting down; retry on another server")
        self._resolve([(i, refused) for i in items])

    def _unanswered(self, batch: Sequence[_Item], exc: BaseException) -> None:
        """A batch failed with ``exc`` (a bug, or a BaseException such as a
        CancelledError or a SystemExit from a library): its callers and those waiting
        on its items get UNAVAILABLE, and the stage goes on with the next batch. Nothing
        is re-raised: in these worker threads even a SystemExit or KeyboardInterrupt
        would only end the stage (the process stops through :meth:`close`), and every
        later submission would then wait for ever."""
        log.exception("group commit failed unexpectedly", exc_info=exc)
        self._needs_reload = True
        error = Unavailable(f"the gateway failed to register the batch ({exc}); retry")
        with self._lock:
            mine = {id(item) for item in batch}
            stuck = [k for k, p in self._inflight.items() if id(p.item) in mine]
            waiting = list(batch)
            for key in stuck:
                waiting.extend(self._inflight.pop(key).followers)  # from later batches too
            for item in waiting:
                _answer(item, error)

    def _run_prepare(self) -> None:
        """Stage 1: idempotency, supersedes and time-stamps of the next batch."""
        try:
            while True:
                batch = self._take()
                if batch is None:
                    return
                taken = time.monotonic()
                self._preparing = oldest = min(item.enqueued for item in batch)
                self._stamping = 0.0
                try:
                    prepared = self._prepare(batch)
                except BaseException as exc:  # any: see _unanswered
                    self._preparing = None
                    self._unanswered(batch, exc)
                    continue
                ready = time.monotonic()
                observer = self.observer
                observer.batch_stage("queued", taken - oldest)
                observer.batch_stage("prepare", ready - taken)
                observer.batch_stage("time_stamp", self._stamping)
                if prepared:
                    self._handoff.put((batch, prepared, ready))  # waits while a commit runs
                self._preparing = None
        finally:
            self._handoff.put(None)

    def _run_commit(self) -> None:
        """Stage 2: chains, leaves, tree, checkpoint, one transaction, receipts."""
        while True:
            job = self._handoff.get()
            if job is None:
                return
            batch, prepared, ready = job
            self.observer.batch_stage("handoff", time.monotonic() - ready)
            self._committing = min(p.item.enqueued for p in prepared)
            try:
                self._commit(prepared)
            except BaseException as exc:  # any: see _unanswered
                self._unanswered(batch, exc)
            finally:
                with self._cond:  # a batch waiting for a fuller queue may go now
                    self._committing = None
                    self._cond.notify_all()

    def _prepare(self, batch: list[_Item]) -> list[_New]:
        """Stage 1 of a batch, in rounds: an item whose request_id repeats one that
        failed in an earlier round is judged in the next. Returns the items to
        register, in batch order (the order of the loans' chains)."""
        order = {id(item): n for n, item in enumerate(batch)}
        prepared: list[_New] = []
        todo = batch
        while todo:
            ready, again = self._prepare_round(todo)
            prepared += ready
            todo = sorted(again, key=lambda i: order[id(i)])
        prepared.sort(key=lambda p: order[id(p.item)])
        return prepared

    def _prepare_round(self, items: list[_Item]) -> tuple[list[_New], list[_Item]]:
        """Idempotency, supersedes and time-stamps of ``items``.

        Returns the items ready to commit and the followers of items that
        failed (to be judged on their own in another round).
        """
        store = self._store
        replays: list[tuple[_Item, ItemResult]] = []
        # 1. idempotency: first against items still in the pipeline (atomically
        #    with their completion, see _finish), then against the store.
        new: dict[tuple[str, str], _New] = {}
        originals: list[tuple[_Item, StoredEntry]] = []
        ask_store: list[_Item] = []
        with self._lock:
            for item in items:
                busy = self._inflight.get((item.submission.institution, item.submission.request_id))
                if busy is not None:
                    busy.followers.append(item)
                else:
                    ask_store.append(item)
        try:
            existing = store.entries_by_requests(
                {(i.submission.institution, i.submission.request_id) for i in ask_store}
            )
        except StoreError as exc:
            error = _store_down(exc)
            self._resolve([(i, error) for i in ask_store])
            return [], []
        for item in ask_store:
            s = item.submission
            key = (s.institution, s.request_id)
            old = existing.get(key)
            if old is not None:
                if old.submission == s:
                    originals.append((item, old))
                else:
                    replays.append((item, _conflict(s)))
                continue
            first = new.get(key)
            if first is None:
                new[key] = _New(item)
            else:
                first.followers.append(item)
        if originals:
            try:
                receipts = self._receipts([old for _, old in originals])
                replays += [(item, r) for (item, _), r in zip(originals, receipts, strict=True)]
            except GatewayError as exc:
                replays += [(item, exc) for item, _ in originals]
        self._resolve(replays)
        pending = list(new.values())
        with self._lock:
            self._inflight.update(new)

        # 2. supersedes: an existing entry of the same loan
        again: list[_Item] = []
        wanted = {p.item.submission.supersedes for p in pending} - {None}
        if wanted:
            try:
                found = store.get_entries(w for w in wanted if w is not None)
            except StoreError as exc:
                return [], self._fail(pending, exc)
            for p in pending:
                s = p.item.submission
                if s.supersedes is None:
                    continue
                if not _may_supersede(s, found.get(s.supersedes)):
                    # One answer whether the entry is missing, of another loan or
                    # not the submitter's to correct: no existence oracle.
                    p.error = InvalidArgument(
                        [
                            (
                                "supersedes",
                                "names no entry of this loan that you may correct; give the "
                                "entry id of a receipt of the same owner and loan_ref",
                            )
                        ]
                    )
            pending = self._settle(pending, again)

        # 3. time-stamps (each verified by the token source)
        if pending:
            asked = time.monotonic()
            tokens = self._tsa.stamp_batch(
                [(p.item.submission.hash_algorithm, p.item.submission.digest) for p in pending]
            )
            self._stamping += time.monotonic() - asked
            for p, token in zip(pending, tokens, strict=True):
                if isinstance(token, GatewayError):
                    p.error = token
                else:
                    p.token = token
            pending = self._settle(pending, again)
        return pending, again

    def _commit(self, pending: list[_New]) -> None:
        started = time.perf_counter()
        store = self._store
        if self._needs_reload:
            try:
                self._load_state()
            except GatewayError as exc:
                self._requeue(self._fail(pending, exc))
                return

        # 4. leaves and per-loan chains (after the previous batch's commit)
        try:
            loans = {(p.item.submission.owner, p.item.submission.loan_ref) for p in pending}
            heads = store.loan_heads(loans)
            salts = store.loan_salts(loans)
        except StoreError as exc:
            self._requeue(self._fail(pending, exc))
            return
        chain: dict[tuple[str, str], tuple[int, bytes]] = {
            k: (h.sequence, h.leaf_hash) for k, h in heads.items()
        }
        old_frontier = self._tree.frontier()
        tree = CompactTree(self._tree.size, [h for _, _, h in old_frontier])
        index = tree.size
        built: list[_Built] = []
        new_salts: dict[tuple[str, str], LoanSalt] = {}
        sha256 = hashlib.sha256
        ids = new_entry_ids(len(pending))
        record_salts = fresh_salts(len(pending))
        for p, entry_id, record_salt in zip(pending, ids, record_salts, strict=True):
            s = p.item.submission
            loan = (s.owner, s.loan_ref)
            sequence, previous = chain.get(loan, (0, b""))
            owner = s.owner
            loan_salt = salts.get((owner, s.loan_ref))
            if loan_salt is None:  # the loan's first version 2 record
                loan_salt = new_salt()
            opening = StoredOpening(
                owner=owner, submitter=s.institution, record_salt=record_salt, loan_salt=loan_salt
            )
            try:
                loan_key = loan_key_of(s, opening)
                p.private_record = private_record_of(s, opening)
                leaf = seal(
                    s,
                    opening,
                    entry_id=entry_id,
                    received_at=p.item.received_at,
                    token=p.token,
                    loan_sequence=sequence + 1,
                    previous_leaf_hash=previous or None,
                    loan_key=loan_key,
                    private_record=p.private_record,
                )
            except LeafError as exc:
                p.error = InvalidArgument([("submission", f"cannot be recorded: {exc}")])
                continue
            if (owner, s.loan_ref) not in salts:
                salts[(owner, s.loan_ref)] = loan_salt
                new_salts[(owner, s.loan_ref)] = LoanSalt(owner, s.loan_ref, loan_salt)
            leaf_hash = sha256(_LEAF_PREFIX + leaf).digest()
            chain[loan] = (sequence + 1, leaf_hash)
            built.append((p, entry_id, leaf, leaf_hash, sequence + 1, previous, opening, loan_key))
        again: list[_Item] = []
        pending = self._settle(pending, again)
        self._requeue(again)
        if not built:
            return

        # 5. tree, loan map and ONE checkpoint for the batch
        nodes = tree.append_leaves([b[3] for b in built])
        size = tree.size
        map_rows = self._move_heads(built, index, size)
        checkpoint = self._sign(size, tree.root())
        for offset, (p, entry_id, leaf, leaf_hash, sequence, previous, opening, _) in enumerate(
            built
        ):
            p.entry = StoredEntry(
                leaf_index=index + offset,
                entry_id=entry_id,
                submission=p.item.submission,
                received_at=p.item.received_at,
                loan_sequence=sequence,
                previous_leaf_hash=previous,
                leaf=leaf,
                leaf_hash=leaf_hash,
                token=p.token,
                receipt_size=size,
                opening=opening,
            )
        entries = [p.entry for p in pending if p.entry is not None]

        # 6. one durable transaction
        try:
            store.append_batch(entries, nodes, checkpoint, list(new_salts.values()), map_rows)
        except StoreError as exc:
            log.error("group commit of %d entries failed: %s", len(entries), exc)
            self.observer.commit_failed()
            self._needs_reload = True  # the commit's outcome may be unknown
            # Reload before answering, so no reader sees a stale tree after the error
            # (a commit that landed but reported failure is then visible at once).
            with contextlib.suppress(GatewayError):
                self._load_state()
            self._requeue(self._fail(pending, exc))
            return

        # 7. prove (in memory), answer; the commit published the checkpoint to readers
        self._tree = tree
        self._remember_checkpoint(size, checkpoint.note)
        overlay: dict[NodeID, bytes] = {(lv, ix): h for lv, ix, h in old_frontier}
        overlay.update(((lv, ix), h) for lv, ix, h in nodes)
        note = checkpoint.note
        # The batch's leaves are index .. size - 1: their proofs in one pass, which
        # plans, reads and folds the part above each shared fork once.
        proofs: list[list[bytes]] = []
        unproven: Unavailable | None = None
        try:
            proofs = inclusion_proofs(_OverlayReader(overlay, store), range(index, size), size)
        except (StoreError, MissingNodeError) as exc:  # pragma: no cover - not expected
            unproven = Unavailable(f"registered, but the proof could not be built ({exc})")

        def receipt(p: _New) -> ItemResult:
            entry = p.entry
            assert entry is not None
            if unproven is not None:  # pragma: no cover - not expected
                return unproven
            proof = tuple(proofs[entry.leaf_index - index])
            return _receipt(entry, note, proof, p.private_record)

        self._requeue(self._finish(pending, receipt))
        self.observer.batch_committed(len(entries), time.perf_counter() - started)

    def _move_heads(
        self, built: Sequence[_Built], first: int, size: int
    ) -> list[tuple[str, int, bytes]]:
        """Move the loan map's heads to the batch's leaves (from ``first``); the rows to
        write. A failed commit reloads the map with the tree (``_needs_reload``)."""
        if self._loan_map is None:
            return []
        heads = [LoanHead(b[7], b[4], first + offset, b[3]) for offset, b in enumerate(built)]
        return self._loan_map.apply(heads, size)

    def _settle(self, pending: list[_New], again: list[_Item]) -> list[_New]:
        """Answer the items that failed (their followers go to ``again``); return the others."""
        failed = [p for p in pending if p.error is not None]
        if failed:
            again += self._finish(failed)
        return [p for p in pending if p.error is None]

    def _fail(self, pending: list[_New], exc: Exception) -> list[_Item]:
        """Fail ``pending`` with the store's error; return their followers."""
        error = _store_down(exc)
        for p in pending:
            p.error = error
        return self._finish(pending)

    # ------------------------------------------------------------ health

    def health(self) -> dict[str, bool]:
        """``{"store": ..., "tsa": ..., "queue": ...}``: whether each dependency works
        now, and (with ``max_queue_age_seconds``) whether the queue moves."""
        try:
            store_ok = self._writer.is_alive() and self._preparer.is_alive() and self._store.ping()
        except Exception:
            store_ok = False
        try:
            tsa_ok = self._tsa.healthy()
        except Exception:
            tsa_ok = False
        status = {"store": store_ok, "tsa": tsa_ok}
        if self._max_queue_age:
            status["queue"] = self._queue_fresh()
        return status

    def _queue_fresh(self) -> bool:
        """Whether the oldest unanswered item is within ``max_queue_age_seconds``
        (a warning with its age when that changes)."""
        age = self.oldest_queued_seconds()
        too_old = age > self._max_queue_age
        if too_old != self._queue_too_old:
            if too_old:
                log.warning(
                    "ledger: the oldest queued item has waited %.1f s (bound %.1f s, "
                    "log.max_queue_age_seconds); %d items queued",
                    age,
                    self._max_queue_age,
                    len(self._queue),
                )
            else:
                log.warning("ledger: the queue moves again (oldest item %.1f s)", age)
            self._queue_too_old = too_old
        return not too_old

    async def close(self) -> None:
        """Stop taking submissions, finish the queued ones, stop the writer, close the store."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        await asyncio.to_thread(self._preparer.join)
        await asyncio.to_thread(self._writer.join)
        closer: Any = getattr(self._tsa, "close", None)
        if callable(closer):
            closer()
        self._store.close()


def _answer(item: _Item, result: ItemResult) -> None:
    """Give ``item`` its result unless it has one (call under the ledger's lock)."""
    if item.call.results[item.position] is None:
        item.call.resolve(item.position, result)


def _may_supersede(s: Submission, target: StoredEntry | None) -> bool:
    """Whether ``s`` may correct ``target``: a record of the same loan (owner and
    loan_ref) that its submitter may read (a lender: any record of its loan; a
    collection agency: its own)."""
    if target is None:
        return False
    t = target.submission
    same_loan = (t.owner, t.loan_ref) == (s.owner, s.loan_ref)
    return same_loan and (s.institution == s.owner or t.institution == s.institution)


def _store_down(exc: Exception) -> Unavailable:
    detail = exc.message if isinstance(exc, GatewayError) else str(exc)
    return Unavailable(f"the store is unavailable ({detail}); retry with the same request_id")


def _conflict(s: Submission) -> AlreadyExists:
    return AlreadyExists(
        f"request_id {s.request_id!r} was already used with different content; use a new "
        "request_id for a new record, or resend exactly the original submission"
    )

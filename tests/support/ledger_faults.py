"""Faults injected around the REAL ledger's parts, for tests only.

Each class wraps a real component and changes nothing until a test arms it:
:class:`FaultyStore` (a store that fails, loses a reply, or pauses a commit
between writing and answering), :class:`FailingTsa` (a TSA that is down for
some digests, or hangs) and :class:`ProbedLedger` (the real ledger, counting
the ``submit`` calls it took and refusing whole calls when told, for the
servicers' tests of how they call it and react to a full queue).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from gateway.errors import GatewayError, Unavailable
from gateway.ledger import Ledger
from gateway.log.tree import NodeID
from gateway.model import ItemResult, Submission
from gateway.store.base import LoanSalt, StoredCheckpoint, StoredEntry, StoreError
from gateway.store.sql import SqlStore
from gateway.tsa import TokenSource

__all__ = ["FailingTsa", "FaultyStore", "ProbedLedger"]


class FaultyStore:
    """A SqlStore whose next appends fail (before writing, or after: a lost reply),
    that is ``down`` for every call, or that holds the writer after a commit.

    ``latest``: the checkpoint ``latest_checkpoint`` answers instead of the
    stored one, as for a reader that read it just before a later commit.

    ``hold``: the next append commits, sets ``committed`` and waits for
    ``release`` before it returns, i.e. the ledger's writer is paused between
    the durable commit and everything it does after it.
    """

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        #: Cleared: ``ping`` waits for it (after setting ``pinging``), as a slow database.
        self.ping_gate = threading.Event()
        self.ping_gate.set()
        self.pinging = threading.Event()
        #: "ping done" and "close", in the order they happened.
        self.events: list[str] = []
        self.fail_before = 0
        self.fail_after = 0
        self.down = False
        self.hold = False
        self.committed = threading.Event()
        self.release = threading.Event()
        self.latest: StoredCheckpoint | None = None  # answered by latest_checkpoint if set

    def append_batch(
        self,
        entries: Sequence[StoredEntry],
        nodes: Sequence[Any],
        checkpoint: StoredCheckpoint,
        loan_salts: Sequence[LoanSalt] = (),
        map_blocks: Sequence[tuple[str, int, bytes]] = (),
    ) -> None:
        if self.down or self.fail_before:
            self.fail_before = max(0, self.fail_before - 1)
            raise StoreError("injected: database unreachable")
        self.inner.append_batch(entries, nodes, checkpoint, loan_salts, map_blocks)
        if self.hold:
            self.hold = False
            self.committed.set()
            assert self.release.wait(30), "the test never released the held commit"
        if self.fail_after:
            self.fail_after -= 1
            raise StoreError("injected: connection lost after COMMIT")

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        if self.down:
            raise StoreError("injected: database unreachable")
        return self.inner.get_nodes(ids)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        if self.down:
            raise StoreError("injected: database unreachable")
        return self.latest or self.inner.latest_checkpoint()

    def ping(self) -> bool:
        if not self.ping_gate.is_set():
            self.pinging.set()
            assert self.ping_gate.wait(30), "the test never opened the ping gate"
        try:
            return not self.down and self.inner.ping()
        finally:
            self.events.append("ping done")

    def close(self) -> None:
        self.events.append("close")
        self.inner.close()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = getattr(self.inner, name)
        if not callable(target):
            return target  # type: ignore[no-any-return]

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreError("injected: database unreachable")
            return target(*args, **kwargs)

        return call


class FailingTsa:
    """Wraps a token source: ``down`` for every digest, for those in ``bad``, or
    for the next ``fail_next[digest]`` stamps of a digest; ``gate`` cleared makes
    it hang until set again."""

    def __init__(self, inner: TokenSource, *, owns_inner: bool = True) -> None:
        self.inner = inner
        self.owns_inner = owns_inner  # close() closes inner (not when it is shared)
        self.bad: set[bytes] = set()
        self.fail_next: dict[bytes, int] = {}
        self.down = False
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # set by the first stamp asked for

    def _fails(self, digest: bytes) -> bool:
        failures = self.fail_next.get(digest, 0)
        if failures:
            self.fail_next[digest] = failures - 1
        return self.down or digest in self.bad or failures > 0

    def stamp(self, hash_algorithm: str, digest: bytes) -> bytes:
        self.entered.set()
        self.gate.wait()
        if self._fails(digest):
            raise Unavailable("injected: TSA down")
        return self.inner.stamp(hash_algorithm, digest)

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        self.entered.set()
        self.gate.wait()
        fails = [self._fails(digest) for _, digest in items]
        good = [item for item, fail in zip(items, fails, strict=True) if not fail]
        tokens = iter(self.inner.stamp_batch(good))
        return [Unavailable("injected: TSA down") if f else next(tokens) for f in fails]

    def healthy(self) -> bool:
        return not self.down and not self.bad and self.inner.healthy()

    def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if self.owns_inner and callable(closer):
            closer()


class ProbedLedger(Ledger):
    """The real ledger; ``submit_calls`` has the size of each call it took, and
    ``refuse`` (when set) may fail a whole call before it reaches the ledger."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.submit_calls: list[int] = []
        self.refuse: Callable[[Sequence[Submission]], GatewayError | None] | None = None

    async def submit(self, items: Sequence[Submission]) -> list[ItemResult]:
        error = self.refuse(items) if self.refuse is not None else None
        if error is not None:
            raise error
        results = await super().submit(items)  # raises when the queue cannot take them
        self.submit_calls.append(len(items))
        return results

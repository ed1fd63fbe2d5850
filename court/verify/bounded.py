"""A bounded, thread-safe cache keyed on the exact bytes a result stands for (pure).

A long-lived verifier (the gateway's VerificationService) verifies the same
TSA chains and the same signed checkpoints over and over; the caches built on
this one (:class:`court.verify.x509chain.ChainCache`,
:class:`court.verify.checkpoint.CheckpointCache`) keep what such a check found,
so that it is not repeated. Their keys are the exact bytes checked (never a
hash of them): a cached result is only ever handed back for those same bytes.

The cache holds at most ``max_entries`` results and keys of at most
``max_key_bytes`` bytes in all, evicting the least recently used first; a
key larger than that bound is not kept. Whoever hands the bytes over (a
caller's receipt may carry a 64 KiB token of made-up certificates) can thus
only ever displace results, never grow the memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """Least recently used results by key, bounded in entries and in key bytes."""

    def __init__(self, max_entries: int, max_key_bytes: int) -> None:
        if max_entries < 1 or max_key_bytes < 1:
            raise ValueError("a bounded cache needs room for at least one entry and one byte")
        self._max_entries = max_entries
        self._max_key_bytes = max_key_bytes
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._key_bytes = 0
        self._lock = threading.Lock()  # the gateway verifies in several threads at once

    def get(self, key: Hashable) -> V | None:
        """The result kept for ``key`` (equal bytes), or ``None``."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: V, key_bytes: int) -> None:
        """Keep ``value`` for ``key``, whose bytes are ``key_bytes`` long in all."""
        if key_bytes > self._max_key_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._key_bytes -= old[1]
            self._items[key] = (value, key_bytes)
            self._key_bytes += key_bytes
            while len(self._items) > self._max_entries or self._key_bytes > self._max_key_bytes:
                _, (_, size) = self._items.popitem(last=False)
                self._key_bytes -= size

    def __len__(self) -> int:
        return len(self._items)

    @property
    def key_bytes(self) -> int:
        """The bytes of the keys kept, in all."""
        return self._key_bytes

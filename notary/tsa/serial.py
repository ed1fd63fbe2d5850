"""Serial numbers that are unique across restarts and concurrent processes.

A serial is `epoch << 64 | counter`. The state folder holds a random 64-bit
epoch (made once, when the folder is first used) and the high-water mark of
the counter. Each process leases a block of counters under an exclusive file
lock, and the new high-water mark is on disk (fsync) before any number of the
block is handed out. So two processes never share a block, a restart never
reuses one (a crash only wastes the rest of its block), and if the state is
ever lost, a new random epoch keeps new serials apart from the old ones.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Protocol

DEFAULT_BLOCK = 4096


class SerialSource(Protocol):
    """Hands out token serial numbers: positive integers of at most 160 bits."""

    def next_serial(self) -> int:
        """A serial never handed out before."""
        ...


class LeasedSerials:
    """Block-leasing serial source backed by a state folder (see module docs)."""

    def __init__(self, state_dir: Path, block_size: int = DEFAULT_BLOCK) -> None:
        if block_size < 1:
            raise ValueError("block_size must be positive")
        state_dir.mkdir(parents=True, exist_ok=True)
        self._state = state_dir / "serial-state.json"
        self._lock_path = state_dir / "serial.lock"
        self._block_size = block_size
        self._mutex = threading.Lock()
        # The leased block as ONE attribute, read in one step: (counter, limit, epoch).
        # A thread may draw from a block that another thread has just replaced; it
        # keeps a number only if it lies below the limit of the block it was drawn
        # from, so no number is taken from a block twice (itertools.count hands out
        # each of its numbers once: its `next` runs under the GIL).
        self._block: tuple[itertools.count[int], int, int] = (itertools.count(), 0, 0)

    def next_serial(self) -> int:
        counter, limit, epoch = self._block
        value = next(counter)
        if value >= limit:
            with self._mutex:
                counter, limit, epoch = self._block
                value = next(counter)
                if value >= limit:
                    epoch, start = self._lease()
                    self._block = (itertools.count(start + 1), start + self._block_size, epoch)
                    value = start
        return (epoch << 64) | value

    def _lease(self) -> tuple[int, int]:
        """Reserve the next block on disk; return the epoch and the block's first counter."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self._state.exists():
                state = json.loads(self._state.read_text())
                epoch, start = int(state["epoch"], 16), int(state["next"])
            else:
                epoch, start = secrets.randbits(63) | 1, 1
            self._write_state(epoch, start + self._block_size)
            return epoch, start
        finally:
            os.close(fd)  # releases the lock

    def _write_state(self, epoch: int, next_free: int) -> None:
        tmp = self._state.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            json.dump({"epoch": f"{epoch:016x}", "next": next_free}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._state)
        dir_fd = os.open(self._state.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

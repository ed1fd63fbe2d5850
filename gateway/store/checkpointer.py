"""WAL checkpoints of a SQLite store in a background thread, out of the writer's commits.

In WAL mode a commit appends pages to ``<database>-wal``; a *checkpoint* copies
them back into the database file and syncs it, so that the WAL can start over.
By default SQLite runs it inside the commit that takes the WAL past
``wal_autocheckpoint`` pages: that commit, and every batch queued behind it,
then waits for 16,384 pages to be copied and synced (83 to 141 ms in the traces of
docs/performance/unary-latency.md, the unary p99 tail at 500 requests/s).

While a gateway holds the writer lock (:mod:`gateway.store.lock`) a
:class:`WalCheckpointer` does that work instead, on its own connection and
thread: after each commit the writer wakes it, it reads how long the WAL is
and, once it holds ``pages`` frames, runs ``PRAGMA wal_checkpoint(PASSIVE)``,
and again after each later commit until the WAL starts over (a WAL restarts
only when a writer finds every frame copied back, so one big checkpoint while
commits keep coming is not enough). The writer's own ``wal_autocheckpoint`` is
raised to a much larger bound, a backstop that only fires when this thread
falls behind or has died, so the WAL stays bounded either way.

Why this is as safe as the checkpoint in the commit:

* It is the same operation. ``wal_autocheckpoint`` is nothing but a PASSIVE
  checkpoint run by the committing connection after its commit; which
  connection runs it does not matter to SQLite. A checkpoint copies only
  frames of committed transactions (up to the last commit it saw) and never
  changes what a reader or the writer sees.
* Crash safety: the WAL stays the authority until the database file is synced.
  A checkpoint syncs the WAL before it copies, copies, and syncs the database
  file before it records that every frame was copied back; only then may a
  writer start the WAL over. If the process or the machine dies in between,
  recovery replays the whole WAL into the (partly written) pages again, so an
  acknowledged commit (synced in the WAL with ``synchronous=FULL``) survives.
* PASSIVE never waits and never blocks: it takes no writer lock, so commits go
  on while it copies, and it stops at the oldest snapshot a reader still uses.
  A second checkpointer (another process) finds the checkpoint lock busy and
  returns at once.

How long the WAL is comes from the WAL-index header in ``<database>-shm``
(https://www.sqlite.org/walformat.html: ``mxFrame``, and ``nBackfill`` of the
checkpoint information), a file every connection of the database maps in
shared memory, whose layout SQLite keeps fixed across versions because
processes of different versions share it. The read is a hint: if the file
cannot be read or its header is torn or unknown, the thread checkpoints after
every commit instead, which is correct, only less thrifty.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
from pathlib import Path

__all__ = ["WalCheckpointer", "wal_frames"]

log = logging.getLogger(__name__)

_WAL_INDEX_VERSION = 3007000
# iVersion, unused, iChange, isInit, bigEndCksum, szPage, mxFrame (native byte order)
_HEADER = struct.Struct("=IIIBBHI")
_HEADER_BYTES = 48  # one copy of the WAL-index header; two copies come first in the file
_BACKFILL = struct.Struct("=I")  # nBackfill: the first field after the two copies


def wal_frames(shm: bytes) -> tuple[int, int] | None:
    """``(frames in the WAL, frames copied back)`` of the start of a ``-shm`` file,
    or None when it is not a WAL-index header of a known version (or a torn read)."""
    if len(shm) < 2 * _HEADER_BYTES + _BACKFILL.size:
        return None
    first, second = shm[:_HEADER_BYTES], shm[_HEADER_BYTES : 2 * _HEADER_BYTES]
    if first != second:  # a writer was changing it; SQLite's own readers retry too
        return None
    version, _, _, is_init, _, _, max_frame = _HEADER.unpack_from(first)
    if version != _WAL_INDEX_VERSION or not is_init:
        return None
    (backfilled,) = _BACKFILL.unpack_from(shm, 2 * _HEADER_BYTES)
    return max_frame, backfilled


class WalCheckpointer:
    """A thread that checkpoints the WAL of the SQLite file ``database`` once it holds
    ``pages`` frames, woken by :meth:`committed`; :meth:`close` stops it."""

    def __init__(self, database: Path, pages: int, *, poll_seconds: float = 1.0) -> None:
        self._database = database
        self._shm = database.with_name(database.name + "-shm")
        self.pages = pages
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: PASSIVE checkpoints run so far (for tests and diagnostics).
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def committed(self) -> None:
        """Called by the writer after each commit (cheap: sets an event)."""
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and wait for it (a checkpoint under way finishes first)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():  # pragma: no cover - a checkpoint stuck in the OS
                log.warning("the WAL checkpoint thread did not stop within %.0f s", timeout)

    def _frames(self, fd: int) -> tuple[int, int] | None:
        try:
            return wal_frames(os.pread(fd, 2 * _HEADER_BYTES + _BACKFILL.size, 0))
        except OSError:
            return None

    def _due(self, fd: int) -> bool:
        frames = self._frames(fd) if fd >= 0 else None
        if frames is None:
            return True  # unknown: checkpoint (correct, only less thrifty)
        total, backfilled = frames
        return total >= self.pages and backfilled < total

    def _run(self) -> None:
        fd = -1
        try:
            # Autocommit (no transaction of the driver's); PASSIVE never waits for a lock.
            conn = sqlite3.connect(self._database, timeout=0, isolation_level=None)
        except sqlite3.Error:
            log.exception("the WAL checkpoint thread cannot open the database")
            return
        try:
            # A first read maps the WAL index (and makes the -shm file exist).
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            try:
                fd = os.open(self._shm, os.O_RDONLY)
            except OSError:
                log.info("no WAL index to read at %s: checkpointing after every commit", self._shm)
            while not self._stop.is_set():
                self._wake.wait(self._poll)
                self._wake.clear()
                if self._stop.is_set():
                    break
                if not self._due(fd):
                    continue
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    # A busy or failing checkpoint is retried after the next commit; the
                    # writer's backstop bound keeps the WAL bounded meanwhile.
                    log.warning("WAL checkpoint failed (%s)", type(exc).__name__)
                    self._stop.wait(self._poll)
                    continue
                self.checkpoints += 1
        except Exception:  # pragma: no cover - the backstop bound keeps the WAL bounded
            log.exception("the WAL checkpoint thread stopped")
        finally:
            if fd >= 0:
                os.close(fd)
            conn.close()

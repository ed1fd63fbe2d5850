"""One writer per database: the lock a gateway holds on its store while it serves.

Two gateways appending to one log would each keep failing the other's commits
(the database's unique keys keep the log itself intact), so a gateway takes
the store's writer lock before it writes, and :class:`SqlStore` then writes
only through it (:meth:`StoreWriter.transaction`):

* SQLite (a file): an exclusive ``flock`` on ``<database file>.lock`` beside
  the database, named after the file's real path, so that every gateway
  using that file meets the same lock whatever its data folder or the path
  it was given. The kernel releases it when the process ends, even by
  SIGKILL. An in-memory database has no other writer and takes no lock.
  While it holds the lock, the writer also has the WAL checkpointed by a
  background thread instead of its commits (:mod:`gateway.store.checkpointer`).
* PostgreSQL: a session-level advisory lock keyed by the database and the
  schema (a 64-bit hash of both; advisory locks are per database anyway),
  held by the one session that makes every write. If that session ends
  (``pg_terminate_backend``, a cut connection, a server restart) the lock is
  gone, and with it the only session allowed to write: the lock is *lost*,
  every later write fails without touching the database (each transaction
  first checks it runs in the session that took the lock), and
  :meth:`StoreWriter.check` says False, which makes health NOT_SERVING. A
  lost lock is not taken again: another gateway may hold it by then; restart
  this one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.store.base import StoreError
from gateway.store.checkpointer import WalCheckpointer

__all__ = [
    "ADVISORY_KEY_SQL",
    "FileLocked",
    "StoreWriter",
    "UnlockedWriter",
    "WalSettings",
    "WriterLockHeld",
    "lock_file",
    "take_writer_lock",
]

log = logging.getLogger(__name__)

#: The advisory lock key of the connection's database and schema (SQL expression).
ADVISORY_KEY_SQL = (
    "hashtextextended('evidence-gateway writer:' || current_database() || '.' "
    "|| coalesce(current_schema(), ''), 0)"
)


class WriterLockHeld(StoreError):
    """Another gateway holds the writer lock of this database."""


class StoreWriter(Protocol):
    """How a store writes: a transaction per call, on the connection the lock allows."""

    def transaction(self) -> contextlib.AbstractContextManager[Connection]:
        """A transaction that commits when the block ends (raises StoreError if it may not)."""
        ...

    def check(self) -> bool:
        """Whether this writer may still write (call under the store's write lock)."""
        ...

    def close(self) -> None:
        """Release the lock."""
        ...


class UnlockedWriter:
    """Writes on any pooled connection; holds no lock (in-memory SQLite, or not serving)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def transaction(self) -> contextlib.AbstractContextManager[Connection]:
        return self._engine.begin()

    def check(self) -> bool:
        return True

    def close(self) -> None:
        pass


class FileLocked(Exception):
    """Another process holds the lock file; ``holder`` names it (" (pid N)") if known."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is locked{holder}")
        self.path = path
        self.holder = holder


def lock_file(path: Path) -> int:
    """Take an exclusive flock on ``path`` (created if missing) and write this pid in it.

    Returns the file descriptor (closing it releases the lock); raises
    :class:`FileLocked` when another process holds it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FileLocked(path, _holder(path)) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


class _SqliteFileLock(UnlockedWriter):
    """An exclusive flock on ``<database>.lock`` (writes themselves go through the pool),
    and, with ``wal``, the WAL checkpoints out of the commits: a :class:`WalCheckpointer`
    woken after each commit, and ``wal_autocheckpoint`` of the connections that write
    raised to the backstop bound (see :mod:`gateway.store.checkpointer`)."""

    def __init__(self, engine: Engine, database: str, wal: WalSettings | None) -> None:
        super().__init__(engine)
        real = Path(database).resolve()
        try:
            self._fd = lock_file(real.with_name(real.name + ".lock"))
        except FileLocked as busy:
            raise WriterLockHeld(
                f"another gateway{busy.holder} is already writing to the SQLite database "
                f"{real} (it holds {busy.path}); stop it first, or give this one another "
                "database"
            ) from None
        self._bound = wal.bound_pages if wal is not None else None
        self.checkpointer = WalCheckpointer(real, wal.checkpoint_pages) if wal is not None else None

    @contextlib.contextmanager
    def _checkpointed(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            info = conn.info
            if info.get("wal_autocheckpoint") != self._bound:
                # Per connection, kept while it lives in the pool.
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={self._bound}")
                info["wal_autocheckpoint"] = self._bound
            yield conn
        if self.checkpointer is not None:  # committed (an exception skips this)
            self.checkpointer.committed()

    def transaction(self) -> contextlib.AbstractContextManager[Connection]:
        if self.checkpointer is None:
            return self._engine.begin()
        return self._checkpointed()

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
            self.checkpointer = None
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock
            self._fd = -1


class _PostgresSessionLock:
    """The advisory lock, held by the one session that makes every write."""

    def __init__(self, engine: Engine) -> None:
        self._lost: str | None = None
        connection = engine.connect()
        try:
            with connection.begin():
                taken = connection.exec_driver_sql(
                    f"SELECT pg_try_advisory_lock({ADVISORY_KEY_SQL})"
                ).scalar()
                self._pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            raise WriterLockHeld(
                "another gateway is already writing to this PostgreSQL log (it holds the "
                "writer advisory lock of this database and schema); stop it first, or use "
                "another schema"
            )
        self._connection = connection

    def _lose(self, why: str) -> StoreError:
        if self._lost is None:
            self._lost = why
            log.error(
                "the writer lock on the database is lost (%s): this gateway writes nothing "
                "more and reports NOT_SERVING; restart it (another gateway may be writing now)",
                why,
            )
        return StoreError(f"this gateway lost the database's writer lock ({self._lost})")

    @contextlib.contextmanager
    def _session(self) -> Iterator[Connection]:
        """A transaction on the lock's session, or StoreError when the session is not it."""
        if self._lost is not None:
            raise self._lose(self._lost)
        connection = self._connection
        try:
            with connection.begin():
                pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                if pid != self._pid:  # reconnected: a session that holds no lock
                    raise self._lose(f"its session {self._pid} was replaced by {pid}")
                yield connection
        except DBAPIError as exc:
            if exc.connection_invalidated or connection.invalidated:
                raise self._lose(f"its session ended: {type(exc.orig).__name__}") from exc
            raise

    def transaction(self) -> contextlib.AbstractContextManager[Connection]:
        return self._session()

    def check(self) -> bool:
        try:
            with self._session():
                pass
        except (StoreError, SQLAlchemyError):
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(SQLAlchemyError):
            self._connection.close()  # the session ends: PostgreSQL releases the lock


@dataclass(frozen=True)
class WalSettings:
    """SQLite's WAL while a gateway writes: the background thread checkpoints once the
    WAL holds ``checkpoint_pages``; the writer itself only past ``bound_pages``."""

    checkpoint_pages: int
    bound_pages: int


def take_writer_lock(engine: Engine, wal: WalSettings | None = None) -> StoreWriter:
    """Take the writer lock of ``engine``'s database, or raise :class:`WriterLockHeld`.

    ``wal`` (SQLite files only): checkpoint the WAL from a background thread
    (see :mod:`gateway.store.checkpointer`); None leaves it to the commits."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return UnlockedWriter(engine)
        return _SqliteFileLock(engine, url.database, wal)
    return _PostgresSessionLock(engine)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""

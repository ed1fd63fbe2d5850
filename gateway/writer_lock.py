"""One writer per log: a gateway holds an exclusive lock for as long as it serves.

Two gateways appending to the same log would each keep failing the other's
commits (the database's unique keys keep the log itself intact). So a gateway
takes, before it opens the ledger:

* an exclusive `flock` on ``<data_dir>/gateway.lock`` (covers the SQLite
  default and the TSA's state folder), and
* with a PostgreSQL store, a session advisory lock keyed by the current schema,
  held on a connection of its own,

and refuses to start, saying which gateway holds them, when it cannot. The
kernel and PostgreSQL release both when the process dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, GatewayConfig

__all__ = ["WriterLock", "acquire_writer_lock"]

_ADVISORY_KEY_SQL = "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':evidence-gateway'))"


class WriterLock:
    """Held locks; `release` gives them back (also done by process exit)."""

    def __init__(self, fd: int, pg_connection: Any = None, pg_engine: Any = None) -> None:
        self._fd = fd
        self._pg_connection = pg_connection
        self._pg_engine = pg_engine

    def release(self) -> None:
        if self._pg_connection is not None:
            with contextlib.suppress(Exception):
                self._pg_connection.close()
            self._pg_engine.dispose()
            self._pg_connection = None
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock
            self._fd = -1


def acquire_writer_lock(config: GatewayConfig) -> WriterLock:
    """Take the writer locks of `config`'s data folder and store, or raise ConfigError."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    path = config.data_dir / "gateway.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(path)
        os.close(fd)
        raise ConfigError(
            f"another gateway{holder} is already serving from {config.data_dir} "
            f"(it holds {path}); stop it first, or give this one another data_dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    lock = WriterLock(fd)
    if config.store_url.startswith("postgresql"):
        try:
            _take_advisory_lock(lock, config.store_url)
        except BaseException:
            lock.release()
            raise
    return lock


def _take_advisory_lock(lock: WriterLock, url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        connection = engine.connect()
        taken = connection.exec_driver_sql(_ADVISORY_KEY_SQL).scalar()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ConfigError(f"cannot reach the store to take the writer lock: {exc}") from exc
    if not taken:
        connection.close()
        engine.dispose()
        raise ConfigError(
            "another gateway is already writing to this PostgreSQL log (it holds the "
            "writer advisory lock of this schema); stop it first, or use another schema"
        )
    lock._pg_connection = connection
    lock._pg_engine = engine


def _read_holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""

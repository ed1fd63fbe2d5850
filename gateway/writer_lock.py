"""One gateway per data folder: an exclusive lock held for as long as it serves.

A gateway takes, before it opens the ledger, an exclusive ``flock`` on
``<data_dir>/gateway.lock`` (the data folder holds the TSA's serial-number
state and, by default, the SQLite database), and refuses to start, naming the
holder's pid, when it cannot. The store itself has its own writer lock, taken
when the ledger opens it (:mod:`gateway.store.lock`: a lock file beside a
SQLite database, an advisory lock per PostgreSQL database and schema), so two
gateways with different data folders and one ``store.url`` do not both write
either. The kernel releases the lock when the process dies, even by SIGKILL.
"""

from __future__ import annotations

import os

from gateway.config import ConfigError, GatewayConfig
from gateway.store.lock import FileLocked, lock_file

__all__ = ["WriterLock", "acquire_writer_lock"]


class WriterLock:
    """The held data folder lock; `release` gives it back (also done by process exit)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock
            self._fd = -1


def acquire_writer_lock(config: GatewayConfig) -> WriterLock:
    """Take the lock of `config`'s data folder, or raise ConfigError."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return WriterLock(lock_file(config.data_dir / "gateway.lock"))
    except FileLocked as busy:
        raise ConfigError(
            f"another gateway{busy.holder} is already serving from {config.data_dir} "
            f"(it holds {busy.path}); stop it first, or give this one another data_dir"
        ) from None

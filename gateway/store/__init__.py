"""Storage of the gateway: the :class:`Store` interface and its SQL implementation."""

from __future__ import annotations

from gateway.store.base import LoanHead, Store, StoredCheckpoint, StoredEntry, StoreError
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore

__all__ = [
    "DEFAULT_SQLITE_NAME",
    "LoanHead",
    "SqlStore",
    "Store",
    "StoreError",
    "StoredCheckpoint",
    "StoredEntry",
]

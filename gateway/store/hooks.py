"""Hooks of a group commit: rows other modules write in the batch's own transaction.

A :class:`BatchHook` added to the store (:meth:`gateway.store.sql.SqlStore.add_batch_hook`)
is called by every :meth:`~gateway.store.sql.SqlStore.append_batch`:

* :meth:`BatchHook.write` inside the batch's transaction, with its entries: the rows
  it writes are committed with the entries, or not at all (a failure of the hook fails
  the batch, as any failed insert does);
* :meth:`BatchHook.committed` once the transaction is durable, in the writer's thread.
  The ledger has one writer thread, so hooks see the batches in commit order, which is
  leaf order.

The judicial cases' tables (:mod:`gateway.store.cases`) are kept this way, so a case's
row and its event's row are never out of step with the event's record in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from gateway.store.base import StoredEntry

__all__ = ["BatchHook"]


class BatchHook(Protocol):
    """Rows written with a batch, and what to do once it is durable."""

    def write(self, conn: Any, entries: Sequence[StoredEntry]) -> None:
        """Write this hook's rows for ``entries`` on ``conn`` (inside the batch's
        transaction). Must be quick and must not commit."""
        ...

    def committed(self, entries: Sequence[StoredEntry]) -> None:
        """The batch of ``entries`` is durable (writer thread; must not block)."""
        ...

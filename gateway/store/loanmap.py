"""The SQL store's part for the loan map: the ``loan_map_blocks`` rows.

Mixed into :class:`gateway.store.sql.SqlStore`. The rows are written by
:meth:`~gateway.store.sql.SqlStore.append_batch` in the batch's own
transaction (``map_blocks``); what is read here:

* :meth:`LoanMapQueries.map_block`, a proof's read, one per radix-16 level:
  ``WHERE path = ? AND version <= ? ORDER BY version DESC LIMIT 1``, a
  descent of the primary key ``(path, version)`` on both databases (no
  row-value comparison, which SQLite would answer with a scan);
* :meth:`LoanMapQueries.map_blocks`, the whole map at one version, read once
  when the ledger starts: one index seek per node for its path and one for
  its latest row (a loose index scan), not a pass over the table's history.
"""

from __future__ import annotations

from typing import Any

from gateway.store.tables import LoanMapBlockRow, metadata

__all__ = ["LOAN_MAP_BLOCKS", "LOAN_MAP_COLUMNS", "LoanMapQueries"]

LOAN_MAP_BLOCKS = metadata.tables[str(LoanMapBlockRow.__tablename__)]
LOAN_MAP_COLUMNS = ("path", "version", "body")
_MAX_PATH = 64
_INT64_MAX = (1 << 63) - 1


def _check(path: str, version: int) -> None:
    if not isinstance(path, str) or len(path) > _MAX_PATH:
        raise ValueError("a loan map path is at most 64 hex digits")
    if type(version) is not int or not 0 <= version <= _INT64_MAX:
        raise ValueError("a loan map version is a tree size in the signed 64-bit range")


class LoanMapQueries:
    """:meth:`Store.map_block` and :meth:`Store.map_blocks` on SQL (mixed into SqlStore)."""

    _mark: str

    def _driver_rows(
        self, sql: str, params: tuple[Any, ...]
    ) -> list[Any]:  # pragma: no cover - SqlStore's
        raise NotImplementedError

    def map_block(self, path: str, version: int) -> bytes | None:
        """The body of the map node at ``path`` in the map of checkpoint size ``version``
        (the row with the largest version not above it), or ``None``."""
        _check(path, version)
        m = self._mark
        rows = self._driver_rows(
            f"SELECT body FROM {LOAN_MAP_BLOCKS.name} WHERE path = {m} AND version <= {m} "
            "ORDER BY version DESC LIMIT 1",
            (path, version),
        )
        return bytes(rows[0][0]) if rows else None

    def map_blocks(self, version: int) -> list[tuple[str, bytes]]:
        """Every node of the map of checkpoint size ``version``: ``(path, body)``, by path.

        Read once, when the ledger starts. A loose index scan of the primary key:
        each distinct path is found by one seek (the smallest path above the
        last), its row by another (the largest version not above ``version``),
        so the work follows the number of nodes of the map, not the number of
        rows its history wrote.
        """
        _check("", version)
        m = self._mark
        t = LOAN_MAP_BLOCKS.name
        rows = self._driver_rows(
            f"WITH RECURSIVE p(path) AS ("
            f"SELECT MIN(path) FROM {t} "
            f"UNION ALL SELECT (SELECT MIN(b.path) FROM {t} b WHERE b.path > p.path) "
            f"FROM p WHERE p.path IS NOT NULL) "
            f"SELECT p.path, (SELECT b.body FROM {t} b WHERE b.path = p.path "
            f"AND b.version <= {m} ORDER BY b.version DESC LIMIT 1) "
            f"FROM p WHERE p.path IS NOT NULL",
            (version,),
        )
        return sorted((str(p), bytes(body)) for p, body in rows if body is not None)

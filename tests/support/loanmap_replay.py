"""The loan map replayed from a store's leaves, as an auditor replays GetEntries."""

from __future__ import annotations

from sqlalchemy import text

from court.verify.loanmap import LoanMap, head_of_leaf, map_root_of
from gateway.store.sql import SqlStore


def checkpoints(store: SqlStore) -> list[tuple[int, str]]:
    """Every stored checkpoint ``(size, note)``, by size."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT size, note FROM checkpoints ORDER BY size"))
        return [(int(size), str(note)) for size, note in rows]


def check_every_checkpoint(store: SqlStore) -> tuple[int, int]:
    """Replay the leaves with the court's LoanMap; every checkpoint that carries a map line
    must carry the root of the leaves below its size. Returns ``(with line, without)``."""
    m = LoanMap()
    done = 0
    with_line = without = 0
    for size, note in checkpoints(store):
        m.update(h for i, leaf in store.entries_range(done, size) if (h := head_of_leaf(i, leaf)))
        done = size
        root = map_root_of(note)
        if root is None:
            without += 1
        else:
            assert root == m.root(), f"the map root of checkpoint {size} is not the leaves' map"
            with_line += 1
    return with_line, without

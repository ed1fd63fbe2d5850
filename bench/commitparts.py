"""Micro-measure of parts of the ledger's committing thread, each beside what it replaced.

Run: ``.venv/bin/python -m bench.commitparts``.

CPU time (``time.process_time``), medians of 7 rounds, alternating the two
variants of each part, in microseconds per entry of a batch of 500:

* the batch's inclusion proofs at 100,500 leaves: one
  :func:`gateway.log.tree.inclusion_proof` per receipt, against one
  :func:`gateway.log.tree.inclusion_proofs` pass (what the ledger does);
* the loan heads' upsert of 500 loans in a SQLite store (its commit included):
  SQLAlchemy's Core ``INSERT ... ON CONFLICT DO UPDATE`` with a dict per row,
  against the driver SQL with positional rows the store now runs;
* an entry's ``metadata_json``: ``json.dumps`` with options, against one encoder
  made once.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite

from gateway.ledger import _OverlayReader
from gateway.log.tree import CompactTree, MemoryNodeStore, inclusion_proof, inclusion_proofs
from gateway.store.sql import _HEAD_COLUMNS, _HEADS, SqlStore, _metadata_json

BATCH = 500
ROUNDS = 7


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat


def _compare(
    name: str,
    a: tuple[str, Callable[[], object]],
    b: tuple[str, Callable[[], object]],
    repeat: int,
    per: int,
) -> None:
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(ROUNDS):
        ta.append(_cpu(a[1], repeat))
        tb.append(_cpu(b[1], repeat))
    ma, mb = statistics.median(ta) / per * 1e6, statistics.median(tb) / per * 1e6
    print(f"{name}: {a[0]} {ma:.1f} µs, {b[0]} {mb:.1f} µs per entry ({mb / ma:.2f}x)")


def _proofs() -> None:
    tree = CompactTree()
    store = MemoryNodeStore()
    store.put_nodes(tree.append_leaves(os.urandom(32) for _ in range(100_000)))
    old = tree.frontier()
    first = tree.size
    nodes = tree.append_leaves(os.urandom(32) for _ in range(BATCH))
    size = tree.size
    overlay = {(lv, ix): h for lv, ix, h in old}
    overlay.update(((lv, ix), h) for lv, ix, h in nodes)
    reader = _OverlayReader(overlay, store)

    def one_by_one() -> list[tuple[bytes, ...]]:
        return [tuple(inclusion_proof(reader, i, size)) for i in range(first, size)]

    def one_pass() -> list[tuple[bytes, ...]]:
        return [tuple(p) for p in inclusion_proofs(reader, range(first, size), size)]

    assert one_by_one() == one_pass()
    _compare(
        f"inclusion proofs of a batch of {BATCH} at {size:,} leaves",
        ("one by one", one_by_one),
        ("one pass", one_pass),
        5,
        BATCH,
    )


def _heads() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-commitparts-") as tmp:
        store = SqlStore.in_data_dir(Path(tmp))
        engine = store._engine
        sequence = [0]

        def rows() -> list[tuple[Any, ...]]:
            sequence[0] += 1
            n = sequence[0]
            return [
                (f"bank-{i % 3}", f"loan-{i}", n, os.urandom(32), n * BATCH + i)
                for i in range(BATCH)
            ]

        def core() -> None:
            stmt: Any = sqlite.insert(_HEADS)
            stmt = stmt.on_conflict_do_update(
                index_elements=["owner", "loan_ref"],
                set_={
                    "sequence": stmt.excluded.sequence,
                    "leaf_hash": stmt.excluded.leaf_hash,
                    "leaf_index": stmt.excluded.leaf_index,
                },
            )
            params = [dict(zip(_HEAD_COLUMNS, r, strict=True)) for r in rows()]
            with engine.begin() as conn:
                conn.execute(stmt, params)

        def driver() -> None:
            params = rows()
            with engine.begin() as conn:
                conn.exec_driver_sql(store._upsert_heads_sql, params)

        core()
        driver()
        _compare(
            f"loan heads upsert of {BATCH} loans (SQLite, commit included)",
            ("Core statement", core),
            ("driver SQL", driver),
            10,
            BATCH,
        )
        store.close()


def _metadata() -> None:
    metadata = (("agency", "a-17"), ("channel", "app"))
    assert _metadata_json(metadata) == json.dumps(
        metadata, ensure_ascii=False, separators=(",", ":")
    )

    def dumps() -> None:
        for _ in range(BATCH):
            json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))

    def encoder() -> None:
        for _ in range(BATCH):
            _metadata_json(metadata)

    _compare(
        "metadata_json of an entry", ("json.dumps", dumps), ("one encoder", encoder), 20, BATCH
    )


def main() -> None:
    _proofs()
    _heads()
    _metadata()


if __name__ == "__main__":
    main()

"""What the loan map costs when the gateway starts: loading it from the store.

Run: ``.venv/bin/python -m bench.loanmap_start --size 300000 [--data-dir ./data]``.

Uses the cached log of :mod:`bench.biglog` (built once, with the map's rows,
as the ledger writes them), opens its SQLite store and loads the map of the
latest checkpoint as the ledger does at start
(:meth:`gateway.log.loanmap.VersionedLoanMap.load`: the latest row of every
path, each block's hash checked against its parent's and the top against the
checkpoint's ``loan-map/v1`` root). Reported: the rows of the table, the nodes
and loans of the map, and the median wall time of ``--runs`` loads (the
first one after opening reads the pages from disk or the OS cache).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.biglog import cached_log
from gateway.log.loanmap import VersionedLoanMap
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300_000)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    folder = cached_log(args.data_dir, args.size)
    store = SqlStore.sqlite(folder / DEFAULT_SQLITE_NAME)
    try:
        latest = store.latest_checkpoint()
        assert latest is not None
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            m = VersionedLoanMap.load(store, latest.size, latest.note)
            times.append(time.perf_counter() - t0)
        (rows,) = store._driver_rows("SELECT count(*) FROM loan_map_blocks", ())[0]
        nodes = len(store.map_blocks(latest.size))
    finally:
        store.close()
    print(
        f"loan map start-up, SQLite, {latest.size:,} entries: {rows:,} rows in loan_map_blocks, "
        f"the latest map has {nodes:,} nodes and {len(m):,} loans; loading it took "
        f"{statistics.median(times):.2f} s (median of {args.runs}; first {times[0]:.2f} s)"
    )


if __name__ == "__main__":
    main()

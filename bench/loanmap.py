"""What the loan map costs: committed entries/s with it and without it, in the same run.

Run: ``.venv/bin/python -m bench.loanmap [--entries 20000] [--rounds 3] [--loans 10000]``.

Each round opens a fresh SQLite database (WAL, synchronous=FULL) and a ledger
(in-process TSA in threads, as ``bench.ledger``), keeps ``--calls`` submit
calls of ``--batch`` records in flight until ``--entries`` are durable, once
with the loan map (every checkpoint carries ``loan-map/v1``, every batch
writes its changed map nodes in its own transaction) and once with
``Ledger(loan_map=False)``, alternating, so that both see the same machine
load. Records go round-robin to ``--loans`` loans. Reported: the median of
the rounds' entries/s for each, their ratio, the process's CPU time per
committed entry for each (steadier than entries/s on a shared machine: the
ledger's stages share one interpreter lock, so CPU is what the map takes from
throughput), and the loan map's storage: the bytes per entry of the
``loan_map_blocks`` rows' payload and of the table's pages (SQLite
``dbstat``), and rows per entry.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.ledger import _run
from gateway.ledger import Ledger
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore
from gateway.tsa import EngineTokenSource
from notary.pki import (
    init_pki,
    load_log_signing_key,
    load_log_verifier_key,
    load_tsa_signing_material,
)
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner


@dataclass(frozen=True)
class Round:
    entries_per_s: float
    cpu_us_per_entry: float
    map_rows: int
    map_payload: int
    map_pages: int


def _round(folder: Path, pki: Path, args: argparse.Namespace, loan_map: bool) -> Round:
    key, cert, roots = load_tsa_signing_material(pki)
    engine = TimeStampAuthority(KeySigner(key, cert), LeasedSerials(folder / "serials"))
    store = SqlStore.in_data_dir(folder / "data")
    ledger = Ledger.open(
        store=store,
        tsa=EngineTokenSource(engine, roots),
        log_key=load_log_signing_key(pki),
        log_origin=load_log_verifier_key(pki).origin,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        loan_map=loan_map,
    )
    cpu = time.process_time()
    try:
        elapsed, _ = asyncio.run(_run(ledger, args.entries, args.batch, args.calls, args.loans))
    finally:
        asyncio.run(ledger.close())
    cpu = time.process_time() - cpu
    raw = sqlite3.connect(folder / "data" / DEFAULT_SQLITE_NAME)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows, payload = raw.execute(
            "SELECT count(*), coalesce(sum(length(path) + 8 + length(body)), 0) "
            "FROM loan_map_blocks"
        ).fetchone()
        (pages,) = raw.execute(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = 'loan_map_blocks'"
        ).fetchone()
    finally:
        raw.close()
    return Round(args.entries / elapsed, 1e6 * cpu / args.entries, rows, payload, pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loans", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--calls", type=int, default=4, help="concurrent submit calls")
    parser.add_argument("--max-batch", type=int, default=500)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    args = parser.parse_args()

    with_map: list[Round] = []
    without: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="bench-loanmap-") as tmp:
        pki = Path(tmp) / "pki"
        init_pki(pki)
        for n in range(args.rounds):
            for loan_map, out in ((True, with_map), (False, without)):
                folder = Path(tmp) / f"round-{n}-{'map' if loan_map else 'nomap'}"
                out.append(_round(folder, pki, args, loan_map))
    on = statistics.median(r.entries_per_s for r in with_map)
    off = statistics.median(r.entries_per_s for r in without)
    cpu_on = statistics.median(r.cpu_us_per_entry for r in with_map)
    cpu_off = statistics.median(r.cpu_us_per_entry for r in without)
    last = with_map[-1]
    print(
        f"loan map, ledger on SQLite (WAL, synchronous=FULL), {args.entries} entries on "
        f"{args.loans} loans per round, medians of {args.rounds} rounds: "
        f"{on:,.0f} committed entries/s with the map, {off:,.0f} without: "
        f"ratio {on / off:.3f} (the map costs {100 * (1 - on / off):.1f}% of throughput; "
        f"target <= 10%)"
    )
    print(
        f"loan map CPU: {cpu_on:.0f} us of process CPU per committed entry with the map, "
        f"{cpu_off:.0f} without: +{100 * (cpu_on / cpu_off - 1):.1f}%"
    )
    print(
        f"loan map storage: {last.map_rows / args.entries:.2f} rows per entry, "
        f"{last.map_payload / args.entries:,.0f} bytes of row payload per entry, "
        f"{last.map_pages / args.entries:,.0f} bytes of table pages per entry (dbstat)"
    )


if __name__ == "__main__":
    main()

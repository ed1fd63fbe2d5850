"""Micro-measure of the ledger alone (no gRPC): durable entries/s on SQLite.

Run: ``.venv/bin/python -m bench.ledger [--entries N] [--batch 500] [--calls K]``.

A dev PKI and a SQLite database (WAL, synchronous=FULL) are made in a
temporary folder; ``--calls`` concurrent ``Ledger.submit`` calls of
``--batch`` items each are kept in flight until ``--entries`` are durable.
Every receipt carries a verified RFC 3161 token, a signed checkpoint and an
inclusion proof. Reported: entries/s over the run, per-call latency
percentiles, the number of group commits (checkpoints) it took, and the CPU
time per entry of the ledger's two threads (committing and preparing, from
``/proc``: user + system time of each thread over the run), of the TSA worker
processes, and with ``--url`` of the local database server's processes (those
named ``postgres``, the backends that ended during the run included): the
server shares the machine's cores with the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.writepath import _TICK, _children, _ticks
from gateway.ledger import Ledger
from gateway.model import EvidenceKind, Receipt, Submission
from gateway.store.sql import SqlStore
from gateway.tsa import EngineTokenSource, ProcessEngineTokenSource, TokenSource
from notary.pki import (
    init_pki,
    load_log_signing_key,
    load_log_verifier_key,
    load_tsa_signing_material,
)
from notary.serve import build_authority
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner


async def _run(
    ledger: Ledger, entries: int, batch: int, calls: int, loans: int = 1000
) -> tuple[float, list[float]]:
    now = datetime.now(UTC)
    tag = os.urandom(4).hex()
    counter = iter(range(entries))
    latencies: list[float] = []

    async def worker() -> None:
        while True:
            items = []
            for i in counter:
                items.append(
                    Submission(
                        institution="bank-bench",
                        request_id=f"{tag}-{i}",
                        loan_ref=f"loan-{i % loans}",
                        kind=EvidenceKind.REPAYMENT,
                        hash_algorithm="sha256",
                        digest=hashlib.sha256(f"{tag}-{i}".encode()).digest(),
                        occurred_at=now,
                        metadata=(("channel", "app"),),
                    )
                )
                if len(items) == batch:
                    break
            if not items:
                return
            t0 = time.perf_counter()
            results = await ledger.submit(items)
            latencies.append(time.perf_counter() - t0)
            bad = [r for r in results if not isinstance(r, Receipt)]
            if bad:
                raise RuntimeError(f"{len(bad)} items failed, e.g. {bad[0]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(calls)))
    return time.perf_counter() - start, latencies


def _thread_ticks(ledger: Ledger) -> dict[str, int]:
    """CPU clock ticks so far of the ledger's committing and preparing threads."""
    out = {}
    for name, thread in (("committing", ledger._writer), ("preparing", ledger._preparer)):
        stat = Path(f"/proc/self/task/{thread.native_id}/stat")
        out[name] = _ticks(stat)
        out[f"{name} (user)"] = _ticks(stat, system=False)
    return out


def _server_ticks() -> int:
    """CPU clock ticks so far of this machine's processes named ``postgres``, with what
    their reaped children used (a backend's time is added to the postmaster's when it
    ends)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text_ = stat.read_text()
        except OSError:
            continue
        name, rest = text_.split("(", 1)[1].rsplit(")", 1)
        if name == "postgres":
            fields = rest.split()
            total += sum(int(f) for f in fields[11:15])
    return total


def _workers_ticks() -> int:
    """CPU clock ticks so far of this process's child processes (the TSA workers)."""
    return sum(_ticks(Path(f"/proc/{pid}/stat")) for pid in _children(os.getpid()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--calls", type=int, default=4, help="concurrent submit calls")
    parser.add_argument("--max-batch", type=int, default=500)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument(
        "--url",
        default="",
        help="a PostgreSQL SQLAlchemy URL to measure instead of SQLite "
        "(a temporary schema is created and dropped)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="stamp in this many worker processes (ProcessEngineTokenSource); 0: threads",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        folder = Path(tmp)
        init_pki(folder / "pki")
        key, cert, roots = load_tsa_signing_material(folder / "pki")
        tsa: TokenSource
        if args.processes:
            factory = functools.partial(build_authority, folder / "pki", folder / "serials")
            tsa = ProcessEngineTokenSource(factory, roots, processes=args.processes)
        else:
            engine = TimeStampAuthority(KeySigner(key, cert), LeasedSerials(folder / "serials"))
            tsa = EngineTokenSource(engine, roots)
        schema = ""
        if args.url:
            schema = "bench_" + os.urandom(6).hex()
            admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            store = SqlStore.open(args.url, schema=schema)
        else:
            store = SqlStore.in_data_dir(folder / "data")
        ledger = Ledger.open(
            store=store,
            tsa=tsa,
            log_key=load_log_signing_key(folder / "pki"),
            log_origin=load_log_verifier_key(folder / "pki").origin,
            max_batch=args.max_batch,
            max_wait_ms=args.max_wait_ms,
        )
        try:
            before = _thread_ticks(ledger)
            before["TSA worker processes"] = _workers_ticks()
            before["database server processes"] = _server_ticks() if args.url else 0
            elapsed, latencies = asyncio.run(_run(ledger, args.entries, args.batch, args.calls))
            after = _thread_ticks(ledger)
            after["TSA worker processes"] = _workers_ticks()
            size = ledger.size
        finally:
            asyncio.run(ledger.close())
            if schema:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    if args.url:
        time.sleep(1.0)  # the closed connections' backends end and are reaped
        after["database server processes"] = _server_ticks()
    else:
        del before["database server processes"]
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(
        f"ledger on {'PostgreSQL' if args.url else 'SQLite (WAL, synchronous=FULL)'}, "
        "TSA engine in "
        f"{f'{args.processes} worker processes' if args.processes else 'threads'}: "
        f"{args.entries} entries in "
        f"{elapsed:.2f} s = {args.entries / elapsed:,.0f} durable entries/s "
        f"(calls of {args.batch} items, {args.calls} in flight; per call p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms; final tree size {size})"
    )
    us = 1e6 / _TICK / args.entries
    print(
        "CPU per entry: "
        + ", ".join(
            f"{name}{'' if 'processes' in name else ' thread'} "
            f"{(after[name] - before[name]) * us:.0f} µs"
            for name in after
        )
    )


if __name__ == "__main__":
    main()

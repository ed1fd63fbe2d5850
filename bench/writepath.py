"""CPU per committed entry of the durable write path, through a real `gateway serve`.

Run: ``.venv/bin/python -m bench.writepath [--seconds 4] [--rounds 3] [--profile DIR]
[--log-size 1000000]``.

On a shared machine entries/s swing with the other load; CPU time per
committed entry does not (much). So this bench starts `gateway serve`
(development mode, SQLite WAL with full sync, in-process TSA in its worker
process as configured by default), drives ``BatchSubmitEvidence`` (2 callers x
1,000 items) and ``SubmitEvidenceStream`` (2 streams of single-item messages,
and 2 of messages of 100 submissions) from this process, and reports for each,
as medians of ``--rounds``:

* committed entries/s and their ratio to the raw P-256 signatures/s of the
  TSA key, measured in the same run just before;
* CPU microseconds per committed entry: the gateway process, its TSA
  worker processes, and this client process (from ``/proc``);
* the gateway's CPU per entry by thread (``py-spy dump`` names the Python
  threads; the others, gRPC's C core among them, are counted together).

With ``--profile DIR`` a ``py-spy record`` (collapsed stacks) of the gateway
is taken during one extra round of each mode and written to ``DIR``.

With ``--log-size N`` (say 1000000) a second `gateway serve` runs on a copy
of the cached log of ``N`` entries (taken from ``DATA_DIR``, default
``./data``; built once by :mod:`bench.biglog` if missing; its PKI and keys
are the log's), and each round of each mode runs on the empty log and then on
the big one, back to back, so both see the same machine load. For each mode
the big log's entries/s over the empty log's is printed (median of the
rounds' ratios; issue 12's target is at least 0.9), then the bytes on disk
per entry of both logs after the run (SQLite ``dbstat``; and the files). The
copy (about 3 GB at 1,000,000 entries) goes to the temporary folder
(``TMPDIR``) and is deleted afterwards; the run stops first if that disk has
not room for it. The empty log is empty at the start only: it grows by what
the rounds write, so both logs' entries before and after the rounds are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.biglog import cached_log, sqlite_sizes
from bench.gateway import (
    OPTIONS,
    _raw_signatures,
    _start_gateway,
    _wait_ready,
    batches,
    peak_rss_kib,
    stream,
)
from bench.tsa import _free_port
from evidence_gateway.v1 import evidence_service_pb2_grpc
from gateway.store.sql import DEFAULT_SQLITE_NAME
from notary.pki import init_pki

_TICK = os.sysconf("SC_CLK_TCK")
TARGET_RATIO = 0.9  # issue 12: entries/s at 1,000,000 entries within 10% of the empty log's
_COPY_HEADROOM = 2 * 10**9  # room for what a run writes on the copy (about 3 KB an entry)
_COMMITTER = "ledger-commit"  # the committing thread's name
_THREAD = re.compile(r'^Thread (\d+) \([^)]*\): "([^"]*)"', re.MULTILINE)


def _ticks(stat: Path, *, system: bool = True) -> int:
    """utime + stime (utime alone without ``system``) of a /proc stat file, in clock
    ticks (0 if it is gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + (int(fields[12]) if system else 0)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@dataclass
class Snapshot:
    process: int
    children: int
    threads: dict[int, int]
    client: float
    at: float


def _snapshot(pid: int) -> Snapshot:
    threads = {int(t.name): _ticks(t / "stat") for t in Path(f"/proc/{pid}/task").iterdir()}
    return Snapshot(
        process=_ticks(Path(f"/proc/{pid}/stat")),
        children=sum(_ticks(Path(f"/proc/{c}/stat")) for c in _children(pid)),
        threads=threads,
        client=time.process_time(),
        at=time.perf_counter(),
    )


def _thread_names(pid: int) -> dict[int, str]:
    """Python thread names by OS thread id (py-spy dump); empty if py-spy cannot attach."""
    spy = Path(sys.executable).with_name("py-spy")
    try:
        out = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {int(tid): name for tid, name in _THREAD.findall(out)}


@dataclass
class Round:
    entries_per_s: float
    server_us: float
    workers_us: float
    client_us: float
    threads_us: dict[str, float]


def _round(before: Snapshot, after: Snapshot, entries: int, names: dict[int, str]) -> Round:
    us = 1e6 / _TICK / entries
    threads: dict[str, float] = {}
    for tid, ticks in after.threads.items():
        name = names.get(tid, "other (gRPC core, pools)")
        name = re.sub(r"_\d+$", "", name)  # pool threads: one line per pool
        threads[name] = threads.get(name, 0.0) + (ticks - before.threads.get(tid, 0)) * us
    return Round(
        entries_per_s=entries / (after.at - before.at),
        server_us=(after.process - before.process) * us,
        workers_us=(after.children - before.children) * us,
        client_us=(after.client - before.client) * 1e6 / entries,
        threads_us=threads,
    )


Mode = Callable[[evidence_service_pb2_grpc.EvidenceServiceStub, float], Awaitable[float]]


async def _batch(stub: evidence_service_pb2_grpc.EvidenceServiceStub, seconds: float) -> float:
    return await batches(stub, 2, 1000, seconds)


async def _stream(stub: evidence_service_pb2_grpc.EvidenceServiceStub, seconds: float) -> float:
    return await stream(stub, 2, seconds)


async def _stream100(stub: evidence_service_pb2_grpc.EvidenceServiceStub, seconds: float) -> float:
    return await stream(stub, 2, seconds, per_message=100)


MODES: dict[str, Mode] = {"batch": _batch, "stream": _stream, "stream100": _stream100}


async def _measure(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub,
    pid: int,
    mode: Mode,
    seconds: float,
    names: dict[int, str],
) -> Round:
    before = _snapshot(pid)
    rate = await mode(stub, seconds)
    after = _snapshot(pid)
    entries = round(rate * (after.at - before.at))  # the mode's own count, over its own time
    return _round(before, after, max(1, entries), names)


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _print(name: str, rounds: list[Round], raw: float, label: str = "") -> None:
    rate = _med([r.entries_per_s for r in rounds])
    server = _med([r.server_us for r in rounds])
    workers = _med([r.workers_us for r in rounds])
    client = _med([r.client_us for r in rounds])
    where = f", {label}" if label else ""
    print(
        f"  {name:<9} {rate:>8,.0f} entries/s ({rate / raw:.3f} of raw signatures/s){where}; "
        f"CPU per entry: gateway {server:.0f} us + TSA workers {workers:.0f} us, "
        f"client {client:.0f} us"
    )
    threads = sorted({t for r in rounds for t in r.threads_us})
    parts = [(t, _med([r.threads_us.get(t, 0.0) for r in rounds])) for t in threads]
    parts.sort(key=lambda p: -p[1])
    print("            gateway threads: " + ", ".join(f"{t} {v:.0f}" for t, v in parts if v >= 1))


def _print_ratio(empty: list[Round], big: list[Round]) -> None:
    """The big log's entries/s over the empty log's, round by round (each pair ran back to
    back), and the same for the committing thread's CPU per entry."""
    rates = [b.entries_per_s / e.entries_per_s for e, b in zip(empty, big, strict=True)]
    commit = [
        b.threads_us.get(_COMMITTER, 0.0) / e.threads_us[_COMMITTER]
        for e, b in zip(empty, big, strict=True)
        if e.threads_us.get(_COMMITTER)
    ]
    ratio = _med(rates)
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    line = (
        f"            big / empty: entries/s x{ratio:.2f} ({verdict}; rounds "
        + ", ".join(f"{r:.2f}" for r in rates)
        + ")"
    )
    if commit:
        line += f", {_COMMITTER} CPU per entry x{_med(commit):.2f}"
    print(line)


@dataclass
class Gateway:
    """One `gateway serve` under measurement and its rounds by mode."""

    label: str
    data: Path
    proc: subprocess.Popen[bytes]
    port: int
    results: dict[str, list[Round]]
    entries_before: int = 0
    peaks: dict[int, int] | None = None


def _log_size(db: Path) -> int:
    """Entries in the log of ``db`` (its latest checkpoint's tree size; 0 if none)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()[0])
    finally:
        conn.close()


def _copy_log(folder: Path, into: Path) -> Path:
    """A copy of the cached log's folder (PKI, TSA serial state, database) under ``into``.

    The copy is written to by the run; the cache stays as it is. Fails with a
    clear message when ``into``'s disk has not room for it and what the run adds.
    """
    needed = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    free = shutil.disk_usage(into).free
    if free < needed + _COPY_HEADROOM:
        raise SystemExit(
            f"copying the cached log {folder} needs {needed / 1e9:.1f} GB plus "
            f"{_COPY_HEADROOM / 1e9:.0f} GB for the run's writes, but {into} has "
            f"{free / 1e9:.1f} GB free: free some space or point TMPDIR at a larger disk"
        )
    copy = into / folder.name
    shutil.copytree(folder, copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of each mode here")
    parser.add_argument(
        "--log-size",
        type=int,
        default=0,
        help="also measure on a copy of the cached log of this many entries (DATA_DIR)",
    )
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    data_dir = Path(os.environ.get("DATA_DIR", "data"))
    cached = cached_log(data_dir, args.log_size) if args.log_size else None

    with tempfile.TemporaryDirectory(prefix="bench-writepath-") as tmp:
        work = Path(tmp)
        (work / "empty").mkdir()
        init_pki(work / "empty" / "data" / "pki")
        raw = statistics.median(
            _raw_signatures(work / "empty" / "data" / "pki", 1.0) for _ in range(3)
        )
        gateways = [_gateway("empty log", work / "empty", None, modes)]
        try:
            if cached is not None:
                (work / "big").mkdir()
                copied = time.perf_counter()
                copy = _copy_log(cached, work / "big")
                copied = time.perf_counter() - copied
                gateways.append(_gateway(f"{args.log_size:,}-entry log", work / "big", copy, modes))
                print(f"copied the cached log {cached} in {copied:.0f} s")
            asyncio.run(_run(gateways, modes, args))
        finally:
            for gateway in gateways:
                gateway.proc.terminate()
            for gateway in gateways:
                gateway.proc.wait(timeout=60)
        db_sizes = {g.label: _db_figures(g) for g in gateways}
    print(
        f"write path through gateway serve (SQLite WAL, full sync; in-process TSA), "
        f"{args.rounds} rounds of {args.seconds:g} s, medians; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"  raw P-256 signatures/s of the TSA key, this run: {raw:,.0f}")
    if cached is None:
        for mode in modes:
            _print(mode, gateways[0].results[mode], raw)
    else:
        empty, big = gateways
        print(
            f"  alternating rounds: the empty log, then a copy of the cached {args.log_size:,}-"
            f"entry log (same client; target: ratio ≥ {TARGET_RATIO})"
        )
        for mode in modes:
            _print(mode, empty.results[mode], raw, empty.label)
            _print(mode, big.results[mode], raw, big.label)
            _print_ratio(empty.results[mode], big.results[mode])
    for gateway in gateways:
        peaks = dict(gateway.peaks or {})
        own = peaks.pop(gateway.proc.pid, 0)
        workers = ", ".join(f"{kib / 1024:,.0f}" for kib in peaks.values()) or "none"
        print(
            f"  peak RSS (VmHWM) after the run, {gateway.label}: gateway serve "
            f"{own / 1024:,.0f} MiB; its child processes (TSA workers) {workers} MiB"
        )
    for label, (before, after, per_entry, file_bytes) in db_sizes.items():
        print(
            f"  {label}: {before:,} entries before the rounds, {after:,} after; "
            f"{per_entry:,.0f} bytes on disk per entry (SQLite dbstat: pages of every table "
            f"and index), {file_bytes:,.0f} (database and WAL files)"
        )


def _gateway(label: str, work: Path, data: Path | None, modes: list[str]) -> Gateway:
    port = _free_port()
    proc = _start_gateway(work, port, data_dir=data)
    folder = data if data is not None else work / "data"
    return Gateway(label, folder, proc, port, {m: [] for m in modes})


def _db_figures(gateway: Gateway) -> tuple[int, int, float, float]:
    """Entries before and after the rounds, bytes per entry by dbstat and by file size."""
    db = gateway.data / DEFAULT_SQLITE_NAME
    entries = _log_size(db)
    pages = sum(sqlite_sizes(db).values())
    files = sum(f.stat().st_size for f in db.parent.glob(db.name + "*") if f.is_file())
    return gateway.entries_before, entries, pages / entries, files / entries


async def _run(gateways: list[Gateway], modes: list[str], args: argparse.Namespace) -> None:
    async with contextlib.AsyncExitStack() as stack:
        stubs = []
        for gateway in gateways:
            channel = await stack.enter_async_context(
                grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}", options=OPTIONS)
            )
            await _wait_ready(channel, gateway.proc, seconds=300.0)
            stubs.append(evidence_service_pb2_grpc.EvidenceServiceStub(channel))
        names = {}
        for gateway, stub in zip(gateways, stubs, strict=True):
            for mode in modes:  # warm-up
                await MODES[mode](stub, 1.0)
            names[gateway.port] = _thread_names(gateway.proc.pid)
            gateway.entries_before = _log_size(gateway.data / DEFAULT_SQLITE_NAME)
        for _ in range(args.rounds):
            for mode in modes:  # alternating: each sees the same machine load
                for gateway, stub in zip(gateways, stubs, strict=True):
                    pid = gateway.proc.pid
                    round_ = await _measure(
                        stub, pid, MODES[mode], args.seconds, names[gateway.port]
                    )
                    gateway.results[mode].append(round_)
        if args.profile:
            for gateway, stub in zip(gateways, stubs, strict=True):
                suffix = "" if gateway is gateways[0] else f"-log{args.log_size}"
                await _profile(stub, gateway.proc.pid, modes, args, suffix)
        for gateway in gateways:
            pids = (gateway.proc.pid, *_children(gateway.proc.pid))
            gateway.peaks = {pid: peak_rss_kib(pid) for pid in pids}


async def _profile(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub,
    pid: int,
    modes: list[str],
    args: argparse.Namespace,
    suffix: str = "",
) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.profile.mkdir(parents=True, exist_ok=True)
    for mode in modes:
        out = args.profile / f"{mode}{suffix}.collapsed"
        rec = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(pid), "--threads", "--subprocesses"),
                *("--format", "raw", "--duration", str(int(args.seconds) + 1)),
                *("--rate", "200", "-o", str(out)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)
        await MODES[mode](stub, args.seconds)
        await asyncio.to_thread(rec.wait)


if __name__ == "__main__":
    main()

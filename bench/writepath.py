"""CPU per committed entry of the durable write path, through a real `gateway serve`.

Run: ``.venv/bin/python -m bench.writepath [--seconds 4] [--rounds 3] [--profile DIR]``.

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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

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
from notary.pki import init_pki

_TICK = os.sysconf("SC_CLK_TCK")
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


def _print(name: str, rounds: list[Round], raw: float) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    rate = med([r.entries_per_s for r in rounds])
    server = med([r.server_us for r in rounds])
    workers = med([r.workers_us for r in rounds])
    client = med([r.client_us for r in rounds])
    print(
        f"  {name:<9} {rate:>8,.0f} entries/s ({rate / raw:.3f} of raw signatures/s); CPU per "
        f"entry: gateway {server:.0f} us + TSA workers {workers:.0f} us, client {client:.0f} us"
    )
    threads = sorted({t for r in rounds for t in r.threads_us})
    parts = [(t, med([r.threads_us.get(t, 0.0) for r in rounds])) for t in threads]
    parts.sort(key=lambda p: -p[1])
    print("            gateway threads: " + ", ".join(f"{t} {v:.0f}" for t, v in parts if v >= 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of each mode here")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        init_pki(work / "data" / "pki")
        raw = statistics.median(_raw_signatures(work / "data" / "pki", 1.0) for _ in range(3))
        port = _free_port()
        proc = _start_gateway(work, port)
        results: dict[str, list[Round]] = {m: [] for m in modes}
        peaks: dict[int, int] = {}
        try:

            async def go() -> None:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS) as ch:
                    await _wait_ready(ch, proc)
                    stub = evidence_service_pb2_grpc.EvidenceServiceStub(ch)
                    for mode in modes:  # warm-up
                        await MODES[mode](stub, 1.0)
                    names = _thread_names(proc.pid)
                    for _ in range(args.rounds):
                        for mode in modes:  # alternating: each sees the same machine load
                            results[mode].append(
                                await _measure(stub, proc.pid, MODES[mode], args.seconds, names)
                            )
                    if args.profile:
                        await _profile(stub, proc.pid, modes, args)
                    for pid in (proc.pid, *_children(proc.pid)):
                        peaks[pid] = peak_rss_kib(pid)

            asyncio.run(go())
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(
        f"write path through gateway serve (SQLite WAL, full sync; in-process TSA), "
        f"{args.rounds} rounds of {args.seconds:g} s, medians; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"  raw P-256 signatures/s of the TSA key, this run: {raw:,.0f}")
    for mode in modes:
        _print(mode, results[mode], raw)
    gateway = peaks.pop(proc.pid, 0)
    workers = ", ".join(f"{kib / 1024:,.0f}" for kib in peaks.values()) or "none"
    print(
        f"  peak RSS (VmHWM) after the run: gateway serve {gateway / 1024:,.0f} MiB; "
        f"its child processes (TSA workers) {workers} MiB"
    )


async def _profile(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub,
    pid: int,
    modes: list[str],
    args: argparse.Namespace,
) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.profile.mkdir(parents=True, exist_ok=True)
    for mode in modes:
        out = args.profile / f"{mode}.collapsed"
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

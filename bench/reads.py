"""`make bench` for reads: latency of proofs and records as the log grows.

For each size (``BENCH_READ_SIZES``, default ``10000,1000000`` entries) a
valid log is taken from the cache under the data folder (``DATA_DIR``,
default ``./data``; built once by :mod:`bench.biglog`, with progress), a real
``gateway serve`` is started on it, and one client calls, one call at a
time over gRPC, for entries drawn at random from the whole log:

* ``LogService.GetInclusionProof`` (leaf index, latest tree size),
* ``EvidenceService.GetEvidence`` (entry id),
* ``VerificationService.VerifyEvidence`` by entry id and by digest (every
  answer must be VALID, which also proves the cached log is sound),
* ``VerificationService.GetEvidenceBundle`` (entry id),
* ``VerificationService.GetDossier`` (the drawn entry's loan, all its records:
  ``size / 10,000`` of them, as :mod:`bench.biglog` spreads entries over
  10,000 loans; for an entry of the heavy loan, the loan of the entry before it),
* ``VerificationService.GetDossier`` of the heavy loan (:data:`bench.biglog.HEAVY_LOAN`,
  one entry in 1,000: 1,000 records at 1,000,000 entries), ``BENCH_READ_HEAVY_CALLS``
  calls per round (default 20),

as the log's institution (development-mode headers, so authorization is on).

Figures are p50 and p99 per round, medians over rounds (``BENCH_READ_ROUNDS``
rounds of ``BENCH_READ_CALLS`` calls each), after a warm-up that reads each
drawn entry once (page cache warm, as on a serving gateway), and the CPU time
of the ``gateway serve`` process per call over those rounds (utime + stime of
all its threads, from /proc: less sensitive to a busy machine). Then the bytes
per entry on disk (SQLite ``dbstat``: tables and indexes) and the peak
resident memory of the ``gateway serve`` process (``VmHWM``) after it served
the log and the reads.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from bench.biglog import (
    HEAVY_EVERY,
    HEAVY_LOAN,
    INSTITUTION,
    LOANS,
    breakdown,
    cached_log,
    digest_of,
    loan_of,
    sqlite_sizes,
)
from bench.gateway import OPTIONS, _pct, _start_gateway, peak_rss_kib
from bench.tsa import _free_port
from bench.writepath import _TICK, _ticks
from evidence_gateway.v1 import (
    evidence_service_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2,
    log_service_pb2_grpc,
    verification_service_pb2,
    verification_service_pb2_grpc,
)
from evidence_gateway.v1.common_pb2 import HASH_ALGORITHM_SHA256
from gateway.store.sql import DEFAULT_SQLITE_NAME

TARGET_P99_MS = 5.0
TARGET_HEAVY_P99_MS = 200.0  # GetDossier of a loan of 1,000 records
HEAVY_NAME = "GetDossier(heavy loan)"
_SAMPLE = 500  # entries drawn per size
_WHO = (("x-institution", INSTITUTION), ("x-role", "lender"))  # the log's institution


def _sample(db: Path, size: int, seed: int) -> list[Entry]:
    """``(leaf_index, entry_id)`` of entries drawn uniformly from the log."""
    indices = random.Random(seed).sample(range(size), min(_SAMPLE, size))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        query = "SELECT entry_id FROM entries WHERE leaf_index = ?"
        return [(i, conn.execute(query, (i,)).fetchone()[0]) for i in indices]
    finally:
        conn.close()


Entry = tuple[int, str]  # (leaf_index, entry_id)


def _rounds(call: Callable[[Entry], None], order: list[Entry], rounds: int) -> tuple[float, float]:
    """Median over ``rounds`` of (p50, p99) in ms of sequential calls on ``order``'s entries."""
    count = len(order) // rounds
    p50s, p99s = [], []
    for r in range(rounds):
        latencies = []
        for entry in order[r * count : (r + 1) * count]:
            start = time.perf_counter()
            call(entry)
            latencies.append(time.perf_counter() - start)
        p50s.append(_pct(latencies, 0.5) * 1e3)
        p99s.append(_pct(latencies, 0.99) * 1e3)
    return statistics.median(p50s), statistics.median(p99s)


def _cpu_rounds(
    call: Callable[[Entry], None], order: list[Entry], rounds: int, pid: int
) -> tuple[float, float, float]:
    """:func:`_rounds`, and the CPU time of process ``pid`` (utime + stime, all its
    threads, from /proc) per call, in µs."""
    before = _ticks(Path(f"/proc/{pid}/stat"))
    p50, p99 = _rounds(call, order, rounds)
    ticks = _ticks(Path(f"/proc/{pid}/stat")) - before
    return p50, p99, ticks / _TICK * 1e6 / (len(order) // rounds * rounds)


def _measure(
    folder: Path, size: int, calls: int, rounds: int, heavy_calls: int
) -> tuple[dict[str, tuple[float, float, float]], int]:
    sample = _sample(folder / DEFAULT_SQLITE_NAME, size, seed=size)
    pick = random.Random(7)
    order = [sample[pick.randrange(len(sample))] for _ in range(calls * rounds)]
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        port = _free_port()
        proc = _start_gateway(Path(tmp), port, data_dir=folder)
        try:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS)
            try:
                _ready(channel, proc)
                logs = log_service_pb2_grpc.LogServiceStub(channel)
                evidence = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
                verify = verification_service_pb2_grpc.VerificationServiceStub(channel)

                def proof(entry: Entry) -> None:
                    reply = logs.GetInclusionProof(
                        log_service_pb2.GetInclusionProofRequest(leaf_index=entry[0]),
                        metadata=_WHO,
                    )
                    # >=: serving appends the gateway's own records (e.g. an
                    # institution registration) to the cached log.
                    assert reply.inclusion_proof.tree_size >= size

                def record(entry: Entry) -> None:
                    reply = evidence.GetEvidence(
                        evidence_service_pb2.GetEvidenceRequest(entry_id=entry[1]),
                        metadata=_WHO,
                    )
                    assert reply.record.receipt.leaf_index == entry[0]

                def valid(
                    entry: Entry, reply: verification_service_pb2.VerifyEvidenceResponse
                ) -> None:
                    if reply.verdict != verification_service_pb2.VERDICT_VALID:
                        raise SystemExit(
                            f"entry {entry[1]} of the cached log in {folder} is not VALID "
                            f"({reply.verdict}): delete the folder to rebuild it"
                        )

                def verified(entry: Entry) -> None:
                    request = verification_service_pb2.VerifyEvidenceRequest(entry_id=entry[1])
                    valid(entry, verify.VerifyEvidence(request, metadata=_WHO))

                def by_digest(entry: Entry) -> None:
                    digest = verification_service_pb2.Digest(
                        hash_algorithm=HASH_ALGORITHM_SHA256, value=digest_of(entry[0])
                    )
                    request = verification_service_pb2.VerifyEvidenceRequest(digest=digest)
                    valid(entry, verify.VerifyEvidence(request, metadata=_WHO))

                def bundle(entry: Entry) -> None:
                    reply = verify.GetEvidenceBundle(
                        verification_service_pb2.GetEvidenceBundleRequest(entry_id=entry[1]),
                        metadata=_WHO,
                    )
                    assert reply.bundle.ByteSize() > 0

                records = max(1, size // LOANS)

                def dossier(entry: Entry) -> None:
                    index = entry[0] if loan_of(entry[0]) != HEAVY_LOAN else entry[0] - 1
                    reply = verify.GetDossier(
                        verification_service_pb2.GetDossierRequest(
                            owner=INSTITUTION, loan_ref=loan_of(index), max_records=records
                        ),
                        metadata=_WHO,
                    )
                    assert reply.dossier.ByteSize() > 0

                heavy_records = size // HEAVY_EVERY

                def heavy(_: Entry) -> None:
                    reply = verify.GetDossier(
                        verification_service_pb2.GetDossierRequest(
                            owner=INSTITUTION, loan_ref=HEAVY_LOAN, max_records=heavy_records
                        ),
                        metadata=_WHO,
                    )
                    assert len(reply.dossier.records) == heavy_records

                calls_by_name = {
                    "GetInclusionProof": proof,
                    "GetEvidence": record,
                    "VerifyEvidence(id)": verified,
                    "VerifyEvidence(digest)": by_digest,
                    "GetEvidenceBundle": bundle,
                    "GetDossier": dossier,
                }
                for entry in sample:  # warm-up: each drawn entry once
                    for call in calls_by_name.values():
                        call(entry)
                figures = {
                    name: _cpu_rounds(call, order, rounds, proc.pid)
                    for name, call in calls_by_name.items()
                }
                if heavy_records:
                    heavy(sample[0])  # warm-up
                    figures[HEAVY_NAME] = _cpu_rounds(
                        heavy, order[: heavy_calls * rounds], rounds, proc.pid
                    )
                return figures, peak_rss_kib(proc.pid)
            finally:
                channel.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _ready(channel: grpc.Channel, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a big log's checkpoint is checked at start
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway serve exited with {proc.returncode}")
        try:
            grpc.channel_ready_future(channel).result(timeout=0.5)
            return
        except grpc.FutureTimeoutError:
            continue
    raise SystemExit("gateway did not become ready")


def main() -> None:
    data_dir = Path(os.environ.get("DATA_DIR", "data"))
    sizes = [int(s) for s in os.environ.get("BENCH_READ_SIZES", "10000,1000000").split(",")]
    calls = int(os.environ.get("BENCH_READ_CALLS", "300"))
    rounds = int(os.environ.get("BENCH_READ_ROUNDS", "3"))
    heavy_calls = int(os.environ.get("BENCH_READ_HEAVY_CALLS", "20"))
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    bytes_per_entry: dict[int, dict[str, int]] = {}
    peak_kib: dict[int, int] = {}
    for size in sizes:
        folder = cached_log(data_dir, size)
        results[size], peak_kib[size] = _measure(folder, size, calls, rounds, heavy_calls)
        bytes_per_entry[size] = sqlite_sizes(folder / DEFAULT_SQLITE_NAME)
    names = [n for n in next(iter(results.values())) if all(n in r for r in results.values())]
    print(
        f"read latency: one gRPC client, one call at a time, entries drawn from the whole log; "
        f"p50 / p99 in ms, medians of {rounds} rounds of {calls} calls; SQLite; "
        f"target p99 ≤ {TARGET_P99_MS:.0f} ms, flat"
    )
    print(f"  {'entries':>12}" + "".join(f"  {n:>22}" for n in names) + f"  {'bytes/entry':>12}")
    for size, row in results.items():
        cells = "".join(f"  {row[n][0]:>9.2f} / {row[n][1]:>8.2f}" for n in names)
        per_entry = sum(bytes_per_entry[size].values()) / size
        print(f"  {size:>12,}{cells}  {per_entry:>12,.0f}")
    if len(sizes) > 1:
        small, big = min(sizes), max(sizes)
        ratios = "".join(
            f"  {results[big][n][0] / results[small][n][0]:>9.2f} / "
            f"{results[big][n][1] / results[small][n][1]:>8.2f}"
            for n in names
        )
        print(f"  {f'x{big // small:,} size':>12}{ratios}  (ratio of the two sizes)")
    print("  CPU of gateway serve per call (all its threads, /proc), µs:")
    for size, row in results.items():
        print(f"  {size:>12,}" + "".join(f"  {row[n][2]:>22,.0f}" for n in names))
    print(
        f"  {HEAVY_NAME}: the loan of one entry in {HEAVY_EVERY:,} ("
        + ", ".join(f"{size // HEAVY_EVERY:,} records at {size:,} entries" for size in sizes)
        + f"), rounds of {heavy_calls} calls; target p99 ≤ {TARGET_HEAVY_P99_MS:.0f} ms "
        "for 1,000 records"
    )
    for size in sizes:
        print(
            f"  gateway serve peak RSS (VmHWM) after serving {size:,} entries and the reads: "
            f"{peak_kib[size] / 1024:,.0f} MiB"
        )
    largest = max(sizes)
    print(f"  where the bytes go at {largest:,} entries (dbstat, pages included):")
    print("\n".join(breakdown(bytes_per_entry[largest], largest)))


if __name__ == "__main__":
    main()

"""`make bench` for the gateway: durable entries/s through unary, batch and stream.

Starts a real `gateway serve` (development mode, loopback, SQLite under a
temporary data folder, in-process TSA) and drives it with a grpc.aio client in
this process. Every figure counts receipts actually returned, i.e. entries that
were durable (committed and synced) before the answer. Medians of rounds; the
raw P-256 signature rate of the TSA key is measured in the same run for scale.

Run: ``.venv/bin/python -m bench.gateway [--rate 500] [--offered-only]``:
``--rate`` is the offered rate of the open-loop unary rounds (requests/s,
default 300; issue 12's target is p99 ≤ 10 ms at 500), ``--offered-only``
runs only those rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2

from evidence_gateway.v1 import common_pb2, evidence_service_pb2, evidence_service_pb2_grpc
from notary.pki import init_pki, load_tsa_signing_material
from notary.tsa.signer import KeySigner

OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]
_OCCURRED = timestamp_pb2.Timestamp()
_OCCURRED.FromDatetime(datetime.now(UTC) - timedelta(minutes=1))


def _submission(loan: int) -> common_pb2.EvidenceSubmission:
    return common_pb2.EvidenceSubmission(
        request_id=uuid.uuid4().hex,
        loan_ref=f"bench-loan-{loan}",
        kind=common_pb2.EVIDENCE_KIND_REPAYMENT,
        hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
        digest=os.urandom(32),
        occurred_at=_OCCURRED,
    )


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def unary_closed_loop(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub, clients: int, seconds: float
) -> tuple[float, float, float]:
    """`clients` concurrent callers, each one call at a time: entries/s, p50 ms, p99 ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def caller(n: int) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            reply = await stub.SubmitEvidence(
                evidence_service_pb2.SubmitEvidenceRequest(submission=_submission(n))
            )
            assert reply.receipt.entry_id
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(caller(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, _pct(latencies, 0.5) * 1e3, _pct(latencies, 0.99) * 1e3


@dataclass(frozen=True, slots=True)
class OpenLoopCall:
    """One call of an open-loop round (``time.perf_counter`` seconds): when it was due,
    when the client actually started it, and when its receipt came (None: failed)."""

    due: float
    started: float
    answered: float | None


async def open_loop_calls(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub, rate: float, seconds: float
) -> list[OpenLoopCall]:
    """Calls due at a fixed offered rate, started whatever the answers (open loop)."""
    calls: list[OpenLoopCall] = []

    async def one(n: int, due: float) -> None:
        started = time.perf_counter()
        try:
            reply = await stub.SubmitEvidence(
                evidence_service_pb2.SubmitEvidenceRequest(submission=_submission(n % 64))
            )
        except grpc.aio.AioRpcError:
            calls.append(OpenLoopCall(due, started, None))
            return
        assert reply.receipt.entry_id
        calls.append(OpenLoopCall(due, started, time.perf_counter()))

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    return calls


async def unary_open_loop(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub,
    rate: float,
    seconds: float,
    latencies_out: list[float] | None = None,
) -> tuple[float, float, float, int, float]:
    """Calls started at a fixed offered rate, whatever the answers: achieved/s, p50 and
    p99 ms of the calls answered with a receipt, how many calls failed (on an
    overloaded machine the connection's stream cap or the call cap refuses some), and
    the p99 ms of how late the client started a call.

    Latency counts from when a call was due, not from when the client got round to
    starting it, so a client that falls behind adds its delay to the figures instead of
    hiding it (coordinated omission); the lateness says how much of it is the client's.
    ``latencies_out`` gets the answered calls' latencies (seconds), e.g. to pool rounds.
    """
    calls = await open_loop_calls(stub, rate, seconds)
    answered = [c for c in calls if c.answered is not None]
    latencies = [c.answered - c.due for c in answered if c.answered is not None]
    if latencies_out is not None:
        latencies_out.extend(latencies)
    elapsed = max((c.answered for c in answered if c.answered is not None), default=0.0) - min(
        (c.due for c in calls), default=0.0
    )
    return (
        len(latencies) / elapsed if elapsed > 0 else 0.0,
        _pct(latencies, 0.5) * 1e3,
        _pct(latencies, 0.99) * 1e3,
        len(calls) - len(answered),
        _pct([c.started - c.due for c in calls], 0.99) * 1e3,
    )


async def batches(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub, callers: int, size: int, seconds: float
) -> float:
    """`callers` concurrent BatchSubmitEvidence loops of `size` items: entries/s."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller(n: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            request = evidence_service_pb2.BatchSubmitEvidenceRequest(
                submissions=[_submission(n * 1000 + i % 200) for i in range(size)]
            )
            reply = await stub.BatchSubmitEvidence(request)
            ok = sum(1 for r in reply.results if r.WhichOneof("result") == "receipt")
            assert ok == size, f"{size - ok} items failed"
            done += ok

    start = time.perf_counter()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    return done / (time.perf_counter() - start)


async def stream(
    stub: evidence_service_pb2_grpc.EvidenceServiceStub,
    streams: int,
    seconds: float,
    per_message: int = 1,
) -> float:
    """`streams` bidirectional streams, pipelined, of single-item messages or (with
    `per_message` > 1) of messages of that many `submissions`: entries/s."""
    received = 0
    deadline = time.perf_counter() + seconds

    async def one_stream(n: int) -> None:
        nonlocal received
        # At most this many unanswered items in flight.
        window = asyncio.Semaphore(max(2, 2000 // per_message))

        async def requests() -> AsyncIterator[evidence_service_pb2.SubmitEvidenceStreamRequest]:
            i = 0
            while time.perf_counter() < deadline:
                await window.acquire()
                i += 1
                if per_message == 1:
                    yield evidence_service_pb2.SubmitEvidenceStreamRequest(
                        submission=_submission(n * 1000 + i % 200)
                    )
                else:
                    yield evidence_service_pb2.SubmitEvidenceStreamRequest(
                        submissions=[
                            _submission(n * 1000 + (i * per_message + k) % 200)
                            for k in range(per_message)
                        ]
                    )

        async for reply in stub.SubmitEvidenceStream(requests()):
            if per_message == 1:
                assert reply.WhichOneof("result") == "receipt", reply
                received += 1
            else:
                ok = sum(1 for r in reply.results if r.WhichOneof("result") == "receipt")
                assert ok == per_message, reply
                received += ok
            window.release()

    start = time.perf_counter()
    await asyncio.gather(*(one_stream(n) for n in range(streams)))
    return received / (time.perf_counter() - start)


def peak_rss_kib(pid: int) -> int:
    """``VmHWM`` of a live process, in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _raw_signatures(pki: Path, seconds: float) -> float:
    key, cert, _ = load_tsa_signing_material(pki)
    signer = KeySigner(key, cert)
    blob = os.urandom(200)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            signer.sign(blob)
        count += 100
    return count / (time.perf_counter() - start)


def _start_gateway(
    work: Path,
    port: int,
    data_dir: Path | None = None,
    *,
    pki_dir: Path | None = None,
    insecure: bool = True,
) -> subprocess.Popen[bytes]:
    """`gateway serve` on ``data_dir`` (default: ``work/data``); config and log in ``work``.

    ``insecure``: development mode (plaintext); else mutual TLS with the PKI's files.
    """
    config = work / "gateway.toml"
    data = data_dir.resolve() if data_dir is not None else work / "data"
    mode = "true" if insecure else "false"
    text = f'listen = "127.0.0.1:{port}"\ndata_dir = "{data}"\ninsecure_dev = {mode}\n'
    if pki_dir is not None:
        text += f'[tsa]\npki_dir = "{pki_dir.resolve()}"\n'
    config.write_text(text)
    gateway = Path(sys.executable).with_name("gateway")
    log = open(work / "gateway.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [str(gateway), "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )


async def _wait_ready(
    channel: grpc.aio.Channel, proc: subprocess.Popen[bytes], seconds: float = 40.0
) -> None:
    """Until the gateway accepts connections (a big log's checkpoint is checked at start)."""
    for _ in range(round(seconds / 0.2)):
        if proc.poll() is not None:
            raise SystemExit(f"gateway serve exited with {proc.returncode}")
        try:
            await asyncio.wait_for(channel.channel_ready(), 0.2)
            return
        except TimeoutError:
            continue
    raise SystemExit("gateway did not become ready")


async def _run(port: int, seconds: float, rate: float, offered_only: bool) -> dict[str, object]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS) as channel:
        stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        results: dict[str, object] = {}
        await unary_closed_loop(stub, 8, 1.0)  # warm-up
        if not offered_only:
            rounds = [await unary_closed_loop(stub, 32, seconds) for _ in range(3)]
            results["unary"] = tuple(statistics.median(r[i] for r in rounds) for i in range(3))
        pooled: list[float] = []
        open_rounds = [await unary_open_loop(stub, rate, seconds, pooled) for _ in range(3)]
        results["offered"] = (
            *(statistics.median(r[i] for r in open_rounds) for i in range(3)),
            sum(r[3] for r in open_rounds),
            statistics.median(r[4] for r in open_rounds),
            _pct(pooled, 0.999) * 1e3,  # the rounds' calls together: p99.9 and the worst
            max(pooled, default=float("nan")) * 1e3,
        )
        if offered_only:
            return results
        results["batch"] = statistics.median(
            [await batches(stub, 2, 1000, seconds) for _ in range(3)]
        )
        results["stream"] = statistics.median([await stream(stub, 2, seconds) for _ in range(3)])
        results["stream100"] = statistics.median(
            [await stream(stub, 2, seconds, per_message=100) for _ in range(3)]
        )
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="offered unary requests/s")
    parser.add_argument(
        "--offered-only", action="store_true", help="only the offered-rate unary rounds"
    )
    args = parser.parse_args()
    seconds = float(os.environ.get("BENCH_SECONDS", "3.0"))
    from bench.tsa import _free_port

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        init_pki(work / "data" / "pki")
        raw = statistics.median(_raw_signatures(work / "data" / "pki", 1.0) for _ in range(3))
        port = _free_port()
        proc = _start_gateway(work, port)
        try:

            async def go() -> dict[str, object]:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as probe:
                    await _wait_ready(probe, proc)
                return await _run(port, seconds, args.rate, args.offered_only)

            results = asyncio.run(go())
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    offered = results["offered"]
    assert isinstance(offered, tuple)
    offered_line = (
        f"  unary, offered {args.rate:,.0f} requests/s:".ljust(47)
        + f"{offered[0]:>9,.0f} entries/s   p50 {offered[1]:.1f} ms  p99 {offered[2]:.1f} ms"
        + "  (target p99 ≤ 10 ms at 500/s)"
        + (f"; {offered[3]} of {int(3 * args.rate * seconds)} calls failed" if offered[3] else "")
        + "\n  (latency from when each call was due; the client started calls up to "
        + f"{offered[4]:.1f} ms late at p99)"
        + f"\n  (the rounds' calls pooled: p99.9 {offered[5]:.1f} ms, slowest {offered[6]:.1f} ms)"
    )
    if args.offered_only:
        print(
            f"gateway benchmark: rounds of {seconds:.0f} s, medians of 3; SQLite (WAL, full sync),"
        )
        print("in-process P-256 TSA; client and server share this machine's 2 cores.")
        print(offered_line)
        return
    unary = results["unary"]
    assert isinstance(unary, tuple)
    batch, streamed, grouped = results["batch"], results["stream"], results["stream100"]
    assert isinstance(batch, float) and isinstance(streamed, float)
    assert isinstance(grouped, float)
    print(f"gateway benchmark: rounds of {seconds:.0f} s, medians of 3; SQLite (WAL, full sync),")
    print("in-process P-256 TSA; client and server share this machine's 2 cores.")
    print(f"  raw P-256 signatures/s (one core):           {raw:>9,.0f}")
    print(
        f"  unary, 32 concurrent clients:                {unary[0]:>9,.0f} entries/s"
        f"   p50 {unary[1]:.1f} ms  p99 {unary[2]:.1f} ms"
    )
    print(offered_line)
    print(
        f"  BatchSubmitEvidence, 2 callers x 1,000:      {batch:>9,.0f} entries/s"
        f"   ({batch / raw:.2f} of raw signatures/s; target ≥ 5,000)"
    )
    print(
        f"  SubmitEvidenceStream, 2 streams, 1 per msg:  {streamed:>9,.0f} entries/s"
        f"   ({streamed / raw:.2f} of raw signatures/s; target ≥ 5,000)"
    )
    print(
        f"  SubmitEvidenceStream, 2 streams, 100 per msg:{grouped:>9,.0f} entries/s"
        f"   ({grouped / raw:.2f} of raw signatures/s)"
    )
    print("  (CPU per entry by process and thread: python -m bench.writepath)")


if __name__ == "__main__":
    main()

"""Health under a full call cap: `python -m bench.health_load`.

Starts a real `gateway serve` with the default limits (max_concurrent_rpcs
1,000, 100 streams per connection; the one institution calling may take every
slot), fills every call slot with
SubmitEvidenceStream calls that send nothing, checks that one more API call is
refused (RESOURCE_EXHAUSTED), then times grpc.health.v1 checks on a connection
of their own, against the same checks on the idle gateway. Medians and p99 of
``CHECKS`` checks each.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.gateway import _wait_ready
from bench.tsa import _free_port
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc, log_service_pb2_grpc
from evidence_gateway.v1 import log_service_pb2 as lg
from notary.pki import init_pki

CAP = 1000
PER_CONNECTION = 250
CHECKS = 300
_OWN = [("grpc.use_local_subchannel_pool", 1)]


async def _health_latencies(address: str) -> list[float]:
    async with grpc.aio.insecure_channel(address, options=_OWN) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        took = []
        for _ in range(CHECKS):
            start = time.perf_counter()
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            took.append(time.perf_counter() - start)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        return took


def _summary(took: list[float]) -> str:
    ordered = sorted(took)
    p99 = ordered[int(0.99 * len(ordered))]
    return f"p50 {statistics.median(ordered) * 1e3:.2f} ms  p99 {p99 * 1e3:.2f} ms"


async def _run(address: str) -> tuple[list[float], list[float]]:
    idle = await _health_latencies(address)
    stop = asyncio.Event()

    async def nothing() -> AsyncIterator[ev.SubmitEvidenceStreamRequest]:
        await stop.wait()
        return
        yield  # an async generator that sends nothing

    channels = [
        grpc.aio.insecure_channel(address, options=_OWN) for _ in range(CAP // PER_CONNECTION)
    ]
    calls = [
        evidence_service_pb2_grpc.EvidenceServiceStub(
            channels[n // PER_CONNECTION]
        ).SubmitEvidenceStream(nothing())
        for n in range(CAP)
    ]
    try:
        async with grpc.aio.insecure_channel(address, options=_OWN) as probe:
            stub = log_service_pb2_grpc.LogServiceStub(probe)
            deadline = time.monotonic() + 60
            while True:  # until every slot is taken by an idle stream
                try:
                    await stub.GetCheckpoint(lg.GetCheckpointRequest(), timeout=5)
                except grpc.aio.AioRpcError as error:
                    if error.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the idle streams never filled the cap")
                await asyncio.sleep(0.1)
        full = await _health_latencies(address)
    finally:
        stop.set()
        for call in calls:
            call.cancel()
        for channel in channels:
            await channel.close()
    return idle, full


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        init_pki(work / "data" / "pki")
        port = _free_port()
        config = work / "gateway.toml"
        # One (development) institution fills every slot: its own cap is lifted to all.
        config.write_text(
            f'listen = "127.0.0.1:{port}"\ndata_dir = "{work / "data"}"\n'
            f"max_calls_per_institution = {CAP}\n"
        )
        gateway = Path(sys.executable).with_name("gateway")
        with open(work / "gateway.log", "wb") as log:
            proc = subprocess.Popen(
                [str(gateway), "serve", "--config", str(config), "--insecure-dev"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:

            async def go() -> tuple[list[float], list[float]]:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as probe:
                    await _wait_ready(probe, proc)
                return await _run(f"127.0.0.1:{port}")

            idle, full = asyncio.run(go())
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"health checks ({CHECKS} each, one connection of their own):")
    print(f"  idle gateway:                                   {_summary(idle)}")
    print(f"  all {CAP:,} call slots held by idle streams:     {_summary(full)}")


if __name__ == "__main__":
    main()

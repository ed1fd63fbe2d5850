"""`make bench`: what mutual TLS costs, unary and batch, against plaintext in the same run.

Two real `gateway serve` processes on one PKI, each on its own SQLite data
folder: one in development mode (plaintext), one serving mutual TLS to a
client certificate registered with `AdminService` (as `notary institution
add` does: issued by the PKI's root CA, registered by the operator). Rounds
alternate between the two (the idle one only polls its health), so that a
drift of the machine's speed hits both alike. Each figure counts receipts
returned (durable entries). With mutual TLS every call is also looked up in
the institutions registry, so the ratio is the whole cost of identity.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import grpc

from bench.gateway import OPTIONS, _start_gateway, _wait_ready, batches, unary_closed_loop
from evidence_gateway.v1 import evidence_service_pb2_grpc
from notary.admin import AdminClient
from notary.client_certs import issue_client_certificate
from notary.pki import init_pki, pki_paths

ROUNDS = 3


def _credentials(pki: Path, cert: bytes, key: bytes) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=pki_paths(pki).root.read_bytes(), private_key=key, certificate_chain=cert
    )


async def _measure(
    plain: str, tls: str, credentials: grpc.ChannelCredentials, seconds: float
) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {
        mode: {"unary": [], "p50": [], "batch": []} for mode in ("plaintext", "mtls")
    }
    channels: dict[str, Callable[[], grpc.aio.Channel]] = {
        "plaintext": lambda: grpc.aio.insecure_channel(plain, options=OPTIONS),
        "mtls": lambda: grpc.aio.secure_channel(tls, credentials, options=OPTIONS),
    }
    for _ in range(ROUNDS):
        for mode, make in channels.items():
            async with make() as channel:
                stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
                await unary_closed_loop(stub, 8, 0.5)  # connect and warm up
                rate, p50, _ = await unary_closed_loop(stub, 32, seconds)
                figures[mode]["unary"].append(rate)
                figures[mode]["p50"].append(p50)
                figures[mode]["batch"].append(await batches(stub, 2, 1000, seconds))
    return figures


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "3.0"))
    from bench.tsa import _free_port

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        procs = []
        ports = {"plaintext": _free_port(), "mtls": _free_port()}
        try:
            for mode, port in ports.items():
                folder = work / mode
                folder.mkdir()
                procs.append(
                    _start_gateway(
                        folder, port, folder / "data", pki_dir=pki, insecure=mode == "plaintext"
                    )
                )
            plain, tls = (f"127.0.0.1:{ports[m]}" for m in ("plaintext", "mtls"))
            issued = issue_client_certificate(pki, "bench-bank", "lender")
            with AdminClient(tls, pki, wait=120.0) as admin:
                admin.register("bench-bank", "lender", issued.pem)
            credentials = _credentials(pki, issued.pem, issued.key_pem)

            async def go() -> dict[str, dict[str, list[float]]]:
                async with grpc.aio.insecure_channel(plain) as probe:
                    await _wait_ready(probe, procs[0])
                return await _measure(plain, tls, credentials, seconds)

            figures = asyncio.run(go())
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)
    med = {m: {k: statistics.median(v) for k, v in f.items()} for m, f in figures.items()}
    print(f"mutual TLS benchmark: rounds of {seconds:.0f} s, medians of {ROUNDS}, alternating;")
    print("SQLite (WAL, full sync), in-process P-256 TSA; client and servers share 2 cores.")
    for label, key, unit in (
        ("unary, 32 concurrent clients", "unary", "entries/s"),
        ("BatchSubmitEvidence, 2 callers x 1,000", "batch", "entries/s"),
    ):
        plain_v, tls_v = med["plaintext"][key], med["mtls"][key]
        print(
            f"  {label + ':':<42} plaintext {plain_v:>7,.0f}  mutual TLS {tls_v:>7,.0f} {unit}"
            f"   (mutual TLS / plaintext {tls_v / plain_v:.2f})"
        )
    print(
        f"  {'unary p50 latency:':<42} plaintext {med['plaintext']['p50']:>7.1f}  "
        f"mutual TLS {med['mtls']['p50']:>7.1f} ms"
    )


if __name__ == "__main__":
    main()

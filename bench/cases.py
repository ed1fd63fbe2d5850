"""Judicial cases: UpdateCaseStatus to WatchCases delivery, and GetDossier with case events.

Run: ``.venv/bin/python -m bench.cases [--subscribers 1000] [--updates 30] [--records 1000]``.

A dev PKI, a SQLite database (WAL, synchronous=FULL) and the real ledger with
the in-process TSA are made in a temporary folder, served by the real
GatewayServer (development mode, the institutions registry holding one lender
and one court) on a loopback port. Half of ``--subscribers`` WatchCases
streams are the lender's, half the court's (grpc.aio clients on their own
event loop and thread, 100 streams per connection), all on the same case.
The court then records ``--updates`` events (acceptance, judgment,
enforcement, then amounts recovered); for each, the time from the start of
its UpdateCaseStatus call to its arrival on each stream is measured.
Reported: p50 and p99 over every (event, stream) pair. Target: p99 <= 1 s.

Then the loan is filled to ``--records`` records (the case's events among
them) and GetDossier is called over gRPC ``--rounds`` times, as the lender
and as the court (for which the case records of another court would be
withheld). Reported: p50 and p99. Target: <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509

from evidence_gateway.v1 import case_service_pb2 as cs
from evidence_gateway.v1 import (
    case_service_pb2_grpc,
    common_pb2,
    evidence_service_pb2_grpc,
    verification_service_pb2_grpc,
)
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.authz.roles import Role
from gateway.config import GatewayConfig
from gateway.institutions import registered_certificate
from gateway.ledger import Ledger
from gateway.model import EvidenceKind, Receipt, Submission
from gateway.server import GatewayServer, freeze_start_up_heap, load_tsa_trust
from gateway.store.institutions import SqlInstitutions
from gateway.store.sql import SqlStore
from gateway.tsa import EngineTokenSource
from notary.client_certs import issue_client_certificate
from notary.pki import init_pki, load_log_signing_key, load_log_verifier_key, pki_paths
from notary.serve import build_authority

LENDER, COURT = "bank-a", "court-1"
LOAN = "L-bench"
_PER_CHANNEL = 100


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _md(name: str) -> tuple[tuple[str, str], ...]:
    return (("x-institution", name),)


def _ts(value: datetime) -> Any:
    from google.protobuf import timestamp_pb2

    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


class _Subscribers:
    """``count`` WatchCases streams on their own loop; arrival times per event entry id."""

    def __init__(self, address: str, count: int) -> None:
        self.address = address
        self.count = count
        self.arrivals: dict[str, list[float]] = {}
        self.ready = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks = asyncio.run_coroutine_threadsafe(self._open(), self.loop).result(120)

    async def _open(self) -> list[Any]:
        channels = [
            grpc.aio.insecure_channel(self.address)
            for _ in range((self.count + _PER_CHANNEL - 1) // _PER_CHANNEL)
        ]
        self.channels = channels
        tasks = []
        for n in range(self.count):
            stub = case_service_pb2_grpc.CaseServiceStub(channels[n // _PER_CHANNEL])
            who = LENDER if n % 2 == 0 else COURT
            tasks.append(asyncio.ensure_future(self._read(stub, who)))
        while self.ready < self.count:
            await asyncio.sleep(0.05)
        return tasks

    async def _read(self, stub: Any, who: str) -> None:
        call = stub.WatchCases(cs.WatchCasesRequest(), metadata=_md(who))
        first = True
        try:
            async for message in call:
                if first:
                    self.ready += 1
                    first = False
                if message.HasField("event"):
                    now = time.perf_counter()
                    self.arrivals.setdefault(message.event.receipt.entry_id, []).append(now)
        except grpc.aio.AioRpcError:
            return

    def close(self) -> None:
        async def stop() -> None:
            for task in self.tasks:
                task.cancel()
            for channel in self.channels:
                await channel.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _server(folder: Path) -> tuple[GatewayServer, asyncio.AbstractEventLoop, Callable[[], None]]:
    pki = folder / "pki"
    init_pki(pki)
    config = GatewayConfig(
        listen="127.0.0.1:0",
        data_dir=folder / "data",
        insecure_dev=True,
        tsa_pki_dir=pki,
        max_concurrent_rpcs=4000,
        max_calls_per_institution=2000,
        grpc_max_concurrent_streams=1000,
    )
    roots, untrusted = load_tsa_trust(config)
    vkey = load_log_verifier_key(pki)
    store = SqlStore.in_data_dir(folder / "data")
    tsa = EngineTokenSource(build_authority(pki, folder / "notary", accept_sm3=True), roots)
    ledger = Ledger.open(
        store=store, tsa=tsa, log_key=load_log_signing_key(pki), log_origin=vkey.origin
    )
    registry = SqlInstitutions(store)
    ca = [x509.load_pem_x509_certificate(pki_paths(pki).root.read_bytes())]
    now = datetime.now(UTC)
    for name, role in ((LENDER, Role.LENDER), (COURT, Role.COURT)):
        pem = issue_client_certificate(pki, name, role.value, days=30).pem
        registry.create(name, role, registered_certificate(pem, name, ca, now), now)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> GatewayServer:
        return GatewayServer(
            config,
            ledger,
            tsa_roots=roots,
            tsa_untrusted=untrusted,
            log_verifier_key=vkey.line,
            registry=registry,
        )

    server = asyncio.run_coroutine_threadsafe(make(), loop).result(30)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(server.stop(0.5), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return server, loop, stop


async def _fill(ledger: Any, count: int) -> None:
    items = [
        Submission(
            institution=LENDER,
            request_id=f"fill-{n}",
            loan_ref=LOAN,
            kind=EvidenceKind.REPAYMENT,
            hash_algorithm="sha256",
            digest=hashlib.sha256(f"document {n}".encode()).digest(),
            occurred_at=datetime.now(UTC),
        )
        for n in range(count)
    ]
    for start in range(0, count, 100):
        results = await ledger.submit(items[start : start + 100])
        assert all(isinstance(r, Receipt) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--records", type=int, default=1000, help="records of the loan")
    parser.add_argument("--rounds", type=int, default=30, help="GetDossier calls per role")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp:
        server, _loop, stop = _server(Path(tmp))
        address = f"127.0.0.1:{server.port}"
        channel = grpc.insecure_channel(address)
        try:
            _run(server, channel, address, args)
        finally:
            channel.close()
            stop()


def _run(server: GatewayServer, channel: grpc.Channel, address: str, args: Any) -> None:
    cases = case_service_pb2_grpc.CaseServiceStub(channel)
    evidence = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
    verification = verification_service_pb2_grpc.VerificationServiceStub(channel)
    first = evidence.SubmitEvidence(
        ev.SubmitEvidenceRequest(
            submission=common_pb2.EvidenceSubmission(
                request_id="contract",
                loan_ref=LOAN,
                kind=common_pb2.EVIDENCE_KIND_LOAN_CONTRACT,
                hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
                digest=hashlib.sha256(b"contract").digest(),
                occurred_at=_ts(datetime.now(UTC) - timedelta(days=1)),
            )
        ),
        metadata=_md(LENDER),
    ).receipt
    case = cases.FileCase(
        cs.FileCaseRequest(
            request_id="file",
            loan_ref=LOAN,
            body=COURT,
            claim=cs.MoneyAmount(currency_code="CNY", minor_units=10**9),
            relied_on_entry_ids=[first.entry_id],
            share_expires_at=_ts(datetime.now(UTC) + timedelta(days=30)),
        ),
        metadata=_md(LENDER),
    ).case
    subscribers = _Subscribers(address, args.subscribers)
    events = [
        cs.CASE_EVENT_TYPE_JUDGMENT,
        cs.CASE_EVENT_TYPE_ENFORCEMENT_STARTED,
    ] + [cs.CASE_EVENT_TYPE_AMOUNT_RECOVERED] * max(0, args.updates - 3)
    latencies: list[float] = []
    try:
        sent: list[tuple[str, float]] = []
        start = time.perf_counter()
        accepted = cases.AcceptCase(
            cs.AcceptCaseRequest(
                request_id="acc", case_id=case.case_id, case_number="(2026)京0105民初1号",
                occurred_at=_ts(datetime.now(UTC)),
            ),
            metadata=_md(COURT),
        ).event  # fmt: skip
        sent.append((accepted.receipt.entry_id, start))
        for n, event in enumerate(events):
            start = time.perf_counter()
            amount = (
                cs.MoneyAmount(currency_code="CNY", minor_units=100)
                if event == cs.CASE_EVENT_TYPE_AMOUNT_RECOVERED
                else None
            )
            got = cases.UpdateCaseStatus(
                cs.UpdateCaseStatusRequest(
                    request_id=f"u{n}", case_id=case.case_id, event=event, amount=amount,
                    occurred_at=_ts(datetime.now(UTC)),
                ),
                metadata=_md(COURT),
            ).event  # fmt: skip
            sent.append((got.receipt.entry_id, start))
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            len(subscribers.arrivals.get(e, ())) < args.subscribers for e, _ in sent
        ):
            time.sleep(0.05)
        for entry_id, at in sent:
            arrived = subscribers.arrivals.get(entry_id, [])
            assert len(arrived) == args.subscribers, (entry_id, len(arrived))
            latencies += [t - at for t in arrived]
    finally:
        subscribers.close()
    p99 = _pct(latencies, 0.99)
    print(
        f"UpdateCaseStatus -> WatchCases delivery, {args.subscribers} subscribers "
        f"(half the lender's, half the court's), {len(sent)} events: "
        f"p50 {statistics.median(latencies) * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms "
        f"(target p99 <= 1000 ms: {'met' if p99 <= 1.0 else 'NOT met'})"
    )

    ledger = server.ledger
    have = 1 + 2 + len(sent)  # the contract, the share, the filing and the events
    asyncio.run(_fill(ledger, max(0, args.records - have)))
    # `gateway serve` freezes its start-up heap (gateway.server.freeze_start_up_heap);
    # this process is the gateway and its clients at once, and what the streams and the
    # filling left would otherwise be walked by every full collection (periodic spikes
    # of about 120 ms in the calls below, which a real `gateway serve` does not show:
    # bench.reads).
    freeze_start_up_heap()
    for who, owner in ((LENDER, ""), (COURT, LENDER)):
        times = []
        for _ in range(args.rounds):
            begin = time.perf_counter()
            dossier = verification.GetDossier(
                vf.GetDossierRequest(loan_ref=LOAN, owner=owner), metadata=_md(who)
            ).dossier
            times.append(time.perf_counter() - begin)
        assert len(dossier.records) == args.records, len(dossier.records)
        p99 = _pct(times, 0.99)
        print(
            f"GetDossier as {who} over gRPC: {args.records} records of one loan, "
            f"{len(sent) + 1} of them case events: p50 {statistics.median(times) * 1e3:.0f} ms, "
            f"p99 {p99 * 1e3:.0f} ms over {args.rounds} calls "
            f"(target <= 200 ms: {'met' if p99 <= 0.2 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()

"""`make bench` for anchoring: the lag under the batch benchmark's load, and entries/s
with anchoring on beside off, in the same run.

A real anvil node (automine) gets the contract (deployed with anvil's first
development key, the log registered with a fresh submitter key). Then one
`gateway serve` (development mode, SQLite, in-process TSA) runs the batch load
of ``bench.gateway`` (2 callers x 1,000 items) with anchoring off, and one
with anchoring on (interval 1 s, 1 confirmation), alternately, rounds of
``BENCH_SECONDS``. While anchoring is on, the lag (entries and seconds of the
log not yet covered by a confirmed anchor, as health reads it) is sampled
every 0.2 s from the store; after the load, the time until an anchor covers
the whole log is measured too.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

from bench.gateway import _wait_ready, batches
from bench.tsa import _free_port
from evidence_gateway.v1 import evidence_service_pb2_grpc
from gateway.anchor.chain import ChainClient, log_id_of
from gateway.anchor.keys import create_key_file
from gateway.anchor.worker import AnchorWorker, WorkerChain
from gateway.store.sql import SqlStore
from notary.pki import init_pki, load_log_verifier_key
from tests.support.anvil import Anvil

INTERVAL = 1.0


def _config(work: Path, port: int, pki: Path, anchoring: tuple[str, str] | None) -> Path:
    """``bench.gateway``'s configuration, with the [anchor] section when anchoring."""
    text = (
        f'listen = "127.0.0.1:{port}"\ndata_dir = "{work / "data"}"\ninsecure_dev = true\n'
        f'[tsa]\npki_dir = "{pki}"\n'
    )
    if anchoring is not None:
        rpc_url, contract = anchoring
        text += (
            f"[anchor]\nenabled = true\ninterval_seconds = {INTERVAL}\n"
            f'[[anchor.chains]]\nname = "anvil"\nrpc_url = "{rpc_url}"\n'
            f'contract = "{contract}"\nkey_file = "{work.parent / "submitter.key"}"\n'
            "chain_id = 31337\n"
        )
    config = work / "gateway.toml"
    config.write_text(text)
    return config


class LagSampler:
    """Reads the lag from the gateway's store every 0.2 s (a reader, not the writer)."""

    def __init__(self, db: Path, log_id: bytes) -> None:
        self.store = SqlStore.sqlite(db)
        reader = ChainClient("http://127.0.0.1:1")  # never called: lag() reads the store only
        self.worker = AnchorWorker(
            self.store,
            log_id,
            [WorkerChain("anvil", reader, 31337, "0x" + "00" * 20)],
            interval_seconds=INTERVAL,
            min_new_entries=1,
            confirmations=1,
            max_lag_seconds=60.0,
        )
        self.seconds: list[float] = []
        self.entries: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            [lag] = self.worker.lag()
            self.seconds.append(lag.seconds)
            self.entries.append(lag.entries)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def caught_up(self, timeout: float = 60.0) -> float:
        """Seconds until a confirmed anchor covers the whole log."""
        start = time.perf_counter()
        while self.worker.lag()[0].entries:
            if time.perf_counter() - start > timeout:
                return float("inf")
            time.sleep(0.05)
        return time.perf_counter() - start

    def close(self) -> None:
        self.store.close()


async def _load(port: int, seconds: float) -> float:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        return await batches(stub, 2, 1000, seconds)


def _serve(
    work: Path, pki: Path, anchoring: tuple[str, str] | None
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    config = _config(work, port, pki, anchoring)
    gateway = Path(sys.executable).with_name("gateway")
    log = open(work / "gateway.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(gateway), "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )

    async def ready() -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as probe:
            await _wait_ready(probe, proc)

    asyncio.run(ready())
    return proc, port


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "3.0"))
    rounds = 3
    with tempfile.TemporaryDirectory() as tmp, Anvil() as chain:
        root = Path(tmp)
        pki = root / "pki"
        init_pki(pki)
        vkey = load_log_verifier_key(pki).line
        submitter = create_key_file(root / "submitter.key")
        chain.set_balance(submitter, 10**21)
        admin = ChainClient(chain.rpc_url, account=chain.dev_accounts[0])
        contract = admin.deploy()
        admin.register_log(vkey, submitter)
        off_rates: list[float] = []
        on_rates: list[float] = []
        lag_s: list[float] = []
        lag_n: list[int] = []
        catch_up: list[float] = []
        anchors = 0
        log_id = log_id_of(vkey)
        reader = ChainClient(chain.rpc_url, contract)
        # One database each, kept across rounds: the anchored log grows on, as on a gateway.
        for name in ("off", "on"):
            (root / name / "data").mkdir(parents=True)
        for _ in range(rounds):
            for on in (False, True):
                work = root / ("on" if on else "off")
                proc, port = _serve(work, pki, (chain.rpc_url, contract) if on else None)
                try:
                    if not on:
                        off_rates.append(asyncio.run(_load(port, seconds)))
                        continue
                    before = reader.anchor_count(log_id)
                    sampler = LagSampler(work / "data" / "gateway.sqlite3", log_id)
                    try:
                        with sampler:
                            on_rates.append(asyncio.run(_load(port, seconds)))
                        catch_up.append(sampler.caught_up())
                        lag_s += sampler.seconds
                        lag_n += sampler.entries
                    finally:
                        sampler.close()
                    anchors += reader.anchor_count(log_id) - before
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    print(
        f"anchoring benchmark: BatchSubmitEvidence, 2 callers x 1,000, rounds of {seconds:.0f} s, "
        f"medians of {rounds}; anvil (automine), interval {INTERVAL:g} s, 1 confirmation"
    )
    print(f"  entries/s, anchoring off:                   {statistics.median(off_rates):>9,.0f}")
    print(f"  entries/s, anchoring on:                    {statistics.median(on_rates):>9,.0f}")
    print(
        f"  anchoring lag under that load:              median {statistics.median(lag_s):.2f} s"
        f" / {statistics.median(lag_n):,.0f} entries, max {max(lag_s):.2f} s / {max(lag_n):,} "
        f"entries ({len(lag_s)} samples, {anchors} anchors)"
    )
    print(
        f"  after the load, until an anchor covers all: median {statistics.median(catch_up):.2f} s"
    )


if __name__ == "__main__":
    main()

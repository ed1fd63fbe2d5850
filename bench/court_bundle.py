"""`make bench` for the court: verifying an evidence bundle and a 1,000-record dossier.

A real ledger (SQLite, the notary engine as token source, a fresh `notary pki
init`) registers one loan's records; the bundle of one record and the dossier
of the whole loan are assembled from it (tests/support/bundle_builder.py) and
written as JSON. Timed, with the ledger closed (no gateway):

* bundle verification: parse the file's bytes (protobuf JSON) and run every
  named check (:func:`court.verify.bundle.verify_bundle`), p50 and p99 over
  ``BENCH_BUNDLE_RUNS`` runs (default 300). No chain read (target <= 5 ms);
* dossier verification: parse and verify the dossier of ``BENCH_DOSSIER_RECORDS``
  records (default 1,000), best of 3 (target <= 1 s), and how many chain
  signature checks it made (one TSA: 1, the chain is validated once).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from court.bundles import read_bundle, read_dossier
from court.trust import read_trust_dir
from court.verify.bundle import verify_bundle
from court.verify.dossier import verify_dossier
from court.verify.x509chain import ChainMemo
from gateway.ledger import Ledger
from gateway.model import EvidenceKind, Receipt, Submission
from gateway.store.sql import SqlStore
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
from tests.support.bundle_builder import bundle_message, dossier_message, to_json, trust_dir

BUNDLE_TARGET_MS = 5.0
DOSSIER_TARGET_S = 1.0


def _submission(i: int) -> Submission:
    return Submission(
        institution="bank-a",
        request_id=f"bench-{i}",
        loan_ref="L-BENCH",
        kind=EvidenceKind.REPAYMENT,
        hash_algorithm="sha256",
        digest=i.to_bytes(32, "big"),
        occurred_at=datetime.now(UTC) - timedelta(days=1),
    )


def _build(folder: Path, records: int) -> tuple[bytes, bytes, Path]:
    pki = folder / "pki"
    init_pki(pki)
    key, cert, roots = load_tsa_signing_material(pki)
    engine = TimeStampAuthority(KeySigner(key, cert), LeasedSerials(folder / "serials"))
    ledger = Ledger.open(
        store=SqlStore.sqlite(folder / "gateway.sqlite3"),
        tsa=EngineTokenSource(engine, roots),
        log_key=load_log_signing_key(pki),
        log_origin=load_log_verifier_key(pki).origin,
    )
    try:
        receipts: list[Receipt] = []
        for start in range(0, records, 250):
            batch = [_submission(i) for i in range(start, min(records, start + 250))]
            for r in asyncio.run(ledger.submit(batch)):
                assert isinstance(r, Receipt), r
                receipts.append(r)
        receipts.sort(key=lambda r: r.loan_sequence)
        bundle = to_json(bundle_message(ledger, receipts[len(receipts) // 2], pki))
        dossier = to_json(dossier_message(ledger, receipts, pki))
    finally:
        asyncio.run(ledger.close())
    return bundle, dossier, trust_dir(pki, folder / "trust")


def main() -> None:
    runs = int(os.environ.get("BENCH_BUNDLE_RUNS", "300"))
    records = int(os.environ.get("BENCH_DOSSIER_RECORDS", "1000"))
    with tempfile.TemporaryDirectory(prefix="bench-court-") as tmp:
        bundle_json, dossier_json, trust_path = _build(Path(tmp), records)
        trust = read_trust_dir(trust_path)

        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            result = verify_bundle(
                read_bundle(bundle_json), roots=trust.roots, log_key=trust.log_key
            )
            times.append((time.perf_counter() - t0) * 1000)
            assert result.ok, result.verdict.first_failure
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"court bundle verification: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {runs} runs "
            f"(target <= {BUNDLE_TARGET_MS:.0f} ms; no chain read)"
        )

        best = float("inf")
        checked = 0
        for _ in range(3):
            memo = ChainMemo()
            t0 = time.perf_counter()
            dossier = read_dossier(dossier_json)
            verdict = verify_dossier(dossier, roots=trust.roots, log_key=trust.log_key, memo=memo)
            best = min(best, time.perf_counter() - t0)
            assert verdict.ok, verdict.verdict.first_failure
            checked = memo.signatures_checked
        print(
            f"court dossier verification: {records} records in {best * 1000:.0f} ms "
            f"({len(dossier_json) / 1e6:.1f} MB JSON, parse included; target <= "
            f"{DOSSIER_TARGET_S:.0f} s); TSA chain signature checks: {checked}"
        )


if __name__ == "__main__":
    main()

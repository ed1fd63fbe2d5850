"""The gateway's side of a dossier: time to build GetDossier for a loan of many records.

Run: ``.venv/bin/python -m bench.dossier [--records 1000] [--other 9000] [--rounds 30]``.

A dev PKI and a SQLite database (WAL, synchronous=FULL) are made in a
temporary folder; the real ledger (in-process TSA) registers ``--records``
records of one loan among ``--other`` records of other loans, in calls of 100.
Then the dossier is built ``--rounds`` times, as the servicer builds it
(:meth:`gateway.bundles.LedgerBundles.dossier` for the lender's read scope,
then :func:`gateway.api.bundle_convert.dossier_to_proto` and serialization),
without gRPC. Reported: p50 and p99 of one build, and the dossier's size in
bytes. The court's side (verifying it) is the verifier's benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.api.bundle_convert import dossier_to_proto
from gateway.authz.policy import ReadScope, ScopeKind
from gateway.ledger import Ledger
from gateway.model import EvidenceKind, Receipt, Submission
from gateway.store.sql import SqlStore
from gateway.tsa import EngineTokenSource
from gateway.tsa_certificates import TsaCertificates
from notary.pki import (
    init_pki,
    load_log_signing_key,
    load_log_verifier_key,
    load_tsa_signing_material,
)
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner

LENDER = "bank-a"
LOAN = "L-bench"
_PER_CALL = 100


def _submission(n: int, loan: str) -> Submission:
    return Submission(
        institution=LENDER,
        request_id=f"bench-{n}",
        loan_ref=loan,
        kind=EvidenceKind.REPAYMENT,
        hash_algorithm="sha256",
        digest=hashlib.sha256(f"document {n}".encode()).digest(),
        occurred_at=datetime.now(UTC),
    )


async def _fill(ledger: Ledger, records: int, other: int) -> None:
    """``records`` of the loan spread evenly among ``other`` of other loans."""
    total = records + other
    step = total / records
    mine = {int(i * step) for i in range(records)}
    items = [_submission(n, LOAN if n in mine else f"L-{n % 997}") for n in range(total)]
    for start in range(0, total, _PER_CALL):
        results = await ledger.submit(items[start : start + _PER_CALL])
        bad = [r for r in results if not isinstance(r, Receipt)]
        assert not bad, bad[:3]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="records of the loan")
    parser.add_argument("--other", type=int, default=9000, help="records of other loans")
    parser.add_argument("--rounds", type=int, default=30, help="dossiers built")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-dossier-") as tmp:
        folder = Path(tmp)
        init_pki(folder / "pki")
        key, cert, roots = load_tsa_signing_material(folder / "pki")
        engine = TimeStampAuthority(KeySigner(key, cert), LeasedSerials(folder / "serials"))
        ledger = Ledger.open(
            store=SqlStore.in_data_dir(folder / "data"),
            tsa=EngineTokenSource(engine, roots),
            log_key=load_log_signing_key(folder / "pki"),
            log_origin=load_log_verifier_key(folder / "pki").origin,
        )
        try:
            asyncio.run(_fill(ledger, args.records, args.other))
            tsa = TsaCertificates(roots, [cert])
            scope = ReadScope(ScopeKind.OWNER, LENDER, datetime.now(UTC))
            times: list[float] = []
            size = 0
            for _ in range(args.rounds):
                start = time.perf_counter()
                material = ledger.dossier(LENDER, LOAN, scope=scope)
                size = len(dossier_to_proto(material, tsa).SerializeToString())
                times.append(time.perf_counter() - start)
            assert len(material.records) == args.records
            log_size = ledger.size
        finally:
            asyncio.run(ledger.close())
    print(
        f"GetDossier, gateway side (SQLite, no gRPC): {args.records} records of one loan in a "
        f"log of {log_size}: p50 {statistics.median(times) * 1e3:.0f} ms, "
        f"p99 {_pct(times, 0.99) * 1e3:.0f} ms over {args.rounds} builds; "
        f"{size:,} bytes serialized"
    )


if __name__ == "__main__":
    main()

"""Why appends slow down as the log grows: pages written per entry, by index (SQLite).

Run: ``.venv/bin/python -m bench.writecost [--entries 200000] [--batch 500]``.

Appends synthetic entries (the sizes of real ones: 1,450-byte token,
220-byte leaf) in group commits of ``--batch`` through
:meth:`gateway.store.sql.SqlStore.append_batch`, and reports for each step
of the log's growth the pages each entry costs in the write-ahead log
(the frames each commit wrote, read with ``PRAGMA wal_checkpoint``) and
the time per entry of the commits (SQLite's automatic checkpoints, which
copy those pages back into the database, included). A B-tree insert at a random key dirties
a page of its own as soon as the index has more leaf pages than a commit has
entries; an insert at the end of a key range shares the last page with its
neighbours. Each variant puts one kind of key in order (or drops an index)
to show what that index costs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.log.tree import CompactTree
from gateway.model import EvidenceKind, Submission, new_entry_ids
from gateway.store.base import StoredCheckpoint, StoredEntry
from gateway.store.sql import SqlStore

VARIANTS = {
    "as clients send (random request ids)": {},
    "request ids in order": {"ordered_requests": True},
    "no ix_entries_digest": {"drop_digest": True},
    "leaf hashes in order (not possible)": {"ordered_leaves": True},
    "each loan's records together": {"loans_in_blocks": True},
    "every key in order, no digest index": {
        "ordered_requests": True,
        "drop_digest": True,
        "ordered_leaves": True,
        "loans_in_blocks": True,
    },
}
LOANS = 10_000


def _entries(start: int, count: int, options: dict[str, bool]) -> list[StoredEntry]:
    now = datetime.now(UTC).replace(microsecond=0)
    token, leaf = os.urandom(1450), os.urandom(220)
    out = []
    for offset, entry_id in enumerate(new_entry_ids(count)):
        i = start + offset
        loan = i * LOANS // 10**7 if options.get("loans_in_blocks") else i % LOANS
        request = f"{i:032d}" if options.get("ordered_requests") else os.urandom(16).hex()
        leaf_hash = (
            i.to_bytes(32, "big")
            if options.get("ordered_leaves")
            else hashlib.sha256(b"%d" % i).digest()
        )
        out.append(
            StoredEntry(
                leaf_index=i,
                entry_id=entry_id,
                submission=Submission(
                    institution="bank-bench",
                    request_id=request,
                    loan_ref=f"loan-{loan}",
                    kind=EvidenceKind.REPAYMENT,
                    hash_algorithm="sha256",
                    digest=hashlib.sha256(b"document %d" % i).digest(),
                    occurred_at=now,
                    metadata=(("channel", "app"),),
                ),
                received_at=now,
                loan_sequence=i + 1,  # unique per loan whatever the loan
                previous_leaf_hash=b"\x01" * 32,
                leaf=leaf,
                leaf_hash=leaf_hash,
                token=token,
                receipt_size=start + count,
            )
        )
    return out


def run(name: str, options: dict[str, bool], entries: int, batch: int, step: int) -> None:
    with tempfile.TemporaryDirectory(prefix="writecost-") as tmp:
        db = Path(tmp) / "gateway.sqlite3"
        store = SqlStore.sqlite(db)
        if options.get("drop_digest"):
            with store.engine.begin() as conn:
                conn.exec_driver_sql("DROP INDEX ix_entries_digest")
        raw = sqlite3.connect(db)
        tree = CompactTree()
        commit = 0.0
        frames = 0
        print(f"  {name}:")
        try:
            for start in range(0, entries, batch):
                rows = _entries(start, batch, options)
                nodes = tree.append_leaves([e.leaf_hash for e in rows])
                checkpoint = StoredCheckpoint(tree.size, tree.root(), "n" * 200)
                t0 = time.perf_counter()
                store.append_batch(rows, nodes, checkpoint)
                commit += time.perf_counter() - t0
                frames += raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                if tree.size % step == 0:
                    print(
                        f"    {tree.size:>9,} entries: {frames / step:5.2f} WAL pages/entry, "
                        f"commits {commit / step * 1e6:5.0f} us/entry"
                    )
                    commit = 0.0
                    frames = 0
        finally:
            raw.close()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--step", type=int, default=50_000)
    parser.add_argument("--variant", choices=list(VARIANTS), action="append")
    args = parser.parse_args()
    print(
        f"SQLite appends in commits of {args.batch} entries; WAL pages are "
        f"{4096:,} bytes; a real entry is about 2,400 bytes on disk"
    )
    for name in args.variant or VARIANTS:
        run(name, VARIANTS[name], args.entries, args.batch, args.step)


if __name__ == "__main__":
    main()

"""Why appends slow down as the log grows: pages written per entry, by index (SQLite).

Run: ``.venv/bin/python -m bench.writecost [--entries 200000] [--batch 500]
[--variant NAME ...]``.

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

At the end of each variant: entries/s of its commits and WAL pages per entry
over the whole run (the pages are exact; the time depends on the machine's
other load), the database's bytes per entry (after a final checkpoint) and those of each
index (SQLite's ``dbstat``), and the ratio of both to the first variant run,
e.g. ``--variant "as clients send (random request ids)" --variant "no scoped
digest indexes"`` for the cost of the indexes that keep each institution's
searches from reading the others' records.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
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
    "no ix_entries_loan_digest": {"drop_loan_digest": True},
    "no scoped digest indexes": {"drop_scoped": True},
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
#: The digest indexes whose first column is the caller's scope (owner, submitter, loan).
SCOPED = ("ix_entries_owner_digest", "ix_entries_submitter_digest", "ix_entries_loan_digest")


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


@dataclass(frozen=True)
class Result:
    entries_per_s: float
    bytes_per_entry: float
    wal_pages_per_entry: float


def _drops(options: dict[str, bool]) -> list[str]:
    drops = ["ix_entries_digest"] if options.get("drop_digest") else []
    if options.get("drop_loan_digest"):
        drops.append("ix_entries_loan_digest")
    if options.get("drop_scoped"):
        drops += SCOPED
    return drops


def run(name: str, options: dict[str, bool], entries: int, batch: int, step: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="writecost-") as tmp:
        db = Path(tmp) / "gateway.sqlite3"
        store = SqlStore.sqlite(db)
        with store.engine.begin() as conn:
            for index in _drops(options):
                conn.exec_driver_sql(f"DROP INDEX {index}")
        raw = sqlite3.connect(db)
        tree = CompactTree()
        commit = total = 0.0
        frames = all_frames = 0
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
                    total += commit
                    all_frames += frames
                    commit = 0.0
                    frames = 0
            total += commit
            all_frames += frames
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = db.stat().st_size
            indexes = raw.execute(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries') "
                "GROUP BY name ORDER BY name"
            ).fetchall()
        finally:
            raw.close()
            store.close()
    result = Result(entries / total, size / entries, all_frames / entries)
    print(
        f"    whole run: {result.entries_per_s:,.0f} entries/s of commits, "
        f"{result.wal_pages_per_entry:.2f} WAL pages/entry, "
        f"{result.bytes_per_entry:,.0f} bytes/entry on disk"
    )
    for index, nbytes in indexes:
        print(f"      {index:<32} {nbytes / entries:6.1f} bytes/entry")
    return result


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
    results = {
        name: run(name, VARIANTS[name], args.entries, args.batch, args.step)
        for name in args.variant or VARIANTS
    }
    first, base = next(iter(results.items()))
    print(f"Against {first!r} (same run):")
    for name, r in results.items():
        print(
            f"  {name:<40} entries/s x{r.entries_per_s / base.entries_per_s:5.2f}, "
            f"WAL pages/entry x{r.wal_pages_per_entry / base.wal_pages_per_entry:5.2f}, "
            f"bytes/entry x{r.bytes_per_entry / base.bytes_per_entry:5.2f}"
        )


if __name__ == "__main__":
    main()

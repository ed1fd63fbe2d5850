"""A big, valid log for the read benchmark, built fast and cached under the data folder.

Run: ``.venv/bin/python -m bench.biglog --size 1000000 [--data-dir ./data] [--url URL]``.

The loader writes the store directly, one group commit per 10,000 entries,
through :meth:`gateway.store.sql.SqlStore.append_batch` (the ledger's own
commit call) — nothing is faked:

* every entry has its own digest, request id (random, as clients send
  UUIDs) and a real RFC 3161 token from the notary engine on the log's PKI,
  issued for that digest (so ``VerifyEvidence`` says VALID);
* leaves are canonical, of version 2 as the ledger writes them
  (:func:`gateway.leaves.seal`: a salt per record, one secret salt per loan,
  stored with the openings), chained per loan (:func:`loan_of`: entry ``i``
  belongs to ``bench-loan-<i mod 10,000>``, except one entry in 1,000, which
  belongs to the heavy loan ``bench-loan-heavy``: 1,000 records spread over
  a log of 1,000,000 entries), hashed into the Merkle tree
  (:class:`gateway.log.tree.CompactTree`) whose nodes are stored;
* each commit writes the loan map's changed nodes (:mod:`gateway.log.loanmap`,
  as the ledger does), so a gateway opened on the log loads the map instead of
  building it from the leaves;
* each commit's checkpoint is signed with the log key and carries the
  ``loan-map/v1`` line.

A gateway opened on the folder checks the latest checkpoint's signature and
root before it serves. The folder is ``<data dir>/bench/log-v<N>-<size>/``
(PKI, TSA serial state, ``gateway.sqlite3``); a build that was interrupted
resumes from its last commit. With ``--url`` the log goes to that database
instead (PostgreSQL: a new schema, dropped afterwards) to measure its size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from court.verify.loanmap import LoanHead, format_map_line
from gateway.leaves import loan_key_of, new_salt, seal
from gateway.log.checkpoint import sign_checkpoint
from gateway.log.loanmap import VersionedLoanMap
from gateway.log.tree import CompactTree, Node
from gateway.model import EvidenceKind, Submission, new_entry_ids
from gateway.store.base import LoanSalt, StoredCheckpoint, StoredEntry, StoredOpening
from gateway.store.sql import DEFAULT_SQLITE_NAME, SqlStore
from notary.pki import init_pki, load_log_signing_key, load_log_verifier_key
from notary.serve import build_authority

VERSION = 5  # bump when the loader's output changes: older caches are then rebuilt
BATCH = 10_000  # entries per commit (one signed checkpoint each)
LOANS = 10_000
HEAVY_EVERY = 1_000  # entries i with i % HEAVY_EVERY == HEAVY_EVERY - 1 are the heavy loan's
HEAVY_LOAN = "bench-loan-heavy"
INSTITUTION = "bank-bench"

Progress = Callable[[str], None]


def folder_for(data_dir: Path, size: int) -> Path:
    """Where the cached log of ``size`` entries lives."""
    return data_dir / "bench" / f"log-v{VERSION}-{size}"


def loan_of(index: int) -> str:
    """The loan of entry ``index``: the heavy loan for one entry in HEAVY_EVERY, else
    ``bench-loan-<index mod LOANS>`` (so the loans whose number ends as the heavy
    entries' do, 999, 1999, ..., have none: their entries are the heavy loan's)."""
    if index % HEAVY_EVERY == HEAVY_EVERY - 1:
        return HEAVY_LOAN
    return f"bench-loan-{index % LOANS}"


def digest_of(index: int) -> bytes:
    """The document digest of entry ``index``."""
    return hashlib.sha256(b"bench document %d" % index).digest()


@dataclass
class _Batch:
    entries: list[StoredEntry]
    nodes: list[Node]
    checkpoint: StoredCheckpoint
    loan_salts: list[LoanSalt]
    map_rows: list[tuple[str, int, bytes]]


class _Builder:
    """Makes the batches of the log after ``start`` entries (tree and loan heads given)."""

    def __init__(
        self,
        folder: Path,
        tree: CompactTree,
        heads: dict[str, tuple[int, bytes]],
        salts: dict[str, bytes],
        loan_map: VersionedLoanMap,
    ) -> None:
        pki = folder / "pki"
        self._tsa = build_authority(pki, folder / "notary")
        self._key = load_log_signing_key(pki)
        self._origin = load_log_verifier_key(pki).origin
        self._tree = tree
        self._heads = heads
        self._salts = salts
        self._map = loan_map
        now = datetime.now(UTC)
        self._received = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._occurred = self._received.replace(microsecond=0) - timedelta(days=1)

    def checkpoint(self) -> StoredCheckpoint:
        size, root = self._tree.size, self._tree.root()
        line = format_map_line(self._map.root())
        note = sign_checkpoint(self._origin, size, root, self._key, self._origin, (line,))
        return StoredCheckpoint(size=size, root=root, note=note)

    def batch(self, count: int) -> _Batch:
        start = self._tree.size
        entries: list[StoredEntry] = []
        new_salts: list[LoanSalt] = []
        heads: list[LoanHead] = []
        sha256 = hashlib.sha256
        for offset, entry_id in enumerate(new_entry_ids(count)):
            index = start + offset
            s = Submission(
                institution=INSTITUTION,
                request_id=os.urandom(16).hex(),
                loan_ref=loan_of(index),
                kind=EvidenceKind.REPAYMENT,
                hash_algorithm="sha256",
                digest=digest_of(index),
                occurred_at=self._occurred,
                metadata=(("channel", "app"),),
            )
            token = self._tsa.issue("sha256", s.digest).token
            sequence, previous = self._heads.get(s.loan_ref, (0, b""))
            loan_salt = self._salts.get(s.loan_ref)
            if loan_salt is None:
                loan_salt = self._salts[s.loan_ref] = new_salt()
                new_salts.append(LoanSalt(s.institution, s.loan_ref, loan_salt))
            opening = StoredOpening(s.institution, s.institution, new_salt(), loan_salt)
            loan_key = loan_key_of(s, opening)
            leaf = seal(
                s,
                opening,
                entry_id=entry_id,
                received_at=self._received,
                token=token,
                loan_sequence=sequence + 1,
                previous_leaf_hash=previous or None,
                loan_key=loan_key,
            )
            leaf_hash = sha256(b"\x00" + leaf).digest()
            heads.append(LoanHead(loan_key, sequence + 1, index, leaf_hash))
            self._heads[s.loan_ref] = (sequence + 1, leaf_hash)
            entries.append(
                StoredEntry(
                    leaf_index=index,
                    entry_id=entry_id,
                    submission=s,
                    received_at=self._received,
                    loan_sequence=sequence + 1,
                    previous_leaf_hash=previous,
                    leaf=leaf,
                    leaf_hash=leaf_hash,
                    token=token,
                    receipt_size=start + count,
                    opening=opening,
                )
            )
        nodes = self._tree.append_leaves([e.leaf_hash for e in entries])
        map_rows = self._map.apply(heads, start + count)
        return _Batch(entries, nodes, self.checkpoint(), new_salts, map_rows)


def _resume(store: SqlStore, folder: Path) -> _Builder:
    latest = store.latest_checkpoint()
    if latest is None:
        builder = _Builder(folder, CompactTree(), {}, {}, VersionedLoanMap())
        store.append_batch([], [], builder.checkpoint())  # as the ledger starts a new log
        return builder
    tree = CompactTree.from_reader(store, latest.size)
    if tree.root() != latest.root:
        raise SystemExit(f"the cached log in {folder} is damaged: delete the folder")
    loans = [(INSTITUTION, f"bench-loan-{i}") for i in range(LOANS)] + [(INSTITUTION, HEAVY_LOAN)]
    heads = {k[1]: (h.sequence, h.leaf_hash) for k, h in store.loan_heads(loans).items()}
    salts = {k[1]: salt for k, salt in store.loan_salts(loans).items()}
    loan_map = VersionedLoanMap.load(store, latest.size, latest.note)
    return _Builder(folder, tree, heads, salts, loan_map)


def fill(store: SqlStore, folder: Path, size: int, progress: Progress) -> None:
    """Append entries to ``store`` (a log made by this loader, or empty) up to ``size``.

    One thread makes the next batch (tokens, leaves, tree, checkpoint) while
    the store writes the current one.
    """
    builder = _resume(store, folder)
    done = store.latest_checkpoint()
    assert done is not None
    first = done.size
    if first >= size:
        return
    batches: queue.Queue[_Batch | BaseException | None] = queue.Queue(maxsize=1)

    def make() -> None:
        try:
            at = first
            while at < size:
                count = min(BATCH, size - at)
                batches.put(builder.batch(count))
                at += count
            batches.put(None)
        except BaseException as exc:  # handed to the writer, which raises it
            batches.put(exc)

    maker = threading.Thread(target=make, name="biglog-maker", daemon=True)
    maker.start()
    started = time.perf_counter()
    while True:
        item = batches.get()
        if item is None:
            break
        if isinstance(item, BaseException):
            raise item
        store.append_batch(
            item.entries, item.nodes, item.checkpoint, item.loan_salts, item.map_rows
        )
        written = item.checkpoint.size
        if written % 100_000 == 0 or written == size:
            rate = (written - first) / (time.perf_counter() - started)
            progress(f"  {written:>10,} of {size:,} entries ({rate:,.0f} entries/s)")
    maker.join()


def cached_log(data_dir: Path, size: int, progress: Progress = print) -> Path:
    """The folder of a valid SQLite log of ``size`` entries, built (or finished) if needed."""
    folder = folder_for(data_dir, size)
    if not (folder / "pki" / "tsa.pem").exists():
        init_pki(folder / "pki")
    store = SqlStore.sqlite(folder / DEFAULT_SQLITE_NAME)
    try:
        latest = store.latest_checkpoint()
        if latest is None or latest.size < size:
            progress(f"building the cached {size:,}-entry log in {folder} (once)")
            fill(store, folder, size, progress)
    finally:
        store.close()
    return folder


# ------------------------------------------------------------------ sizes


def sqlite_sizes(db: Path) -> dict[str, int]:
    """Bytes on disk of each table and index (``dbstat``: pages, free space included)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        indexes = conn.execute(
            "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index'"
        ).fetchall()
        columns = {
            name: f"{table} ("
            + ", ".join(r[2] for r in conn.execute(f"PRAGMA index_info('{name}')"))
            + ")"
            for name, table in indexes
        }
    finally:
        conn.close()
    # Name the automatic indexes of UNIQUE constraints by their table and columns (by
    # columns alone, entries' unique (entry_id) was lost under the shares' one).
    return {
        (f"unique {columns[name]}" if name.startswith("sqlite_autoindex") else name): int(total)
        for name, total in rows
    }


def postgres_sizes(store: SqlStore) -> dict[str, int]:
    """Bytes of each table (heap and TOAST) and each index of the store's schema."""
    query = """
        SELECT c.relname, c.relkind,
               pg_table_size(c.oid) AS table_bytes, pg_relation_size(c.oid) AS rel_bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')
    """
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(query).all()
    return {name: int(t if kind == "r" else r) for name, kind, t, r in rows}


def column_bytes(db: Path) -> dict[str, float]:
    """Average stored bytes per entry of the large columns of ``entries``."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT AVG(LENGTH(token)), AVG(LENGTH(leaf)), AVG(LENGTH(metadata_json)),"
            " AVG(LENGTH(request_id) + LENGTH(entry_id) + LENGTH(institution)"
            " + LENGTH(loan_ref) + LENGTH(kind) + LENGTH(hash_algorithm)),"
            " AVG(LENGTH(digest) + LENGTH(leaf_hash) + LENGTH(previous_leaf_hash))"
            " FROM entries"
        ).fetchone()
    finally:
        conn.close()
    names = ("token", "leaf", "metadata_json", "text keys", "digest + hashes")
    return dict(zip(names, (float(v or 0) for v in row), strict=True))


def breakdown(sizes: dict[str, int], entries: int) -> Iterator[str]:
    """Lines ``name  bytes/entry  share``, largest first, then the total."""
    total = sum(sizes.values())
    for name, value in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if value * 1000 >= total:  # leave out what is under 0.1 %
            yield f"    {name:<46} {value / entries:>8,.1f} B/entry  {value / total:>6.1%}"
    yield f"    {'total':<46} {total / entries:>8,.1f} B/entry"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    parser.add_argument("--url", default="", help="a PostgreSQL SQLAlchemy URL instead of SQLite")
    args = parser.parse_args()
    if not args.url:
        folder = cached_log(args.data_dir, args.size)
        db = folder / DEFAULT_SQLITE_NAME
        print(f"SQLite log of {args.size:,} entries, {db}:")
        print("\n".join(breakdown(sqlite_sizes(db), args.size)))
        print("  entries columns, average bytes per entry:")
        for name, value in column_bytes(db).items():
            print(f"    {name:<46} {value:>8,.1f}")
        return
    schema = "bench_" + os.urandom(6).hex()
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        with tempfile.TemporaryDirectory(prefix="biglog-") as tmp:
            folder = Path(tmp)
            init_pki(folder / "pki")
            store = SqlStore.open(args.url, schema=schema)
            try:
                fill(store, folder, args.size, print)
                print(f"PostgreSQL log of {args.size:,} entries:")
                print("\n".join(breakdown(postgres_sizes(store), args.size)))
            finally:
                store.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()

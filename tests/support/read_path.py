"""The read path's SQL, captured and explained: shared by the SQLite and PostgreSQL plan tests.

:func:`fill` registers a log through the real ledger; :func:`exercise` calls
every read of the ledger (each public method of
:class:`gateway.reads.LedgerReads`) and of the store (each read method of
:class:`gateway.store.base.Store`) on it, while :func:`captured` records every
statement sent to the database (SQLAlchemy's ``before_cursor_execute``). The
plan checkers then explain each captured statement with its own parameters
and name every full scan of one of the gateway's tables. A read added later
is caught twice: :func:`exercise` refuses to run unless it covers every read
method, and its statements are explained whatever they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event

from gateway.access import GrantRequest
from gateway.authz.policy import ReadScope, ScopeKind
from gateway.errors import NotFound
from gateway.ledger import Ledger
from gateway.model import ALL_LOANS, INSTITUTIONS_LOAN, EvidenceKind, Receipt
from gateway.reads import LedgerReads
from gateway.store.base import Store
from gateway.store.tables import metadata
from tests.support.ledger_env import sub, submit

TABLES = frozenset(metadata.tables)
# What the store's connections may send on the read path besides SELECTs.
_NOT_QUERIES = ("BEGIN",)
_STORE_WRITES = {"append_batch", "close", "add_grants", "claim_grant_request", "revoke_grants"}
# Read once when the ledger starts, not on the read path: the whole loan map (a full read).
_STORE_STARTUP = {"map_blocks"}
_NOW = datetime.now(UTC)
#: A read scope of each kind (gateway.authz.policy): each is a condition of the queries.
SCOPES = [
    ReadScope(ScopeKind.OWNER, "bank-a", _NOW),
    ReadScope(ScopeKind.SUBMITTER, "agency-1", _NOW),
    ReadScope(ScopeKind.SHARED, "court-1", _NOW),
    ReadScope(ScopeKind.OPERATOR_RECORDS, "operator", _NOW),
]


@dataclass(frozen=True)
class Sample:
    """Values of the filled log that the reads are asked about."""

    first: Receipt
    late: Receipt
    superseded: str
    request_id: str
    repeated_digest: bytes
    loans: int


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any


@contextlib.contextmanager
def captured(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement (and its parameters) that ``engine`` sends while inside."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        assert not many, f"the read path ran an executemany: {sql}"
        seen.append(Statement(sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def fill(ledger: Ledger, entries: int, per_call: int, loans: int) -> Sample:
    """Register ``entries`` records in calls of ``per_call`` (one checkpoint each).

    Records spread over ``loans`` loans, every seventh in loan ``L-0``; every
    tenth has one same digest; the last call supersedes the first record. bank-a
    then delegates all its loans to agency-1 and shares ``L-0`` and ``L-1`` with
    court-1, so the court's reads run their searches; other grants make the grant
    tables large enough that statistics do not favour scanning them.
    """
    receipts: list[Receipt] = []
    for start in range(0, entries, per_call):
        items = [
            sub(
                f"rp-{i}",
                loan="L-0" if i % 7 == 0 else f"L-{i % loans}",
                data=b"one document, registered again and again" if i % 10 == 0 else None,
            )
            for i in range(start, min(start + per_call, entries))
        ]
        results = submit(ledger, items)
        assert all(isinstance(r, Receipt) for r in results), results
        receipts += [r for r in results if isinstance(r, Receipt)]
    first = receipts[0]
    (late,) = submit(ledger, [sub("rp-late", loan="L-0", supersedes=first.entry_id)])
    assert isinstance(late, Receipt), late
    later = _NOW + timedelta(days=30)
    others = tuple(f"L-{i}" for i in range(2, min(loans, 100)))
    for grant in (
        GrantRequest(EvidenceKind.LOAN_DELEGATED, "bank-a", "agency-1", "rp-d", None, later),
        GrantRequest(EvidenceKind.LOAN_SHARED, "bank-a", "court-1", "rp-s", ("L-0", "L-1"), later),
        *(
            # A request_id names one grant call, of one kind: each has its own.
            GrantRequest(kind, "bank-a", f"{who}-{n}", f"rp-{who}-{n}", others, later)
            for kind, who in (
                (EvidenceKind.LOAN_SHARED, "court"),
                (EvidenceKind.LOAN_DELEGATED, "agency"),
            )
            for n in range(2, 6)
        ),
    ):
        asyncio.run(ledger.record_grant(grant, datetime.now(UTC)))
    return Sample(
        first=first,
        late=late,
        superseded=first.entry_id,
        request_id="req-rp-1",
        repeated_digest=sub(0, data=b"one document, registered again and again").digest,
        loans=loans,
    )


def _public(cls: type) -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def exercise(ledger: Ledger, store: Store, s: Sample) -> None:
    """Call every read of the ledger and of the store, on rows that exist and that do not."""
    from court.verify.loanmap import head_of_leaf
    from court.verify.rfc6962 import leaf_hash

    late_head = head_of_leaf(s.late.leaf_index, s.late.leaf)
    assert late_head is not None
    loan_key = late_head.loan_key
    digest = s.repeated_digest
    size = ledger.size
    half = s.late.tree_size // 2
    ledger_reads: dict[str, Callable[[], object]] = {
        "size": lambda: ledger.size,
        "published": ledger.published,
        "checkpoint": ledger.checkpoint,
        "get": lambda: ledger.get(s.late.entry_id),
        "find": lambda: ledger.find("sha256", digest, 50, ledger.find("sha256", digest, 5, "")[1]),
        "entry_ids_by_digest": lambda: ledger.entry_ids_by_digest("sha256", digest, 1002),
        "list_by_loan": lambda: ledger.list_by_loan(
            "bank-a", "L-0", 20, ledger.list_by_loan("bank-a", "L-0", 3, "")[1]
        ),
        "checkpoint_at": lambda: ledger.checkpoint_at(s.first.tree_size),
        "checkpoints": lambda: ledger.checkpoints(half, 3, ledger.checkpoints(half, 2, "")[1]),
        "inclusion_proof": lambda: ledger.inclusion_proof(s.first.leaf_index + 1, 0),
        "leaf_index": lambda: ledger.leaf_index(leaf_hash(s.late.leaf)),
        "consistency_proof": lambda: ledger.consistency_proof(half or 1, 0),
        "entries": lambda: ledger.entries(size // 3, size // 3 + 50),
        "anchor_covering": lambda: ledger.anchor_covering(s.first.tree_size),
        "anchor_chains": ledger.anchor_chains,
        "loan_head_proof": lambda: (
            ledger.loan_head_proof(loan_key, size),
            ledger.loan_head_proof(loan_key, s.late.tree_size),
            ledger.loan_head_proof(bytes(32), size),
        ),
    }
    missing = _public(LedgerReads) - set(ledger_reads)
    assert not missing, f"add the ledger reads {sorted(missing)} to exercise()"
    for read in ledger_reads.values():
        read()
    for scope in SCOPES:  # the scoped reads: each caller's visibility in the query
        with contextlib.suppress(NotFound):
            ledger.get(s.late.entry_id, scope)
        ledger.find("sha256", digest, 50, "", scope)
        ledger.entry_ids_by_digest("sha256", digest, 1002, scope)
        for loan in ("L-0", "L-2", ALL_LOANS):  # shared with court-1, not shared, all loans
            ledger.list_by_loan("bank-a", loan, 20, "", scope)
        ledger.list_by_loan("operator", INSTITUTIONS_LOAN, 20, "", scope)  # registry changes
        # bundles and dossiers (gateway.bundles): the same scopes, in their own reads
        with contextlib.suppress(NotFound):
            ledger.evidence_bundle(entry_id=s.late.entry_id, scope=scope)
        with contextlib.suppress(NotFound):
            ledger.evidence_bundle(digest=("sha256", digest), scope=scope)
        for loan in ("L-0", "L-2"):
            with contextlib.suppress(NotFound):
                ledger.dossier("bank-a", loan, scope=scope)
    ledger.evidence_bundle(entry_id=s.first.entry_id, tree_size=s.late.tree_size)

    heads = [("bank-a", f"L-{i}") for i in range(0, s.loans, max(1, s.loans // 5))]
    store_reads: dict[str, Callable[[], object]] = {
        "get_entry": lambda: store.get_entry(s.first.entry_id),
        "get_entries": lambda: store.get_entries([s.first.entry_id, s.late.entry_id, "none"]),
        "find_by_digest": lambda: store.find_by_digest("sha256", digest, 10, s.first.leaf_index),
        "entry_ids_by_digest": lambda: store.entry_ids_by_digest("sha256", digest, 30, 1 << 40),
        "list_by_loan": lambda: store.list_by_loan("bank-a", "L-1", 2, 10),
        "loan_head": lambda: store.loan_head("bank-a", "L-2"),
        "loan_heads": lambda: store.loan_heads(heads),
        "loan_salts": lambda: store.loan_salts([*heads, ("bank-b", "L-0")]),
        "openings": lambda: store.openings([s.first.leaf_index, s.late.leaf_index, 1 << 40]),
        "case_documents": lambda: store.case_documents(
            [s.first.leaf_index, s.late.leaf_index, 1 << 40]
        ),
        "entry_by_request": lambda: store.entry_by_request("bank-a", s.request_id),
        "entries_by_requests": lambda: store.entries_by_requests(
            [("bank-a", s.request_id), ("bank-a", "req-rp-2"), ("bank-b", "req-rp-3")]
        ),
        "superseded_by": lambda: store.superseded_by([s.superseded, s.late.entry_id]),
        "get_nodes": lambda: store.get_nodes([(0, 5), (1, 7), (3, 2), (0, 1)]),
        "latest_checkpoint": store.latest_checkpoint,
        "checkpoint_at": lambda: store.checkpoint_at(s.late.tree_size),
        "entries_range": lambda: store.entries_range(10, 60),
        "checkpoints_from": lambda: store.checkpoints_from(half, 50),
        "leaf_index_by_hash": lambda: store.leaf_index_by_hash(leaf_hash(s.first.leaf)),
        "ping": store.ping,
        "delegations": lambda: store.delegations("agency-1", "bank-a", ["L-1", "L-2"], _NOW),
        "day_counts": lambda: store.day_counts(0, 1 << 20, (0, "a", "b"), 100),
        "anchor_covering": lambda: store.anchor_covering(s.first.tree_size, "a-chain"),
        "anchor_chain_names": store.anchor_chain_names,
        "map_block": lambda: (store.map_block("", size), store.map_block(loan_key.hex()[:2], size)),
    }
    missing = _public(Store) - _STORE_WRITES - _STORE_STARTUP - set(store_reads)
    assert not missing, f"add the store reads {sorted(missing)} to exercise()"
    for read in store_reads.values():
        read()
    for scope in SCOPES:
        store.get_entry(s.first.entry_id, scope)
        store.find_by_digest("sha256", digest, 10, s.first.leaf_index, scope)
        store.entry_ids_by_digest("sha256", digest, 30, 1 << 40, scope)
        store.list_by_loan("bank-a", "L-1", 2, 10, scope)
        store.superseded_by([s.superseded, s.late.entry_id], scope)


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 240 else text[:240] + " ..."


def _queries(statements: list[Statement]) -> list[Statement]:
    out = []
    for st in statements:
        head = st.sql.lstrip().split(None, 1)[0].upper()
        if head in _NOT_QUERIES:
            continue
        assert head == "SELECT", f"the read path sent a {head} statement: {st.sql}"
        out.append(st)
    assert out, "nothing was captured"
    return out


def sqlite_full_scans(engine: Engine, statements: list[Statement]) -> list[str]:
    """``EXPLAIN QUERY PLAN`` of each statement; one line per full scan of a gateway table.

    ``SCAN t`` (and ``SCAN t USING [COVERING] INDEX i``) read all of ``t``;
    a ``SEARCH`` is a B-tree descent, O(log n).
    """
    scans: list[str] = []
    with engine.connect() as conn:
        for st in _queries(statements):
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + st.sql, st.parameters).all()
            for row in rows:
                match = re.match(r"SCAN (\w+)", row[3])
                if match and match.group(1) in TABLES:
                    scans.append(f"{row[3]}  <-  {_short(st.sql)}")
    return scans


_SCANS = ("Seq Scan", "Index Scan", "Index Only Scan")


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def postgres_full_scans(engine: Engine, statements: list[Statement]) -> list[str]:
    """``EXPLAIN (FORMAT JSON)`` of each statement; one line per full scan of a gateway table.

    A full scan is a ``Seq Scan``, or an index scan without an index
    condition (a walk of the whole index). The plans are made with
    ``enable_seqscan = off``: on a test-sized table a sequential scan of a
    few pages rightly costs less than an index search, which would hide
    nothing and flag everything; with the setting off PostgreSQL still
    scans when no index can answer the query, so a ``Seq Scan`` then means
    exactly what the test looks for, a query no index serves.
    """
    scans: list[str] = []
    with engine.connect() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # this transaction only
        for st in _queries(statements):
            raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + st.sql, st.parameters).scalar()
            plan = json.loads(raw) if isinstance(raw, str) else raw
            for node in _plan_nodes(plan[0]["Plan"]):
                kind = node.get("Node Type", "")
                table = node.get("Relation Name")
                if table not in TABLES:
                    continue
                if kind in _SCANS and "Index Cond" not in node:
                    scans.append(f"{kind} on {table}  <-  {_short(st.sql)}")
    return scans

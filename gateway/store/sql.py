"""The SQL store: SQLite (default, one file under the data folder) or PostgreSQL.

The schema is defined by the SQLModel table models in
:mod:`gateway.store.tables`; the hot path (:meth:`SqlStore.append_batch`)
writes plain-SQL ``executemany`` batches, one transaction per group commit,
and the hot reads (tree nodes, entries, openings, checkpoints) send plain SQL
to the driver's cursor (:meth:`SqlStore._driver_reads`). SQLite runs in WAL
mode with ``synchronous=FULL``, so a commit returns only once the WAL is
synced: what is acknowledged survives a crash or a power cut. On PostgreSQL
every connection sets ``synchronous_commit = on`` itself, whatever the
server, role or URL say, so a commit returns only once it is flushed to the
WAL; the URL is a SQLAlchemy URL such as
``postgresql+psycopg://user@host/db`` (driver package ``psycopg``).

A stuck database fails calls instead of hanging them: PostgreSQL connections
use ``connect_timeout`` 5 s, ``statement_timeout`` 30 s and ``lock_timeout``
10 s (the URL may override them: ``?connect_timeout=…``,
``?options=-c statement_timeout=…``); SQLite waits at most 10 s for a lock.

Database errors become :class:`StoreError` with a short message naming the
error class only; the full text (which holds the SQL and its parameters,
i.e. other callers' data) goes to the gateway's log.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from gateway.authz.policy import ReadScope, ScopeKind
from gateway.log.tree import MissingNodeError, Node, NodeID
from gateway.model import INSTITUTIONS_LOAN, EvidenceKind, Submission
from gateway.store.access import (
    ACCESS_TABLES,
    AccessQueries,
    comparison,
    count_rows,
    entry_grantee,
    visible,
    visible_sql,
)
from gateway.store.anchors import ANCHORS, AnchorQueries
from gateway.store.base import LoanHead, LoanSalt, StoredCheckpoint, StoredEntry, StoreError
from gateway.store.cases import CASE_TABLES, CaseDocumentReads
from gateway.store.hooks import BatchHook
from gateway.store.loanmap import LOAN_MAP_BLOCKS, LOAN_MAP_COLUMNS, LoanMapQueries
from gateway.store.lock import StoreWriter, UnlockedWriter, WalSettings, take_writer_lock
from gateway.store.openings import (
    LOAN_SALT_COLUMNS,
    LOAN_SALTS,
    OPENING_COLUMNS,
    OPENINGS,
    OpeningReads,
    loan_salt_params,
    opening_params,
)
from gateway.store.tables import (
    CheckpointRow,
    EntryRow,
    InstitutionCertificateRow,
    InstitutionRow,
    LoanHeadRow,
    NodeRow,
    metadata,
)
from gateway.store.token_sets import TOKEN_SETS, TOKEN_TEMPLATES, TokenColumn
from gateway.store.upgrade import upgrade

__all__ = ["DEFAULT_SQLITE_NAME", "SqlStore", "from_us", "to_us"]

DEFAULT_SQLITE_NAME = "gateway.sqlite3"
#: SQLite page cache per connection (KiB) and the WAL's size (pages of 4 KiB) at which
#: it is checkpointed (``bench.writecost``, docs/performance/write-path.md): by a commit, or, while
#: a gateway holds the writer lock, by its background thread
#: (:mod:`gateway.store.checkpointer`), the writer's commits then only past the bound.
SQLITE_CACHE_KIB = 16384
SQLITE_WAL_CHECKPOINT_PAGES = 16384
SQLITE_WAL_BOUND_PAGES = 4 * SQLITE_WAL_CHECKPOINT_PAGES
SQLITE_WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes a restarted WAL file keeps on disk
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ENTRIES = metadata.tables[str(EntryRow.__tablename__)]
_NODES = metadata.tables[str(NodeRow.__tablename__)]
_CHECKPOINTS = metadata.tables[str(CheckpointRow.__tablename__)]
_HEADS = metadata.tables[str(LoanHeadRow.__tablename__)]
# The latest checkpoint: every read reads it. max() is one B-tree descent on both
# databases; SQLite's plan for `ORDER BY size DESC LIMIT 1` reads the same row but says SCAN.
_LATEST_CHECKPOINT = (
    f"SELECT size, root, note FROM {_CHECKPOINTS.name} "
    f"WHERE size = (SELECT max(size) FROM {_CHECKPOINTS.name})"
)
_TABLES = [
    _ENTRIES,
    _NODES,
    _CHECKPOINTS,
    _HEADS,
    OPENINGS,
    LOAN_SALTS,
    LOAN_MAP_BLOCKS,
    TOKEN_SETS,
    TOKEN_TEMPLATES,
    *ACCESS_TABLES,
    metadata.tables[str(InstitutionRow.__tablename__)],
    metadata.tables[str(InstitutionCertificateRow.__tablename__)],
    ANCHORS,
    *CASE_TABLES,
]
_IN_CHUNK = 500  # bound on parameters per IN (...) query
_INT64 = (-(1 << 63), (1 << 63) - 1)  # the range of the INTEGER/BIGINT columns

log = logging.getLogger(__name__)

T = TypeVar("T")


def to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return (value - _EPOCH) // _US


def from_us(value: int) -> datetime:
    """The aware UTC datetime of microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=value)


_ENTRY_COLUMNS = (
    "leaf_index",
    "entry_id",
    "institution",
    "owner",
    "request_id",
    "loan_ref",
    "kind",
    "hash_algorithm",
    "digest",
    "occurred_at_us",
    "received_at_us",
    "metadata_json",
    "supersedes",
    "loan_sequence",
    "previous_leaf_hash",
    "leaf",
    "leaf_hash",
    "token",
    "receipt_size",
    "grantee",
)
_ALL_COLUMNS = tuple(c.name for c in _ENTRIES.columns)
_SELECT_ENTRIES = f"SELECT {', '.join(_ALL_COLUMNS)} FROM {_ENTRIES.name}"
_NODE_COLUMNS = ("level", "idx", "hash")
_CHECKPOINT_COLUMNS = ("size", "root", "note", "created_at_us")
_HEAD_COLUMNS = ("owner", "loan_ref", "sequence", "leaf_hash", "leaf_index")


#: The ``metadata_json`` column of a record: ``json.dumps(metadata, ensure_ascii=False,
#: separators=(",", ":"))`` with one encoder made once (dumps with options made one per call).
_metadata_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _entry_params(e: StoredEntry, token: bytes) -> tuple[Any, ...]:
    """One entries row, in the order of ``_ENTRY_COLUMNS`` (``token``: the column's
    value, see gateway.store.token_sets)."""
    s = e.submission
    return (
        e.leaf_index,
        e.entry_id,
        s.institution,
        s.owner,
        s.request_id,
        s.loan_ref,
        str(s.kind),
        s.hash_algorithm,
        s.digest,
        to_us(s.occurred_at),
        to_us(e.received_at),
        _metadata_json(s.metadata),
        s.supersedes,
        e.loan_sequence,
        e.previous_leaf_hash,
        e.leaf,
        e.leaf_hash,
        token,
        e.receipt_size,
        entry_grantee(s),
    )


_LEAF_NODES_SQL = (
    f"SELECT 0, leaf_index, leaf_hash FROM {_ENTRIES.name} WHERE leaf_index IN ({{marks}})"
)


def _node_params(entries: Sequence[StoredEntry], nodes: Sequence[Node]) -> list[Node]:
    """The ``nodes`` rows of a batch: all but the leaves' hashes (level 0), which are
    the batch's entries' ``leaf_hash`` (:meth:`SqlStore.get_nodes` reads them there;
    about 45 bytes per entry less). ValueError, which fails the batch, for a leaf's
    hash that is not its entry's."""
    leaf_hashes = {e.leaf_index: e.leaf_hash for e in entries}
    rows = []
    for node in nodes:
        level, index, value = node
        if level != 0:
            rows.append(node)
        elif leaf_hashes.get(index) != value:
            raise ValueError(f"the tree's leaf {index} is not the leaf hash of entry {index}")
    return rows


def _int64(**values: int) -> None:
    """Raise ValueError unless every value fits a signed 64-bit column (checked before binding)."""
    for name, value in values.items():
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(f"{name} {value} is outside the signed 64-bit range")


def _entry(row: Sequence[Any], tokens: TokenColumn) -> StoredEntry:
    """The entry of a row of every ``entries`` column in table order (``_ALL_COLUMNS``):
    a driver's tuple or SQLAlchemy's Row of ``select(_ENTRIES)``."""
    m = dict(zip(_ALL_COLUMNS, row, strict=True))
    return StoredEntry(
        leaf_index=m["leaf_index"],
        entry_id=m["entry_id"],
        submission=Submission(
            institution=m["institution"],
            request_id=m["request_id"],
            loan_ref=m["loan_ref"],
            kind=EvidenceKind(m["kind"]),
            hash_algorithm=m["hash_algorithm"],
            digest=bytes(m["digest"]),
            occurred_at=from_us(m["occurred_at_us"]),
            metadata=tuple((k, v) for k, v in json.loads(m["metadata_json"])),
            supersedes=m["supersedes"],
            owner=m["owner"],
        ),
        received_at=from_us(m["received_at_us"]),
        loan_sequence=m["loan_sequence"],
        previous_leaf_hash=bytes(m["previous_leaf_hash"]),
        leaf=bytes(m["leaf"]),
        leaf_hash=bytes(m["leaf_hash"]),
        token=tokens.token(m["leaf_index"], bytes(m["token"])),
        receipt_size=m["receipt_size"],
    )


def _chunks(items: Sequence[T], size: int = _IN_CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _by_first(pairs: Iterable[tuple[str, str]]) -> Iterable[tuple[str, Sequence[str]]]:
    """Group ``(a, b)`` pairs by ``a``, in chunks of ``b`` values for ``IN (...)``."""
    groups: dict[str, set[str]] = {}
    for a, b in pairs:
        groups.setdefault(a, set()).add(b)
    for a, bs in sorted(groups.items()):
        for chunk in _chunks(sorted(bs)):
            yield a, chunk


class SqlStore(OpeningReads, CaseDocumentReads, AccessQueries, AnchorQueries, LoanMapQueries):
    """:class:`gateway.store.base.Store` on SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self._dialect}: use SQLite or PostgreSQL")
        self._write_lock = threading.Lock()
        self._batch_hooks: list[BatchHook] = []
        # Every write goes through the writer: the lock's own session on PostgreSQL
        # once hold_writer_lock() has run (see gateway.store.lock).
        self._writer: StoreWriter = UnlockedWriter(engine)
        # An in-memory SQLite database is one connection (StaticPool) shared by all
        # threads: its transactions must not interleave.
        url = engine.url
        self._serial: threading.Lock | None = (
            threading.Lock()
            if self._dialect == "sqlite" and url.database in (None, "", ":memory:")
            else None
        )
        # The hot path's bulk inserts go to the driver's executemany as plain SQL with
        # positional rows: SQLAlchemy's per-value processing cost more than the insert.
        mark = "?" if self._dialect == "sqlite" else "%s"
        self._mark = mark
        self._node_reads: dict[tuple[int, ...], str] = {}
        self._snapshot_sql = (
            "BEGIN"
            if self._dialect == "sqlite"
            else "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
        )
        # Raw driver errors of the plain-SQL reads (not wrapped by SQLAlchemy).
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._insert_sql = {
            table.name: f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))})"
            for table, columns in (
                (_ENTRIES, _ENTRY_COLUMNS),
                (_NODES, _NODE_COLUMNS),
                (_CHECKPOINTS, _CHECKPOINT_COLUMNS),
                (OPENINGS, OPENING_COLUMNS),
                (LOAN_SALTS, LOAN_SALT_COLUMNS),
                (LOAN_MAP_BLOCKS, LOAN_MAP_COLUMNS),
                (_HEADS, _HEAD_COLUMNS),
            )
        }
        # Each loan's head: inserted, or an existing one moved forward (the same
        # statement on SQLite and PostgreSQL).
        self._upsert_heads_sql = (
            f"{self._insert_sql[_HEADS.name]} ON CONFLICT (owner, loan_ref) DO UPDATE SET "
            "sequence = excluded.sequence, leaf_hash = excluded.leaf_hash, "
            "leaf_index = excluded.leaf_index"
        )
        self._tokens = TokenColumn(mark, self._driver_rows)
        self._guard(lambda: upgrade(engine))  # an earlier version's layout, if any
        self._guard(lambda: metadata.create_all(engine, tables=_TABLES))
        self._guard(lambda: _create_missing_indexes(engine))

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        echo: bool = False,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        lock_timeout: float = 10.0,
        busy_timeout: float = 10.0,
    ) -> SqlStore:
        """Open (and create the tables of) the database at a SQLAlchemy URL.

        ``schema`` (PostgreSQL only) puts the tables in that schema (it must
        exist), e.g. to give each test its own. The time-outs (seconds) are
        defaults: on PostgreSQL, ``connect_timeout`` and the ``options`` of the
        URL take precedence (e.g. ``?options=-c%20lock_timeout%3D2s``);
        ``busy_timeout`` is SQLite's wait for a lock.
        """
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            memory = parsed.database in (None, "", ":memory:")
            engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": busy_timeout},
                # A new connection to an in-memory database is a new, empty database.
                poolclass=StaticPool if memory else None,
            )
            _configure_sqlite(engine, busy_timeout)
        else:
            engine = create_engine(
                url,
                echo=echo,
                pool_pre_ping=True,
                connect_args=_postgres_connect_args(
                    parsed.query, connect_timeout, statement_timeout, lock_timeout
                ),
            )
            _configure_postgres(engine, schema)
        return cls(engine)

    @classmethod
    def sqlite(cls, path: Path) -> SqlStore:
        """Open the SQLite database file ``path`` (created with its folder if missing)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls.open(f"sqlite:///{path}")

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SqlStore:
        """The default store: ``gateway.sqlite3`` in the data folder."""
        return cls.sqlite(data_dir / DEFAULT_SQLITE_NAME)

    @property
    def engine(self) -> Engine:
        return self._engine

    def hold_writer_lock(self) -> None:
        """Become the database's only writer for as long as this store is open.

        Raises :class:`~gateway.store.lock.WriterLockHeld` when another process
        holds the lock (see :mod:`gateway.store.lock`); a lost lock makes
        every later write fail and :meth:`ping` False. On a SQLite file this
        also starts the thread that checkpoints the WAL out of the commits
        (:mod:`gateway.store.checkpointer`), until :meth:`close`; a store opened
        without the lock (tools, loaders) starts no thread.
        """
        wal = WalSettings(SQLITE_WAL_CHECKPOINT_PAGES, SQLITE_WAL_BOUND_PAGES)
        writer = self._guard(lambda: take_writer_lock(self._engine, wal))
        with self._write_lock:
            self._writer = writer

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        self._engine.dispose()

    def _guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; database failures become a StoreError that carries no data.

        SQLAlchemy's messages hold the statement and its parameters (request
        ids, loan refs, digests, tokens of any caller): they are logged here,
        and the StoreError, which reaches callers, names the error class only.
        Driver errors that SQLAlchemy does not wrap (e.g. sqlite3's
        OverflowError for an integer it cannot bind) are handled the same way.
        """
        try:
            if self._serial is None:
                return fn()
            with self._serial:
                return fn()
        except (SQLAlchemyError, self._driver_error, OverflowError, ValueError) as exc:
            name = exc.__class__.__name__
            log.warning("database operation failed (%s)", name, exc_info=True)
            raise StoreError(f"the database failed ({name}); see the gateway log") from exc

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(connection)`` for reading; database failures become StoreError."""

        def run() -> T:
            with self._engine.connect() as conn:
                return fn(conn)

        return self._guard(run)

    def write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(connection)`` in one write transaction through the writer lock."""

        def run() -> T:
            with self._write_lock, self._writer.transaction() as conn:
                return fn(conn)

        return self._guard(run)

    # ---------------------------------------------------------------- writing

    def append_batch(
        self,
        entries: Sequence[StoredEntry],
        nodes: Sequence[Node],
        checkpoint: StoredCheckpoint,
        loan_salts: Sequence[LoanSalt] = (),
        map_blocks: Sequence[tuple[str, int, bytes]] = (),
    ) -> None:
        heads: dict[tuple[str, str], tuple[Any, ...]] = {}
        for e in entries:  # each loan's last entry of the batch, in _HEAD_COLUMNS order
            s = e.submission
            heads[(s.owner, s.loan_ref)] = (
                s.owner,
                s.loan_ref,
                e.loan_sequence,
                e.leaf_hash,
                e.leaf_index,
            )
        tokens = self._tokens.pack([e.token for e in entries])
        # A set this store has not numbered yet is numbered in the transaction below.
        entry_params = (
            None
            if tokens.pending
            else [_entry_params(e, t) for e, t in zip(entries, tokens.values, strict=True)]
        )
        node_params = _node_params(entries, nodes)
        head_params = list(heads.values())
        opening_rows = opening_params(entries)
        salt_rows = loan_salt_params(loan_salts)
        map_rows = list(map_blocks)
        counts = count_rows(entries)
        checkpoint_params = [
            (checkpoint.size, checkpoint.root, checkpoint.note, to_us(datetime.now(UTC)))
        ]

        def write() -> None:
            with self._write_lock, self._writer.transaction() as conn:
                entry_rows = entry_params
                if entry_rows is None:
                    values = self._tokens.number(conn, tokens)
                    entry_rows = [_entry_params(e, t) for e, t in zip(entries, values, strict=True)]
                for table, rows in (
                    (_ENTRIES, entry_rows),
                    (_NODES, node_params),
                    (_CHECKPOINTS, checkpoint_params),
                    (OPENINGS, opening_rows),
                    (LOAN_SALTS, salt_rows),
                    (LOAN_MAP_BLOCKS, map_rows),
                ):
                    if rows:  # an empty list would run the statement once, unbound
                        conn.exec_driver_sql(self._insert_sql[table.name], rows)
                if head_params:
                    conn.exec_driver_sql(self._upsert_heads_sql, head_params)
                if counts:
                    self.upsert_counts(conn, counts)
                for hook in hooks:
                    hook.write(conn, entries)

        hooks = tuple(self._batch_hooks)
        self._guard(write)
        self._tokens.committed(tokens)
        for hook in hooks:
            hook.committed(entries)

    def add_batch_hook(self, hook: BatchHook) -> None:
        """Have ``hook`` write its rows in every batch's transaction and hear of every
        durable batch (see :mod:`gateway.store.hooks`)."""
        self._batch_hooks.append(hook)

    # ---------------------------------------------------------------- reading

    def _nodes_sql(self, shape: tuple[int, ...]) -> str:
        """The node read for IN lists of these lengths, one per level (cached by shape).

        Plain SQL with bound parameters: building the SQLAlchemy expression for a
        proof's ~20 terms cost over a millisecond, thirty times the query itself.
        """
        sql = self._node_reads.get(shape)
        if sql is None:
            mark = self._mark
            terms = " OR ".join(
                f"(level = {mark} AND idx IN ({', '.join([mark] * n)}))" for n in shape
            )
            sql = f"SELECT level, idx, hash FROM {_NODES.name} WHERE {terms}"
            if len(self._node_reads) >= 4096:
                self._node_reads.clear()
            self._node_reads[shape] = sql
        return sql

    def _driver_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows (tuples) of one plain-SQL read in the driver's paramstyle."""
        return self._driver_reads([(sql, params)])[0]

    def _driver_reads(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """The rows (tuples) of each plain-SQL read, in order, on one pooled connection.

        The hot reads bypass SQLAlchemy's Connection and result objects (about 190 µs a
        statement, against about 12 µs through the driver): each statement goes to the
        DBAPI cursor and comes back with ``fetchall``. The engine's
        ``before_cursor_execute`` listeners still hear of each one (the query plan
        tests capture statements there), with no Connection or context.

        Snapshots: a single statement sees one snapshot on its own (SQLite runs it in
        its own implicit transaction, as the driver opens none: ``isolation_level``
        None; PostgreSQL in the transaction psycopg opens), so it needs no BEGIN. Several
        statements are one read and must see one snapshot: SQLite then runs them in one
        explicit transaction (its snapshot starts at the first read), PostgreSQL in one
        REPEATABLE READ transaction (READ COMMITTED would give each statement its own).
        Returning the connection to the pool rolls that transaction back.
        """

        def run() -> list[list[Any]]:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                try:
                    if len(statements) > 1:
                        cursor.execute(self._snapshot_sql)
                    listeners = self._engine.dispatch.before_cursor_execute
                    out: list[list[Any]] = []
                    for sql, params in statements:
                        for listen in listeners:
                            listen(None, cursor, sql, params, None, False)
                        cursor.execute(sql, params)
                        out.append(list(cursor.fetchall()))
                    return out
                finally:
                    cursor.close()
            finally:
                raw.close()

        return self._guard(run)

    def _write(self, fn: Callable[[Any], None]) -> None:
        """Run ``fn(connection)`` in one write transaction of the writer."""

        def run() -> None:
            with self._write_lock, self._writer.transaction() as conn:
                fn(conn)

        self._guard(run)

    def _rows(self, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
        """The rows of ``stmt`` (with the values of its bound ``params``, if any)."""

        def run() -> list[Any]:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt, params))

        return self._guard(run)

    def get_entry(self, entry_id: str, scope: ReadScope | None = None) -> StoredEntry | None:
        seen = visible_sql(scope, self._mark)
        if seen is None:  # a court's scope: its search of the shares
            stmt = select(_ENTRIES).where(_ENTRIES.c.entry_id == entry_id, visible(scope))
            rows = self._rows(stmt)
        else:
            cond, params = seen
            sql = f"{_SELECT_ENTRIES} WHERE entry_id = {self._mark}{cond}"
            rows = self._driver_rows(sql, (entry_id, *params))
        return _entry(rows[0], self._tokens) if rows else None

    def get_entries(self, entry_ids: Iterable[str]) -> dict[str, StoredEntry]:
        ids = sorted(set(entry_ids))
        m = self._mark
        statements = [
            (f"{_SELECT_ENTRIES} WHERE entry_id IN ({', '.join([m] * len(chunk))})", tuple(chunk))
            for chunk in _chunks(ids)
        ]
        out: dict[str, StoredEntry] = {}
        for rows in self._driver_reads(statements) if statements else []:
            for row in rows:
                e = _entry(row, self._tokens)
                out[e.entry_id] = e
        return out

    def find_by_digest(
        self,
        hash_algorithm: str,
        digest: bytes,
        limit: int,
        after_index: int = -1,
        scope: ReadScope | None = None,
    ) -> list[StoredEntry]:
        _int64(limit=limit, after_index=after_index)
        rows = self._digest_rows(
            _ALL_COLUMNS, hash_algorithm, digest, (">", after_index), limit, scope
        )
        return [_entry(r, self._tokens) for r in rows]

    def entry_ids_by_digest(
        self,
        hash_algorithm: str,
        digest: bytes,
        limit: int,
        below: int,
        scope: ReadScope | None = None,
    ) -> list[str]:
        _int64(limit=limit, below=below)
        rows = self._digest_rows(
            ("entry_id", "leaf_index"), hash_algorithm, digest, ("<", below), limit, scope
        )
        return [r[0] for r in rows]

    def _digest_rows(
        self,
        columns: Sequence[str],
        hash_algorithm: str,
        digest: bytes,
        position: tuple[str, int],
        limit: int,
        scope: ReadScope | None,
    ) -> list[Any]:
        """The first ``limit`` rows (``columns``, by leaf index) with this digest and
        ``leaf_index <op> value`` that ``scope`` may read: a court's search starts from
        its shares (:meth:`shared_rows`), the operator's reads its own partial index
        (:meth:`operator_rows`), any other is one query with :func:`visible`."""
        if scope is not None and scope.kind is ScopeKind.SHARED:
            return self.shared_rows(columns, hash_algorithm, digest, position, limit, scope)
        if scope is not None and scope.kind is ScopeKind.OPERATOR_RECORDS:
            return self.operator_rows(columns, hash_algorithm, digest, position, limit)
        op, value = comparison(position)
        cond, params = self._plain_visibility(scope)
        m = self._mark
        sql = (
            f"SELECT {', '.join(columns)} FROM {_ENTRIES.name} "
            f"WHERE hash_algorithm = {m} AND digest = {m} AND leaf_index {op} {m}{cond} "
            f"ORDER BY leaf_index LIMIT {m}"
        )
        return self._driver_rows(sql, (hash_algorithm, digest, value, *params, limit))

    def _plain_visibility(self, scope: ReadScope | None) -> tuple[str, tuple[Any, ...]]:
        """The ``AND ...`` condition and parameters of what ``scope`` may read, as plain SQL
        (:func:`visible_sql`). A court's scope has none: its reads start from its shares
        (``shared_rows``, ``shared_loan_rows``), which the callers take first."""
        seen = visible_sql(scope, self._mark)
        if seen is None:  # pragma: no cover - the callers sent a court's scope elsewhere
            raise ValueError(f"no plain-SQL visibility for scope {scope}")
        return seen

    def list_by_loan(
        self,
        owner: str,
        loan_ref: str,
        after_sequence: int,
        limit: int,
        scope: ReadScope | None = None,
    ) -> list[StoredEntry]:
        _int64(after_sequence=after_sequence, limit=limit)
        if scope is not None and scope.kind is ScopeKind.SHARED:
            rows = self.shared_loan_rows(owner, loan_ref, after_sequence, limit, scope)
            return [_entry(r, self._tokens) for r in rows]
        if scope is not None and scope.kind is ScopeKind.OWNER and owner != scope.institution:
            return []  # another lender's loan: nothing to read, whatever it holds
        operator = scope is not None and scope.kind is ScopeKind.OPERATOR_RECORDS
        if operator and loan_ref != INSTITUTIONS_LOAN:
            return []  # a loan: the operator reads none, whatever it holds
        cond, params = self._plain_visibility(scope)
        m = self._mark
        sql = (
            f"{_SELECT_ENTRIES} WHERE owner = {m} AND loan_ref = {m}{cond} "
            f"AND loan_sequence > {m} ORDER BY loan_sequence LIMIT {m}"
        )
        rows = self._driver_rows(sql, (owner, loan_ref, *params, after_sequence, limit))
        return [_entry(r, self._tokens) for r in rows]

    def loan_head(self, owner: str, loan_ref: str) -> LoanHead | None:
        return self.loan_heads([(owner, loan_ref)]).get((owner, loan_ref))

    def loan_heads(self, loans: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LoanHead]:
        c = _HEADS.c
        out: dict[tuple[str, str], LoanHead] = {}
        for owner, chunk in _by_first(loans):
            stmt = select(_HEADS).where(c.owner == owner, c.loan_ref.in_(chunk))
            for row in self._rows(stmt):
                m = row._mapping
                out[(m["owner"], m["loan_ref"])] = LoanHead(
                    owner=m["owner"],
                    loan_ref=m["loan_ref"],
                    sequence=m["sequence"],
                    leaf_hash=bytes(m["leaf_hash"]),
                    leaf_index=m["leaf_index"],
                )
        return out

    def entry_by_request(self, institution: str, request_id: str) -> StoredEntry | None:
        return self.entries_by_requests([(institution, request_id)]).get((institution, request_id))

    def entries_by_requests(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredEntry]:
        c = _ENTRIES.c
        out: dict[tuple[str, str], StoredEntry] = {}
        for institution, chunk in _by_first(keys):
            stmt = select(_ENTRIES).where(c.institution == institution, c.request_id.in_(chunk))
            for row in self._rows(stmt):
                e = _entry(row, self._tokens)
                out[(e.submission.institution, e.submission.request_id)] = e
        return out

    def superseded_by(
        self, entry_ids: Iterable[str], scope: ReadScope | None = None
    ) -> dict[str, tuple[str, ...]]:
        ids = sorted(set(entry_ids))
        if scope is not None and scope.kind is ScopeKind.OPERATOR_RECORDS:
            # The operator reads only records of registry changes, which the gateway writes
            # without supersedes: none of them supersedes anything, so there is none to read.
            return {i: () for i in ids}
        c = _ENTRIES.c
        found: dict[str, list[str]] = {i: [] for i in ids}
        seen = visible_sql(scope, self._mark)
        if seen is None:  # a court's scope: its search of the shares
            for chunk in _chunks(ids):
                stmt = (
                    select(c.supersedes, c.entry_id)
                    .where(c.supersedes.is_not(None), c.supersedes.in_(chunk), visible(scope))
                    .order_by(c.leaf_index)
                )
                for old, new in self._rows(stmt):
                    found[old].append(new)
        elif ids:
            # `supersedes IS NOT NULL` names the partial index ix_entries_supersedes.
            cond, params = seen
            m = self._mark
            statements = [
                (
                    f"SELECT supersedes, entry_id FROM {_ENTRIES.name} WHERE supersedes IS NOT "
                    f"NULL AND supersedes IN ({', '.join([m] * len(chunk))}){cond} "
                    "ORDER BY leaf_index",
                    (*chunk, *params),
                )
                for chunk in _chunks(ids)
            ]
            for rows in self._driver_reads(statements):
                for old, new in rows:
                    found[old].append(new)
        return {k: tuple(v) for k, v in found.items()}

    def get_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        wanted = list(dict.fromkeys(ids))
        for level, idx in wanted:
            _int64(level=level, index=idx)
        statements = []
        # The leaves' hashes (level 0) are the entries' leaf_hash: read there (a new
        # database stores them nowhere else, see _node_params; an earlier version's
        # nodes rows of level 0 hold the same hashes and are not read).
        m = self._mark
        for leaves in _chunks([idx for level, idx in wanted if level == 0]):
            marks = ", ".join([m] * len(leaves))
            statements.append((_LEAF_NODES_SQL.format(marks=marks), tuple(leaves)))
        for chunk in _chunks([i for i in wanted if i[0] != 0]):
            # One IN list per level, OR-ed: both planners search the primary key once per
            # term. (SQLite scans the whole table for a row-value `(level, idx) IN (...)`.)
            by_level: dict[int, list[int]] = {}
            for level, idx in chunk:
                by_level.setdefault(level, []).append(idx)
            sql = self._nodes_sql(tuple(len(idxs) for idxs in by_level.values()))
            params = tuple(v for level, idxs in by_level.items() for v in (level, *idxs))
            statements.append((sql, params))
        # All chunks on one connection, in one snapshot (a dossier's ~14,000 nodes: 28).
        got: dict[NodeID, bytes] = {
            (level, idx): bytes(h)
            for rows in (self._driver_reads(statements) if statements else [])
            for level, idx, h in rows
        }
        try:
            return [got[i] for i in ids]
        except KeyError as exc:
            raise MissingNodeError(f"node {exc.args[0]} is not stored") from None

    def _checkpoint(self, sql: str, params: tuple[Any, ...]) -> StoredCheckpoint | None:
        rows = self._driver_rows(sql, params)
        if not rows:
            return None
        size, root, note = rows[0]
        return StoredCheckpoint(size=size, root=bytes(root), note=note)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpoint(_LATEST_CHECKPOINT, ())

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        _int64(size=size)
        sql = f"SELECT size, root, note FROM {_CHECKPOINTS.name} WHERE size = {self._mark}"
        return self._checkpoint(sql, (size,))

    def checkpoints_from(self, from_size: int, limit: int) -> list[StoredCheckpoint]:
        _int64(from_size=from_size, limit=limit)
        c = _CHECKPOINTS.c
        stmt = (
            select(c.size, c.root, c.note).where(c.size >= from_size).order_by(c.size).limit(limit)
        )
        return [
            StoredCheckpoint(size=size, root=bytes(root), note=note)
            for size, root, note in self._rows(stmt)
        ]

    def entries_range(self, start: int, end: int) -> list[tuple[int, bytes]]:
        _int64(start=start, end=end)
        c = _ENTRIES.c
        stmt = (
            select(c.leaf_index, c.leaf)
            .where(c.leaf_index >= start, c.leaf_index < end)
            .order_by(c.leaf_index)
        )
        return [(i, bytes(leaf)) for i, leaf in self._rows(stmt)]

    def leaf_index_by_hash(self, leaf_hash: bytes) -> int | None:
        c = _ENTRIES.c
        rows = self._rows(select(c.leaf_index).where(c.leaf_hash == leaf_hash))
        return int(rows[0][0]) if rows else None

    def ping(self) -> bool:
        """The database answers, and this store may still write (its writer lock holds)."""
        with self._write_lock:
            if not self._writer.check():
                return False
        try:
            self._rows(text("SELECT 1"))
        except StoreError:
            return False
        return True


def _create_missing_indexes(engine: Engine) -> None:
    """Indexes a later version added to a table an earlier version created
    (``create_all`` makes only missing tables, with their indexes)."""
    with engine.begin() as conn:
        for table in _TABLES:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN (below) open transactions, not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        # A group commit dirties a page per entry in each random-key index: with
        # SQLite's defaults (2 MB of cache, a checkpoint once the WAL passes 1,000
        # pages) every commit of 500 entries re-read index pages from the OS and ran a
        # checkpoint (copy back and fsync of the database file). A larger cache and WAL
        # make a checkpoint every few commits, each page copied once for all of them.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
        # A WAL that grew past its usual size (the checkpointing thread fell behind, up
        # to SQLITE_WAL_BOUND_PAGES) is cut back to this when it starts over, instead of
        # keeping its largest size on disk for good.
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def _postgres_connect_args(
    query: Any, connect_timeout: float, statement_timeout: float, lock_timeout: float
) -> dict[str, Any]:
    """libpq arguments with the default time-outs; those of the URL's query win.

    Ours go first in ``options``: for a setting given twice, PostgreSQL keeps
    the last, i.e. the URL's.
    """
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = max(1, round(connect_timeout))
    ours = (
        f"-c statement_timeout={round(statement_timeout * 1000)} "
        f"-c lock_timeout={round(lock_timeout * 1000)}"
    )
    theirs = query.get("options")
    if isinstance(theirs, tuple):
        theirs = " ".join(theirs)
    args["options"] = f"{ours} {theirs}" if theirs else ours
    return args


def _configure_postgres(engine: Engine, schema: str | None) -> None:
    """Per connection: durable commits whatever the server's defaults, and the schema."""
    if schema is not None and not schema.replace("_", "").isalnum():
        raise ValueError(f"schema name {schema!r} must be letters, digits and underscores")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # "Durable before acknowledge" must not depend on the role's or the URL's defaults.
        cursor.execute("SET synchronous_commit = on")
        if schema is not None:
            cursor.execute(f"SET search_path TO {schema}")
        cursor.close()
        dbapi_connection.commit()

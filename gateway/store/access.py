"""The SQL of authorization: read scopes as query conditions, grants, daily counts.

:func:`visible` turns a :class:`~gateway.authz.policy.ReadScope` into a
condition on the ``entries`` table, so that every record query takes the
caller's visibility in the query itself (no filtering afterwards; pages hold
``limit`` visible records and their tokens stay right):

* a lender sees the records of the loans it owns (``owner``);
* a collection agency sees what it submitted (``institution``);
* a court or arbitration body sees the records of a loan shared with it, while
  a share of that loan is in force, and the owner's delegations of all its
  loans (loan_ref ``:all-loans``) while it holds a share in force of any loan
  of that owner; of the share records (``loan_shared``, ``share_revoked``)
  only those naming it as grantee (the ``grantee`` column);
* the operator (admin) sees the records of registry changes (loan_ref
  ``:institutions``, whichever admin recorded them), and no loan's records;
* any other role sees nothing.

For a court or arbitration body, the digest searches and the loan listing
start from its shares (:meth:`AccessQueries.shared_rows`,
:meth:`AccessQueries.share_in_force`), so their work depends on its shares
and on what they show it, never on records it cannot see.

:class:`AccessQueries` is mixed into :class:`gateway.store.sql.SqlStore`: the
grant tables (``delegations``, ``shares``) and the regulator's
``daily_counts``, kept by each commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.authz.policy import Delegation, ReadScope, ScopeKind
from gateway.model import (
    ALL_LOANS,
    CASE_KINDS,
    GRANT_KINDS,
    INSTITUTIONS_LOAN,
    EvidenceKind,
    Submission,
)
from gateway.store.base import DayCount, StoredEntry, StoredGrant
from gateway.store.tables import (
    DailyCountRow,
    DelegationRow,
    EntryRow,
    GrantRequestRow,
    ShareRow,
    metadata,
)

__all__ = [
    "ACCESS_TABLES",
    "AccessQueries",
    "comparison",
    "count_rows",
    "entry_grantee",
    "visible",
    "visible_sql",
]

_ENTRIES = metadata.tables[str(EntryRow.__tablename__)]
_DELEGATIONS = metadata.tables[str(DelegationRow.__tablename__)]
_SHARES = metadata.tables[str(ShareRow.__tablename__)]
_COUNTS = metadata.tables[str(DailyCountRow.__tablename__)]
_GRANT_REQUESTS = metadata.tables[str(GrantRequestRow.__tablename__)]
ACCESS_TABLES = [_DELEGATIONS, _SHARES, _COUNTS, _GRANT_REQUESTS]
_GRANT_TABLES = {"delegations": _DELEGATIONS, "shares": _SHARES}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_IN_CHUNK = 500  # loan_refs per IN (...) of one shared-loans search
#: Records a court or arbitration body reads only when they name it (``grantee``): the
#: share records, and the records of judicial cases' events (a case's body is their
#: ``grantee``: one court does not see another's case on the same loan).
_SHARE_KINDS = (
    str(EvidenceKind.LOAN_SHARED),
    str(EvidenceKind.SHARE_REVOKED),
    *sorted(str(k) for k in CASE_KINDS),
)

T = TypeVar("T")


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def entry_grantee(s: Submission) -> str | None:
    """The ``grantee`` column of a record: whom a grant record names (its metadata
    ``grantee``), the body of a case event's record (its metadata ``body``), None for any
    other record."""
    if s.kind in CASE_KINDS:
        return dict(s.metadata).get("body")
    if s.kind not in GRANT_KINDS:
        return None
    return dict(s.metadata).get("grantee")


#: Grant table -> the kind of the records that revoke its grants.
_REVOKED_BY = {
    "delegations": str(EvidenceKind.DELEGATION_REVOKED),
    "shares": str(EvidenceKind.SHARE_REVOKED),
}


def _revoked_after(conn: Any, table: str, grant: StoredGrant) -> int | None:
    """When the log first records, after ``grant``'s own record, a revocation that
    covers it (of its loan or of all loans) of the same owner and grantee: the grant
    is ended then (None: no such revocation).

    It reads the records of the loan and of the owner's all-loans chain (the
    ``(owner, loan_ref)`` indexes), only for a grant not yet in its table: a first
    call or the retry of one whose table write failed. A grant of all loans is ended
    by a later revocation of all loans only, as :meth:`AccessQueries.revoke_grants`
    ends it (a revocation of named loans is refused while it is in force)."""
    e = _ENTRIES.c
    cond = and_(
        e.owner == grant.owner,
        e.loan_ref.in_(sorted({grant.loan_ref, ALL_LOANS})),
        e.kind == _REVOKED_BY[table],
        e.grantee == grant.grantee,
        e.leaf_index > grant.leaf_index,
    )
    found = conn.execute(select(func.min(e.received_at_us)).where(cond)).scalar()
    return None if found is None else int(found)


def _shares_in_force(scope: ReadScope) -> ColumnElement[bool]:
    """The shares to the scope's institution in force at its time (``ix_shares_grantee``)."""
    s = _SHARES.c
    return and_(
        s.grantee == scope.institution,
        s.expires_at_us > _us(scope.at),
        s.revoked_at_us.is_(None),
    )


def _names_caller(scope: ReadScope) -> ColumnElement[bool]:
    """Of the share records and case event records, only those naming the caller: who
    else a lender shared a loan with, or filed a case with, is that lender's business."""
    c = _ENTRIES.c
    return or_(c.kind.not_in(_SHARE_KINDS), c.grantee == scope.institution)


def visible(scope: ReadScope | None) -> ColumnElement[bool]:
    """The condition on ``entries`` rows that ``scope`` may read (None: every row)."""
    c = _ENTRIES.c
    if scope is None:
        return true()
    if scope.kind is ScopeKind.OWNER:
        return c.owner == scope.institution
    if scope.kind is ScopeKind.SUBMITTER:
        return c.institution == scope.institution
    if scope.kind is ScopeKind.SHARED:
        s = _SHARES.c
        loan = exists().where(_shares_in_force(scope), s.owner == c.owner, s.loan_ref == c.loan_ref)
        any_loan = exists().where(_shares_in_force(scope), s.owner == c.owner)
        return and_(
            or_(loan, and_(c.loan_ref == ALL_LOANS, any_loan)),
            _names_caller(scope),
        )
    if scope.kind is ScopeKind.OPERATOR_RECORDS:
        # Only the gateway records under this loan_ref (clients and grants may not). Its
        # digest searches go through AccessQueries.operator_rows.
        return c.loan_ref == INSTITUTIONS_LOAN
    return false()


def visible_sql(scope: ReadScope | None, mark: str) -> tuple[str, tuple[Any, ...]] | None:
    """:func:`visible` as plain SQL for the store's driver reads: ``" AND <condition>"``
    (empty for every row) and its parameters, in the paramstyle of ``mark``. None for a
    court's or arbitration body's scope, whose search of the shares stays :func:`visible`'s."""
    if scope is None:
        return "", ()
    if scope.kind is ScopeKind.OWNER:
        return f" AND owner = {mark}", (scope.institution,)
    if scope.kind is ScopeKind.SUBMITTER:
        return f" AND institution = {mark}", (scope.institution,)
    if scope.kind is ScopeKind.OPERATOR_RECORDS:
        return f" AND loan_ref = {mark}", (INSTITUTIONS_LOAN,)
    if scope.kind is ScopeKind.SHARED:
        return None
    return " AND 1 = 0", ()


def comparison(position: tuple[str, int]) -> tuple[str, int]:
    """``position`` of a digest search, ``(">", after)`` or ``("<", below)``, checked
    (its operator goes into SQL text)."""
    op, value = position
    if op not in ("<", ">"):
        raise ValueError(f"position must compare with < or >, not {op!r}")
    return op, value


def count_rows(entries: Sequence[StoredEntry]) -> list[dict[str, Any]]:
    """The ``daily_counts`` increments of one commit."""
    counts: dict[tuple[int, str, str], int] = {}
    for e in entries:
        key = (_us(e.received_at) // _DAY_US, e.submission.institution, str(e.submission.kind))
        counts[key] = counts.get(key, 0) + 1
    return [
        {"day": day, "institution": institution, "kind": kind, "count": n}
        for (day, institution, kind), n in sorted(counts.items())
    ]


class AccessQueries:
    """Grants and counts on the SQL store (mixed into SqlStore, which provides these)."""

    _dialect: str
    _mark: str  # the driver's positional parameter
    _rows: Callable[[Any], list[Any]]
    _write: Callable[[Callable[[Any], None]], None]
    read: Callable[[Callable[[Any], Any]], Any]

    # ------------------------------------------------ reads of a court or arbitration body

    def shared_loans(self, scope: ReadScope) -> dict[str, list[str]]:
        """The loans shared with the scope's institution in force, by owner (sorted), each
        owner's with :data:`~gateway.model.ALL_LOANS` (its delegations of all loans).

        One search of ``ix_shares_grantee``: it reads the caller's own shares only."""
        s = _SHARES.c
        stmt = (
            select(s.owner, s.loan_ref)
            .where(_shares_in_force(scope))
            .distinct()
            .order_by(s.owner, s.loan_ref)
        )
        loans: dict[str, list[str]] = {}
        for owner, loan_ref in self._rows(stmt):
            refs = loans.setdefault(owner, [ALL_LOANS])
            if loan_ref != ALL_LOANS:  # never shared by name (a reserved loan_ref)
                refs.append(loan_ref)
        return loans

    def share_in_force(self, scope: ReadScope, owner: str, loan_ref: str) -> bool:
        """Whether the scope's institution may read the loan ``(owner, loan_ref)``: a
        share of it in force (of any loan of ``owner`` for ALL_LOANS). One index probe."""
        s = _SHARES.c
        cond = and_(_shares_in_force(scope), s.owner == owner)
        if loan_ref != ALL_LOANS:
            cond = and_(cond, s.loan_ref == loan_ref)
        return bool(self._rows(select(s.entry_id).where(cond).limit(1)))

    def shared_rows(
        self,
        columns: Sequence[str],
        hash_algorithm: str,
        digest: bytes,
        position: tuple[str, int],
        limit: int,
        scope: ReadScope,
    ) -> list[Any]:
        """The first ``limit`` rows (by leaf index) of ``entries`` with this digest and
        ``leaf_index <op> value`` (``position``: ``(">", after)`` or ``("<", below)``)
        that the court or arbitration body of ``scope`` may read.

        It starts from the caller's shares: one search of ``ix_entries_loan_digest``
        per owner (and per 500 loans), restricted to the loans that owner shares with
        the caller. It never reads the owner's other loans, so its work depends on the
        caller's shares and what they show it, not on what it cannot see. Plain SQL:
        on SQLite it names the index (``INDEXED BY``), which the planner would
        otherwise trade for ``ix_entries_owner_digest`` (already in leaf order, and
        holding every loan of the owner). ``columns`` must hold ``leaf_index``.
        """
        op, value = comparison(position)
        m = self._mark
        hint = " INDEXED BY ix_entries_loan_digest" if self._dialect == "sqlite" else ""
        statements = []
        for owner, refs in self.shared_loans(scope).items():
            for start in range(0, len(refs), _IN_CHUNK):
                chunk = refs[start : start + _IN_CHUNK]
                sql = (
                    f"SELECT {', '.join(columns)} FROM {_ENTRIES.name}{hint} "
                    f"WHERE owner = {m} AND loan_ref IN ({', '.join([m] * len(chunk))}) "
                    f"AND hash_algorithm = {m} AND digest = {m} AND leaf_index {op} {m} "
                    f"AND (kind NOT IN ({', '.join([m] * len(_SHARE_KINDS))}) OR grantee = {m}) "
                    f"ORDER BY leaf_index LIMIT {m}"
                )
                params = (
                    owner,
                    *chunk,
                    hash_algorithm,
                    digest,
                    value,
                    *_SHARE_KINDS,
                    scope.institution,
                    limit,
                )
                statements.append((sql, params))
        if not statements:
            return []

        def run(conn: Any) -> list[Any]:
            return [row for sql, params in statements for row in conn.exec_driver_sql(sql, params)]

        rows: list[Any] = self.read(run)
        rows.sort(key=lambda row: row._mapping["leaf_index"])
        return rows[:limit]

    def operator_rows(
        self,
        columns: Sequence[str],
        hash_algorithm: str,
        digest: bytes,
        position: tuple[str, int],
        limit: int,
    ) -> list[Any]:
        """The first ``limit`` rows (by leaf index) of the operator's records of registry
        changes with this digest and ``leaf_index <op> value`` (as :meth:`shared_rows`).

        One search of the partial index ``ix_entries_operator_digest``, which holds
        those records only: it reads no loan's record with the digest. Plain SQL, to
        name the index on SQLite (``INDEXED BY``), whose planner would as soon take
        ``ix_entries_digest`` (and read every record with the digest); the loan_ref is
        a literal, so PostgreSQL's planner may use the partial index too.
        """
        op, value = comparison(position)
        m = self._mark
        hint = " INDEXED BY ix_entries_operator_digest" if self._dialect == "sqlite" else ""
        sql = (
            f"SELECT {', '.join(columns)} FROM {_ENTRIES.name}{hint} "
            f"WHERE hash_algorithm = {m} AND digest = {m} AND leaf_index {op} {m} "
            f"AND loan_ref = '{INSTITUTIONS_LOAN}' ORDER BY leaf_index LIMIT {m}"
        )
        params = (hash_algorithm, digest, value, limit)
        rows: list[Any] = self.read(lambda conn: list(conn.exec_driver_sql(sql, params)))
        return rows

    def shared_loan_rows(
        self, owner: str, loan_ref: str, after_sequence: int, limit: int, scope: ReadScope
    ) -> list[Any]:
        """The records of a loan after ``after_sequence`` that the court or arbitration body
        of ``scope`` may read, ascending: the share is checked first, and the loan read
        only if it is in force (a loan not shared costs one probe of the caller's shares)."""
        if not self.share_in_force(scope, owner, loan_ref):
            return []
        c = _ENTRIES.c
        stmt = (
            select(_ENTRIES)
            .where(c.owner == owner, c.loan_ref == loan_ref, c.loan_sequence > after_sequence)
            .where(_names_caller(scope))
            .order_by(c.loan_sequence)
            .limit(limit)
        )
        return self._rows(stmt)

    # ------------------------------------------------------------------------ grants

    def upsert_counts(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Add one commit's counts (inside its transaction)."""
        insert: Any = sqlite.insert if self._dialect == "sqlite" else postgresql.insert
        stmt = insert(_COUNTS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "institution", "kind"],
            set_={"count": _COUNTS.c.count + stmt.excluded.count},
        )
        conn.execute(stmt, rows)

    def claim_grant_request(self, owner: str, request_id: str, fingerprint: bytes) -> bytes:
        c = _GRANT_REQUESTS.c
        insert: Any = sqlite.insert if self._dialect == "sqlite" else postgresql.insert
        stmt = insert(_GRANT_REQUESTS).on_conflict_do_nothing(
            index_elements=["owner", "request_id"]
        )
        kept = [fingerprint]

        def run(conn: Any) -> None:
            conn.execute(
                stmt, {"owner": owner, "request_id": request_id, "fingerprint": fingerprint}
            )
            found = conn.execute(
                select(c.fingerprint).where(c.owner == owner, c.request_id == request_id)
            ).scalar_one()
            kept[0] = bytes(found)

        self._write(run)
        return kept[0]

    def add_grants(self, table: str, grants: Sequence[StoredGrant]) -> None:
        target = _GRANT_TABLES[table]
        other = "collector" if table == "delegations" else "grantee"
        if not grants:
            return
        insert: Any = sqlite.insert if self._dialect == "sqlite" else postgresql.insert
        stmt = insert(target).on_conflict_do_nothing(index_elements=["entry_id"])

        def run(conn: Any) -> None:
            known = {
                entry_id
                for (entry_id,) in conn.execute(
                    select(target.c.entry_id).where(
                        target.c.entry_id.in_([g.entry_id for g in grants])
                    )
                )
            }
            rows = [
                {
                    "entry_id": g.entry_id,
                    "owner": g.owner,
                    other: g.grantee,
                    "loan_ref": g.loan_ref,
                    "expires_at_us": _us(g.expires_at),
                    "revoked_at_us": _revoked_after(conn, table, g),
                }
                for g in grants
                if g.entry_id not in known  # a retried call's grant stays as it is
            ]
            if rows:
                conn.execute(stmt, rows)

        # Through the one writer, as every revocation: a revocation's record is either
        # committed before this reads the log, or its grant-table change comes after this.
        self._write(run)

    def revoke_grants(
        self,
        table: str,
        owner: str,
        grantee: str,
        revocations: Sequence[tuple[str, int]],
        at: datetime,
    ) -> int:
        target = _GRANT_TABLES[table]
        c = target.c
        who = c.collector if table == "delegations" else c.grantee
        e = _ENTRIES.c
        ended = [0]

        def run(conn: Any) -> None:
            for loan_ref, leaf_index in revocations:
                recorded_before = exists().where(
                    e.entry_id == c.entry_id, e.leaf_index < leaf_index
                )
                cond = and_(
                    c.owner == owner, who == grantee, c.revoked_at_us.is_(None), recorded_before
                )
                if loan_ref != ALL_LOANS:
                    cond = and_(cond, c.loan_ref == loan_ref)
                stmt = update(target).where(cond).values(revoked_at_us=_us(at))
                ended[0] += conn.execute(stmt).rowcount

        self._write(run)
        return ended[0]

    def delegations(
        self, collector: str, owner: str, loan_refs: Iterable[str], at: datetime
    ) -> list[Delegation]:
        c = _DELEGATIONS.c
        wanted = sorted({*loan_refs, ALL_LOANS})
        stmt = select(c.owner, c.collector, c.loan_ref, c.expires_at_us).where(
            c.collector == collector,
            c.owner == owner,
            c.loan_ref.in_(wanted),
            c.expires_at_us > _us(at),
            c.revoked_at_us.is_(None),
        )
        return [
            Delegation(
                owner=o,
                collector=k,
                loan_ref=None if loan == ALL_LOANS else loan,
                expires_at=_EPOCH + timedelta(microseconds=expires),
            )
            for o, k, loan, expires in self._rows(stmt)
        ]

    def day_counts(
        self, first_day: int, last_day: int, after: tuple[int, str, str] | None, limit: int
    ) -> list[DayCount]:
        c = _COUNTS.c
        stmt = select(c.day, c.institution, c.kind, c.count).where(
            c.day >= first_day, c.day <= last_day
        )
        if after is not None:  # keyset: a row value, which both databases seek in the key
            from sqlalchemy import tuple_

            stmt = stmt.where(tuple_(c.day, c.institution, c.kind) > tuple_(*after))
        stmt = stmt.order_by(c.day, c.institution, c.kind).limit(limit)
        return [DayCount(d, i, k, n) for d, i, k, n in self._rows(stmt)]

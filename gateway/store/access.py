"""The SQL of authorization: read scopes as query conditions, grants, daily counts.

:func:`visible` turns a :class:`~gateway.authz.policy.ReadScope` into a
condition on the ``entries`` table, so that every record query takes the
caller's visibility in the query itself (no filtering afterwards; pages hold
``limit`` visible records and their tokens stay right):

* a lender sees the records of the loans it owns (``owner``);
* a collection agency sees what it submitted (``institution``);
* a court or arbitration body sees the records of a loan shared with it, while
  a share of that loan is in force (an ``EXISTS`` on ``shares``, searched by
  ``ix_shares_grantee``);
* any other role sees nothing.

:class:`AccessQueries` is mixed into :class:`gateway.store.sql.SqlStore`: the
grant tables (``delegations``, ``shares``) and the regulator's
``daily_counts``, kept by each commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, exists, false, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.authz.policy import Delegation, ReadScope, ScopeKind
from gateway.model import ALL_LOANS
from gateway.store.base import DayCount, StoredEntry, StoredGrant
from gateway.store.tables import DailyCountRow, DelegationRow, EntryRow, ShareRow, metadata

__all__ = ["ACCESS_TABLES", "AccessQueries", "count_rows", "visible"]

_ENTRIES = metadata.tables[str(EntryRow.__tablename__)]
_DELEGATIONS = metadata.tables[str(DelegationRow.__tablename__)]
_SHARES = metadata.tables[str(ShareRow.__tablename__)]
_COUNTS = metadata.tables[str(DailyCountRow.__tablename__)]
ACCESS_TABLES = [_DELEGATIONS, _SHARES, _COUNTS]
_GRANT_TABLES = {"delegations": _DELEGATIONS, "shares": _SHARES}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000

T = TypeVar("T")


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


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
        return exists().where(
            s.grantee == scope.institution,
            s.owner == c.owner,
            s.loan_ref == c.loan_ref,
            s.expires_at_us > _us(scope.at),
            s.revoked_at_us.is_(None),
        )
    return false()


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
    _rows: Callable[[Any], list[Any]]
    _write: Callable[[Callable[[Any], None]], None]

    def upsert_counts(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Add one commit's counts (inside its transaction)."""
        insert: Any = sqlite.insert if self._dialect == "sqlite" else postgresql.insert
        stmt = insert(_COUNTS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "institution", "kind"],
            set_={"count": _COUNTS.c.count + stmt.excluded.count},
        )
        conn.execute(stmt, rows)

    def add_grants(self, table: str, grants: Sequence[StoredGrant]) -> None:
        target = _GRANT_TABLES[table]
        other = "collector" if table == "delegations" else "grantee"
        rows = [
            {
                "entry_id": g.entry_id,
                "owner": g.owner,
                other: g.grantee,
                "loan_ref": g.loan_ref,
                "expires_at_us": _us(g.expires_at),
                "revoked_at_us": None,
            }
            for g in grants
        ]
        if not rows:
            return
        insert: Any = sqlite.insert if self._dialect == "sqlite" else postgresql.insert
        stmt = insert(target).on_conflict_do_nothing(index_elements=["entry_id"])
        self._write(lambda conn: conn.execute(stmt, rows))

    def revoke_grants(
        self, table: str, owner: str, grantee: str, loan_refs: Sequence[str] | None, at: datetime
    ) -> int:
        target = _GRANT_TABLES[table]
        c = target.c
        who = c.collector if table == "delegations" else c.grantee
        cond = and_(c.owner == owner, who == grantee, c.revoked_at_us.is_(None))
        if loan_refs is not None:
            cond = and_(cond, c.loan_ref.in_(list(loan_refs)))
        ended = [0]

        def run(conn: Any) -> None:
            stmt = update(target).where(cond).values(revoked_at_us=_us(at))
            ended[0] = conn.execute(stmt).rowcount

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

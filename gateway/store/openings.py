"""The SQL store's part for version 2 leaves: the openings and the loans' secret salts.

Kept apart from :mod:`gateway.store.sql` (which it extends, as a mixin of
:class:`gateway.store.sql.SqlStore`) so that each module stays small. Every
query here is a primary-key search (``openings`` by leaf index, ``loan_salts``
by loan).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from gateway.store.base import LoanSalt, StoredEntry, StoredOpening
from gateway.store.tables import LoanSaltRow, OpeningRow, metadata

__all__ = [
    "LOAN_SALTS",
    "LOAN_SALT_COLUMNS",
    "OPENINGS",
    "OPENING_COLUMNS",
    "OpeningReads",
    "loan_salt_params",
    "opening_params",
]

OPENINGS = metadata.tables[str(OpeningRow.__tablename__)]
LOAN_SALTS = metadata.tables[str(LoanSaltRow.__tablename__)]
OPENING_COLUMNS = ("leaf_index", "owner", "submitter", "record_salt", "loan_salt")
LOAN_SALT_COLUMNS = ("owner", "loan_ref", "salt")
_IN_CHUNK = 500  # bound on parameters per IN (...) query


def opening_params(entries: Sequence[StoredEntry]) -> list[tuple[Any, ...]]:
    """The ``openings`` rows of the entries that have one (version 2), in column order."""
    return [
        (e.leaf_index, o.owner, o.submitter, o.record_salt, o.loan_salt)
        for e in entries
        if (o := e.opening) is not None
    ]


def loan_salt_params(salts: Sequence[LoanSalt]) -> list[tuple[Any, ...]]:
    """The ``loan_salts`` rows, in column order."""
    return [(s.owner, s.loan_ref, s.salt) for s in salts]


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


class OpeningReads:
    """:meth:`Store.loan_salts` and :meth:`Store.openings` on SQL (mixed into SqlStore)."""

    def _rows(self, stmt: Any) -> list[Any]:  # pragma: no cover - SqlStore's
        raise NotImplementedError

    def loan_salts(self, loans: Iterable[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        c = LOAN_SALTS.c
        groups: dict[str, set[str]] = {}
        for owner, loan_ref in loans:
            groups.setdefault(owner, set()).add(loan_ref)
        out: dict[tuple[str, str], bytes] = {}
        for owner, refs in sorted(groups.items()):
            for chunk in _chunks(sorted(refs)):
                stmt = select(c.owner, c.loan_ref, c.salt).where(
                    c.owner == owner, c.loan_ref.in_(chunk)
                )
                for o, ref, salt in self._rows(stmt):
                    out[(o, ref)] = bytes(salt)
        return out

    def openings(self, leaf_indexes: Iterable[int]) -> dict[int, StoredOpening]:
        c = OPENINGS.c
        out: dict[int, StoredOpening] = {}
        for chunk in _chunks(sorted(set(leaf_indexes))):
            stmt = select(OPENINGS).where(c.leaf_index.in_(chunk))
            for row in self._rows(stmt):
                m = row._mapping
                out[m["leaf_index"]] = StoredOpening(
                    owner=m["owner"],
                    submitter=m["submitter"],
                    record_salt=bytes(m["record_salt"]),
                    loan_salt=bytes(m["loan_salt"]),
                )
        return out

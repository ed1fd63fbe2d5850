"""The SQL store's part for version 2 leaves: the openings and the loans' secret salts.

Kept apart from :mod:`gateway.store.sql` (which it extends, as a mixin of
:class:`gateway.store.sql.SqlStore`) so that each module stays small. Every
query here is a primary-key search (``openings`` by leaf index, ``loan_salts``
by loan).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

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

    _mark: str

    def _driver_reads(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[Any]]:  # pragma: no cover - SqlStore's
        raise NotImplementedError

    def loan_salts(self, loans: Iterable[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        groups: dict[str, set[str]] = {}
        for owner, loan_ref in loans:
            groups.setdefault(owner, set()).add(loan_ref)
        m = self._mark
        statements = [
            (
                f"SELECT owner, loan_ref, salt FROM {LOAN_SALTS.name} "
                f"WHERE owner = {m} AND loan_ref IN ({', '.join([m] * len(chunk))})",
                (owner, *chunk),
            )
            for owner, refs in sorted(groups.items())
            for chunk in _chunks(sorted(refs))
        ]
        out: dict[tuple[str, str], bytes] = {}
        for rows in self._driver_reads(statements) if statements else []:
            for o, ref, salt in rows:
                out[(o, ref)] = bytes(salt)
        return out

    def openings(self, leaf_indexes: Iterable[int]) -> dict[int, StoredOpening]:
        m = self._mark
        statements = [
            (
                f"SELECT {', '.join(OPENING_COLUMNS)} FROM {OPENINGS.name} "
                f"WHERE leaf_index IN ({', '.join([m] * len(chunk))})",
                tuple(chunk),
            )
            for chunk in _chunks(sorted(set(leaf_indexes)))
        ]
        out: dict[int, StoredOpening] = {}
        for rows in self._driver_reads(statements) if statements else []:
            for leaf_index, owner, submitter, record_salt, loan_salt in rows:
                out[leaf_index] = StoredOpening(
                    owner=owner,
                    submitter=submitter,
                    record_salt=bytes(record_salt),
                    loan_salt=bytes(loan_salt),
                )
        return out

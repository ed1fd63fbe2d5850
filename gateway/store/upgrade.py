"""Bring a database made by an earlier version to the current layout of ``entries``.

Earlier versions keyed a loan by the submitting institution: ``entries`` had
no ``owner`` column and ``loan_heads`` was keyed by ``institution``. Every
record of such a database was its submitter's own, so its owner is its
institution. :func:`upgrade` (run when a store opens, in one transaction;
nothing happens on a database that has the columns) adds ``entries.owner``
filled from ``institution``, a unique index ``uq_entries_owner_chain`` on
``(owner, loan_ref, loan_sequence)`` (the chain key the queries search) and
renames ``loan_heads.institution`` to ``owner``. On PostgreSQL the old chain
key ``uq_entries_chain`` on ``(institution, ...)`` is dropped; SQLite cannot
drop a table's constraint, so an upgraded SQLite file keeps it: there, one
collection agency cannot write the same sequence number of two lenders'
loans that share a loan_ref (the commit fails whole and is retried; a new
database has no such key).

A database made before the ``grantee`` column (whom a grant record names; a
court reads only the share records naming it) gets the column, filled from
the metadata of its grant records (one pass over ``entries``, once).

A database made before the loan map has no ``loan_map_blocks`` table: it is
created empty when the store opens (``create_all`` makes missing tables), and
the ledger, finding a latest checkpoint without a ``loan-map/v1`` line, builds
the map from the stored version 2 leaves and writes all of it with its next
checkpoint, the first to carry the line (:mod:`gateway.log.loanmap`,
``docs/loan-map.md``). Nothing is rewritten: older checkpoints keep their text.

An ``anchors`` table made before anchors kept their signed transaction gets
the columns ``raw_tx``, ``gas_price``, ``earlier_tx_hashes`` and
``signed_at_us`` (empty: its rows are judged as before, and not replaced).

A database made before tokens were stored without their certificates
(:mod:`gateway.store.token_sets`) has no ``token_certificate_sets`` table and
whole tokens in ``entries.token``: the table is created empty when the store
opens, the old rows are read as they are (a whole token is told from a
stripped one by its first octet, :mod:`gateway.store.token_pack`) and never
rewritten, and new rows are stored stripped beside them. The other way does
not work: an earlier version would read a stripped token as it is stored.

A database made before stripped tokens were deflated against a template has no
``token_templates`` table: it is created empty when the store opens, its
certificate sets get their template from their next token, and its rows (whole or
stripped, not deflated) are read as they are and never rewritten.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Engine, inspect, text

from gateway.model import GRANT_KINDS

__all__ = ["upgrade"]

log = logging.getLogger(__name__)


def upgrade(engine: Engine) -> bool:
    """Upgrade an earlier version's layout in place; returns whether anything changed."""
    tables = inspect(engine)
    names = tables.get_table_names()
    changed = False
    if "anchors" in names:
        changed = _anchor_transactions(engine, {c["name"] for c in tables.get_columns("anchors")})
    if "entries" not in names:
        return changed
    entries = {c["name"] for c in tables.get_columns("entries")}
    heads = {c["name"] for c in tables.get_columns("loan_heads")}
    changed = _owner_keyed(engine, entries, heads) or changed
    if "grantee" not in entries:
        _add_grantee(engine)
        changed = True
    return changed


_ANCHOR_COLUMNS = {
    "raw_tx": "BYTEA",
    "gas_price": "BIGINT",
    "earlier_tx_hashes": "BYTEA",
    "signed_at_us": "BIGINT",
}


def _anchor_transactions(engine: Engine, columns: set[str]) -> bool:
    missing = [c for c in _ANCHOR_COLUMNS if c not in columns]
    if not missing:
        return False
    log.warning("store: adding %s to anchors (one time)", ", ".join(missing))
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for name in missing:
            kind = _ANCHOR_COLUMNS[name]
            if not postgres and kind == "BYTEA":
                kind = "BLOB"
            conn.exec_driver_sql(f"ALTER TABLE anchors ADD COLUMN {name} {kind}")
    return True


def _owner_keyed(engine: Engine, entries: set[str], heads: set[str]) -> bool:
    if "owner" in entries and "owner" in heads:
        return False
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        run: Any = conn.exec_driver_sql
        if "owner" not in entries:
            log.warning("store: upgrading entries to owner-keyed loans (one time)")
            run("ALTER TABLE entries ADD COLUMN owner VARCHAR(128)")
            run("UPDATE entries SET owner = institution")
            if postgres:
                run("ALTER TABLE entries ALTER COLUMN owner SET NOT NULL")
                run("ALTER TABLE entries DROP CONSTRAINT IF EXISTS uq_entries_chain")
            run(
                "CREATE UNIQUE INDEX uq_entries_owner_chain "
                "ON entries (owner, loan_ref, loan_sequence)"
            )
        if "owner" not in heads:
            run("ALTER TABLE loan_heads RENAME COLUMN institution TO owner")
    return True


def _add_grantee(engine: Engine) -> None:
    """Add ``entries.grantee`` and fill it from each grant record's metadata."""
    log.warning("store: adding entries.grantee, filled from the grant records (one time)")
    kinds = ", ".join(f"'{k.value}'" for k in sorted(GRANT_KINDS))
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE entries ADD COLUMN grantee VARCHAR(128)")
        found = conn.exec_driver_sql(
            f"SELECT leaf_index, metadata_json FROM entries WHERE kind IN ({kinds})"
        )
        rows = [
            {"i": index, "g": grantee}
            for index, metadata in found
            if (grantee := dict(json.loads(metadata)).get("grantee")) is not None
        ]
        if rows:
            conn.execute(text("UPDATE entries SET grantee = :g WHERE leaf_index = :i"), rows)

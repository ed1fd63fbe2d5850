"""The SQL store's part for tokens: each certificate set stored once, each token without it.

:meth:`gateway.store.sql.SqlStore.append_batch` hands a batch's tokens to
:meth:`TokenColumn.pack`, which cuts each token's certificate set out
(:func:`gateway.store.token_pack.strip`; a token it cannot give back exactly
stays whole) and names the set by its number in ``token_certificate_sets``.
A set this process has not seen is found by its SHA-256, or inserted, in the
batch's own transaction (:meth:`TokenColumn.number`); its number is remembered
once that transaction commits. Reading (:meth:`TokenColumn.token`) splices the
set back: the token read is byte for byte the token written.

Rows written before this existed hold whole tokens, or stripped tokens not
deflated, and are read as they are; nothing is rewritten. The caches hold at
most :data:`MAX_CACHED` sets (a gateway's TSAs have a handful); past that they
start again empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from court.der import DerError
from gateway.store import token_pack
from gateway.store.base import StoreError
from gateway.store.tables import TokenCertificateSetRow, TokenTemplateRow, metadata

__all__ = ["MAX_CACHED", "TOKEN_SETS", "TOKEN_TEMPLATES", "PackedTokens", "TokenColumn"]

TOKEN_SETS = metadata.tables[str(TokenCertificateSetRow.__tablename__)]
TOKEN_TEMPLATES = metadata.tables[str(TokenTemplateRow.__tablename__)]
#: Most certificate sets each cache of a store holds.
MAX_CACHED: Final = 256

Rows = Callable[[str, tuple[Any, ...]], list[Any]]


@dataclass
class PackedTokens:
    """A batch's ``entries.token`` values; ``pending`` maps a row's position to the
    certificate set that still needs a number or a template (its value is the
    stripped token)."""

    values: list[bytes]
    pending: dict[int, bytes] = field(default_factory=dict)
    numbered: dict[bytes, int] = field(default_factory=dict)
    templates: dict[int, bytes] = field(default_factory=dict)


def _value(stripped: bytes, number: int, template: bytes) -> bytes:
    """The column value of a stripped token of set ``number``: deflated against the
    set's template, or as it is when that is not shorter."""
    data = token_pack.deflate(stripped, template)
    if data is None:
        return token_pack.encode(stripped, number)
    return token_pack.encode(data, number, deflated=True)


class TokenColumn:
    """Tokens into and out of ``entries.token`` for one store (see the module doc)."""

    def __init__(self, mark: str, rows: Rows) -> None:
        self._mark = mark
        self._rows = rows  # a read outside any transaction (SqlStore._driver_rows)
        self._ids: dict[bytes, int] = {}  # certificate set -> number, committed ones only
        self._sets: dict[int, bytes] = {}  # number -> certificate set
        self._templates: dict[int, bytes] = {}  # number -> template, committed ones only
        t, tt = TOKEN_SETS.name, TOKEN_TEMPLATES.name
        self._insert = (
            f"INSERT INTO {t} (sha256, certificates) VALUES ({mark}, {mark}) "
            "ON CONFLICT (sha256) DO NOTHING"
        )
        self._by_sha256 = f"SELECT id, certificates FROM {t} WHERE sha256 = {mark}"
        self._insert_template = (
            f"INSERT INTO {tt} (set_id, template) VALUES ({mark}, {mark}) "
            "ON CONFLICT (set_id) DO NOTHING"
        )
        self._template_of = f"SELECT template FROM {tt} WHERE set_id = {mark}"
        self._by_id = (
            f"SELECT s.certificates, p.template FROM {t} s "
            f"LEFT JOIN {tt} p ON p.set_id = s.id WHERE s.id = {mark}"
        )

    # ---------------------------------------------------------------- writing

    def pack(self, tokens: Sequence[bytes]) -> PackedTokens:
        """The column values of ``tokens``, in order; tokens whose set has no number or
        no template yet are pending."""
        packed = PackedTokens([])
        values = packed.values
        ids, templates = self._ids, self._templates
        for token in tokens:
            cut = token_pack.strip(token)
            if cut is None:
                values.append(token_pack.encode(token))
                continue
            stripped, certificates = cut
            number = ids.get(certificates)
            template = None if number is None else templates.get(number)
            if number is None or template is None:
                packed.pending[len(values)] = certificates
                values.append(stripped)
            else:
                values.append(_value(stripped, number, template))
        return packed

    def number(self, conn: Any, packed: PackedTokens) -> list[bytes]:
        """The values with every pending set numbered and given its template, in the
        batch's transaction ``conn``: found (by SHA-256, by number), or inserted; a
        set's template is the first of its tokens stored after it has none."""
        firsts: dict[bytes, bytes] = {}  # certificate set -> the batch's first stripped token
        for position, certificates in packed.pending.items():
            firsts.setdefault(certificates, packed.values[position])
        for certificates, first in firsts.items():
            number = self._ids.get(certificates)
            if number is None:
                digest = hashlib.sha256(certificates).digest()
                conn.exec_driver_sql(self._insert, (digest, certificates))
                ((found, stored),) = list(conn.exec_driver_sql(self._by_sha256, (digest,)))
                if bytes(stored) != certificates:
                    raise ValueError(
                        "token_certificate_sets holds other certificates for a SHA-256"
                    )
                number = int(found)
            packed.numbered[certificates] = number
            template = self._templates.get(number)
            if template is None:
                conn.exec_driver_sql(self._insert_template, (number, first))
                ((kept,),) = list(conn.exec_driver_sql(self._template_of, (number,)))
                template = bytes(kept)
            packed.templates[number] = template
        values = list(packed.values)
        for position, certificates in packed.pending.items():
            number = packed.numbered[certificates]
            values[position] = _value(values[position], number, packed.templates[number])
        return values

    def committed(self, packed: PackedTokens) -> None:
        """Remember the numbers and templates of ``packed``'s sets: their transaction
        has committed."""
        for certificates, number in packed.numbered.items():
            self._remember(certificates, number, packed.templates.get(number))

    def _remember(self, certificates: bytes, number: int, template: bytes | None) -> None:
        if len(self._ids) >= MAX_CACHED or len(self._sets) >= MAX_CACHED:
            self._ids.clear()
            self._sets.clear()
            self._templates.clear()
        self._ids[certificates] = number
        self._sets[number] = certificates
        if template is not None:
            self._templates[number] = template

    # ---------------------------------------------------------------- reading

    def token(self, leaf_index: int, stored: bytes) -> bytes:
        """The token of entry ``leaf_index`` from its column value; StoreError if the
        value is malformed or names a set (or a set's template) that is not stored."""
        try:
            number, body, deflated = token_pack.decode(stored)
            if number is None:
                return body
            certificates = self._sets.get(number)
            template = self._templates.get(number) if deflated else None
            if certificates is None or (deflated and template is None):
                found = self._rows(self._by_id, (number,))
                if not found:
                    raise StoreError(
                        f"the stored token of entry {leaf_index} names certificate set "
                        f"{number}, which is not in the database"
                    )
                certificates = bytes(found[0][0])
                template = None if found[0][1] is None else bytes(found[0][1])
                if deflated and template is None:
                    raise StoreError(
                        f"the stored token of entry {leaf_index} is deflated against the "
                        f"template of certificate set {number}, which is not in the database"
                    )
                self._remember(certificates, number, template)
            if deflated:
                assert template is not None
                body = token_pack.inflate(body, template)
            return token_pack.splice(body, certificates)
        except DerError as exc:
            raise StoreError(
                f"the stored token of entry {leaf_index} is malformed ({exc})"
            ) from None

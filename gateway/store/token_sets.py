"""The SQL store's part for tokens: each certificate set stored once, each token without it.

:meth:`gateway.store.sql.SqlStore.append_batch` hands a batch's tokens to
:meth:`TokenColumn.pack`, which cuts each token's certificate set out
(:func:`gateway.store.token_pack.strip`; a token it cannot give back exactly
stays whole) and names the set by its number in ``token_certificate_sets``.
A set this process has not seen is found by its SHA-256, or inserted, in the
batch's own transaction (:meth:`TokenColumn.number`); its number is remembered
once that transaction commits. Reading (:meth:`TokenColumn.token`) splices the
set back: the token read is byte for byte the token written.

Rows written before this existed hold whole tokens and are read as they are;
nothing is rewritten. Both caches hold at most :data:`MAX_CACHED` sets (a
gateway's TSAs have a handful); past that they start again empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from court.der import DerError
from gateway.store import token_pack
from gateway.store.base import StoreError
from gateway.store.tables import TokenCertificateSetRow, metadata

__all__ = ["MAX_CACHED", "TOKEN_SETS", "PackedTokens", "TokenColumn"]

TOKEN_SETS = metadata.tables[str(TokenCertificateSetRow.__tablename__)]
#: Most certificate sets each cache of a store holds.
MAX_CACHED: Final = 256

Rows = Callable[[str, tuple[Any, ...]], list[Any]]


@dataclass
class PackedTokens:
    """A batch's ``entries.token`` values; ``pending`` maps a row's position to the
    certificate set that still needs a number (its value is the stripped token)."""

    values: list[bytes]
    pending: dict[int, bytes] = field(default_factory=dict)
    numbered: dict[bytes, int] = field(default_factory=dict)


class TokenColumn:
    """Tokens into and out of ``entries.token`` for one store (see the module doc)."""

    def __init__(self, mark: str, rows: Rows) -> None:
        self._mark = mark
        self._rows = rows  # a read outside any transaction (SqlStore._driver_rows)
        self._ids: dict[bytes, int] = {}  # certificate set -> number, committed ones only
        self._sets: dict[int, bytes] = {}  # number -> certificate set
        t = TOKEN_SETS.name
        self._insert = (
            f"INSERT INTO {t} (sha256, certificates) VALUES ({mark}, {mark}) "
            "ON CONFLICT (sha256) DO NOTHING"
        )
        self._by_sha256 = f"SELECT id, certificates FROM {t} WHERE sha256 = {mark}"
        self._by_id = f"SELECT certificates FROM {t} WHERE id = {mark}"

    # ---------------------------------------------------------------- writing

    def pack(self, tokens: Sequence[bytes]) -> PackedTokens:
        """The column values of ``tokens``, in order; sets not numbered yet are pending."""
        packed = PackedTokens([])
        values = packed.values
        for token in tokens:
            cut = token_pack.strip(token)
            if cut is None:
                values.append(token_pack.encode(token))
                continue
            stripped, certificates = cut
            number = self._ids.get(certificates)
            if number is None:
                packed.pending[len(values)] = certificates
                values.append(stripped)
            else:
                values.append(token_pack.encode(stripped, number))
        return packed

    def number(self, conn: Any, packed: PackedTokens) -> list[bytes]:
        """The values with every pending set numbered, in the batch's transaction
        ``conn``: found by its SHA-256, or inserted."""
        for certificates in dict.fromkeys(packed.pending.values()):
            digest = hashlib.sha256(certificates).digest()
            conn.exec_driver_sql(self._insert, (digest, certificates))
            ((number, stored),) = list(conn.exec_driver_sql(self._by_sha256, (digest,)))
            if bytes(stored) != certificates:
                raise ValueError("token_certificate_sets holds other certificates for a SHA-256")
            packed.numbered[certificates] = int(number)
        values = list(packed.values)
        for position, certificates in packed.pending.items():
            values[position] = token_pack.encode(values[position], packed.numbered[certificates])
        return values

    def committed(self, packed: PackedTokens) -> None:
        """Remember the numbers of ``packed``'s sets: their transaction has committed."""
        for certificates, number in packed.numbered.items():
            self._remember(certificates, number)

    def _remember(self, certificates: bytes, number: int) -> None:
        if len(self._ids) >= MAX_CACHED or len(self._sets) >= MAX_CACHED:
            self._ids.clear()
            self._sets.clear()
        self._ids[certificates] = number
        self._sets[number] = certificates

    # ---------------------------------------------------------------- reading

    def token(self, leaf_index: int, stored: bytes) -> bytes:
        """The token of entry ``leaf_index`` from its column value; StoreError if the
        value is malformed or names a set that is not stored."""
        try:
            number, body = token_pack.decode(stored)
            if number is None:
                return body
            certificates = self._sets.get(number)
            if certificates is None:
                found = self._rows(self._by_id, (number,))
                if not found:
                    raise StoreError(
                        f"the stored token of entry {leaf_index} names certificate set "
                        f"{number}, which is not in the database"
                    )
                certificates = bytes(found[0][0])
                self._remember(certificates, number)
            return token_pack.splice(body, certificates)
        except DerError as exc:
            raise StoreError(
                f"the stored token of entry {leaf_index} is malformed ({exc})"
            ) from None

"""The ledger's two stages outlive any failure of one batch, even a BaseException.

A BaseException that is not an Exception (a CancelledError, a SystemExit or a
library's own) raised while a batch is prepared (the token source) or committed
(the store) once ended that stage's thread: every later submission then waited
for ever. Each such batch is now answered with UNAVAILABLE and the next is served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import GatewayError, Unavailable
from gateway.store.sql import SqlStore
from tests.support.ledger_env import Env, sub
from tests.support.ledger_faults import FailingTsa, FaultyStore


class Boom(BaseException):
    """Not an Exception: ``except Exception`` lets it through."""


@pytest.fixture
def env(pki_p256: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(pki_p256, tmp_path)
    yield e
    for ledger in list(e.opened):
        e.close(ledger)


class RaisingTsa(FailingTsa):
    """A token source that raises ``raising`` (once) instead of stamping."""

    raising: BaseException | None = None

    def stamp_batch(self, items: Sequence[tuple[str, bytes]]) -> list[bytes | GatewayError]:
        exc, self.raising = self.raising, None
        if exc is not None:
            raise exc
        return super().stamp_batch(items)


class RaisingStore(FaultyStore):
    """A store whose next append raises ``raising`` (once) before writing."""

    raising: BaseException | None = None

    def append_batch(self, *args: Any, **kwargs: Any) -> None:
        exc, self.raising = self.raising, None
        if exc is not None:
            raise exc
        super().append_batch(*args, **kwargs)


def _submit(ledger: Any, items: list[Any]) -> list[Any]:
    async def go() -> list[Any]:
        # A stage that died would leave this waiting for ever: bound it.
        return list(await asyncio.wait_for(ledger.submit(items), 20))

    return asyncio.run(go())


@pytest.mark.parametrize("exc", [Boom("injected"), asyncio.CancelledError(), SystemExit(3)])
def test_a_base_exception_while_preparing_fails_the_batch_only(
    env: Env, exc: BaseException
) -> None:
    tsa = RaisingTsa(env.tsa())
    ledger = env.open(tsa=tsa)
    tsa.raising = exc
    first = _submit(ledger, [sub(1), sub(2)])
    assert all(isinstance(r, Unavailable) for r in first), first
    later = _submit(ledger, [sub(1), sub(3)])
    assert [r.leaf_index for r in later] == [0, 1]
    assert ledger._preparer.is_alive() and ledger._writer.is_alive()


@pytest.mark.parametrize("exc", [Boom("injected"), asyncio.CancelledError(), SystemExit(3)])
def test_a_base_exception_while_committing_fails_the_batch_only(
    env: Env, exc: BaseException
) -> None:
    store = RaisingStore(SqlStore.sqlite(env.db))
    ledger = env.open(store=store)
    store.raising = exc
    first = _submit(ledger, [sub(1), sub(2)])
    assert all(isinstance(r, Unavailable) for r in first), first
    later = _submit(ledger, [sub(1), sub(3)])
    assert [r.leaf_index for r in later] == [0, 1]
    env.check_receipt(sub(3), later[1])
    assert ledger._preparer.is_alive() and ledger._writer.is_alive()

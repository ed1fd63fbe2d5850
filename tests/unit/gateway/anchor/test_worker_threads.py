"""The anchoring worker's threads: one per chain, so a slow node holds only its own chain;
stop() ends the chain requests under way; a step that crashes is logged once and backed off.

Fake stores and clients here; the real chain client appears against a hostile node
(tests/support/hostile_node.py) that trickles its answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable
from gateway.anchor.worker import AnchorWorker, WorkerChain
from tests.support.anvil import wait_for
from tests.support.hostile_node import HostileNode


class _Store:
    """An empty log: each step reads the chain's pending anchors (counted) and stops there."""

    def __init__(self) -> None:
        self.polls: Counter[str] = Counter()

    def latest_anchor(self, chain_name: str, confirmed_only: bool = True) -> None:
        return None

    def pending_anchors(self, chain_name: str) -> list[Any]:
        self.polls[chain_name] += 1
        return []

    def latest_checkpoint(self) -> None:
        return None


class _Client:
    """A chain node whose ``chain_id`` answers, blocks until the client is aborted, or fails."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.calls = 0
        self.abort: threading.Event | None = None

    def abort_on(self, event: threading.Event | None) -> None:
        self.abort = event

    def chain_id(self) -> int:
        self.calls += 1
        if self.behaviour == "blocks":  # a request under way, until stop() ends it
            assert self.abort is not None and self.abort.wait(60), "never aborted"
            raise ChainUnavailable("the request was abandoned: the client is stopping")
        if self.behaviour == "crashes":
            raise RuntimeError("an unexpected failure")
        return 7

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the step should not call {name}")


def _worker(store: _Store, clients: dict[str, Any], **options: Any) -> AnchorWorker:
    chains = [WorkerChain(name, client, 7, "0x" + "11" * 20) for name, client in clients.items()]
    return AnchorWorker(
        store,  # type: ignore[arg-type]
        b"\x01" * 32,
        chains,
        interval_seconds=60.0,
        min_new_entries=1,
        confirmations=1,
        max_lag_seconds=600.0,
        poll_seconds=0.01,
        unavailable=(ChainUnavailable,),
        refused=(ChainError,),
        **options,
    )


@pytest.fixture
def trickling() -> Iterator[HostileNode]:
    def body() -> Iterator[bytes]:
        for _ in range(600):
            time.sleep(0.1)
            yield b" "

    node = HostileNode(body)
    yield node
    node.close()


def test_a_blocked_chain_does_not_hold_the_others_and_stop_ends_it() -> None:
    store = _Store()
    slow, quick = _Client("blocks"), _Client("answers")
    worker = _worker(store, {"slow": slow, "quick": quick})
    worker.start()
    try:
        wait_for(lambda: store.polls["quick"] >= 5, what="steps on the quick chain")
        assert slow.calls == 1 and store.polls["slow"] == 0  # still in its first request
    finally:
        worker.stop(timeout=30)
    assert not any(t.is_alive() for t in worker._threads)
    assert worker.chains[0].error == "", "a request ended by stop() is not a chain down"


def test_stop_ends_a_real_request_to_a_trickling_node(trickling: HostileNode) -> None:
    """The chain client's deadline is 60 s here; stop() does not wait for it."""
    client = ChainClient(trickling.url, timeout=60.0)
    worker = _worker(_Store(), {"trickling": client})
    worker.start()
    try:
        wait_for(lambda: trickling.sent >= 3, what="the answer starting")
    finally:
        worker.stop(timeout=30)
    assert not any(t.is_alive() for t in worker._threads)
    assert trickling.sent < 100


def test_a_crashing_step_is_logged_once_and_backed_off(caplog: pytest.LogCaptureFixture) -> None:
    store = _Store()
    crashing, quick = _Client("crashes"), _Client("answers")
    worker = _worker(store, {"crashing": crashing, "quick": quick}, clock=lambda: 1000.0)
    with caplog.at_level(logging.ERROR, logger="gateway.anchor.worker"):
        worker.start()
        try:
            wait_for(lambda: store.polls["quick"] >= 20, what="steps on the quick chain")
        finally:
            worker.stop(timeout=30)
    assert crashing.calls == 1, "retried before the interval"
    logged = [r for r in caplog.records if "anchoring on crashing failed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert worker.chains[0].error == "RuntimeError: an unexpected failure"
    assert worker.chains[0].next_try == 1030.0  # the interval, at most 30 s

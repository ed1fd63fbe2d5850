"""gateway.server.freeze_start_up_heap: start-up's objects leave the collector's passes,
its garbage does not stay, and what comes later is collected as before."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from gateway.server import freeze_start_up_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_start_up_objects_are_frozen_and_garbage_is_collected_first() -> None:
    kept = _Node()
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle only the collector can free
    gone = weakref.ref(a)
    del a, b
    freeze_start_up_heap()
    assert gone() is None, "start-up garbage was frozen instead of collected"
    assert gc.get_freeze_count() > 0
    tracked = {id(o) for o in gc.get_objects()}
    assert id(kept) not in tracked  # out of every generation the collector walks
    later = _Node()
    later.other = later
    assert id(later) in {id(o) for o in gc.get_objects()}
    dead = weakref.ref(later)
    del later
    gc.collect()
    assert dead() is None  # a cycle made after start-up is still collected

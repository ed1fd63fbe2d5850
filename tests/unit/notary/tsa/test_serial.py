"""Serial numbers stay unique across threads, restarts and concurrent processes."""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from notary.tsa import serial
from notary.tsa.serial import LeasedSerials


def _take(state_dir: str, count: int, block: int, out: multiprocessing.Queue[list[int]]) -> None:
    source = LeasedSerials(Path(state_dir), block_size=block)
    out.put([source.next_serial() for _ in range(count)])


def test_unique_across_concurrent_processes_and_restarts(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[int]] = ctx.Queue()
    seen: list[int] = []
    for _round in range(2):  # the second round is a restart of every process
        workers = [
            ctx.Process(target=_take, args=(str(tmp_path), 3000, 37, queue)) for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for _ in workers:
            seen.extend(queue.get(timeout=60))
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
    assert len(seen) == 2 * 4 * 3000
    assert len(set(seen)) == len(seen), "a serial number was handed out twice"
    epochs = {s >> 64 for s in seen}
    assert len(epochs) == 1  # one state folder, one epoch
    assert all(0 < s < 1 << 128 for s in seen)


def test_unique_across_threads(tmp_path: Path) -> None:
    source = LeasedSerials(tmp_path, block_size=16)
    results: list[list[int]] = [[] for _ in range(8)]

    def work(slot: list[int]) -> None:
        slot.extend(source.next_serial() for _ in range(2000))

    threads = [threading.Thread(target=work, args=(slot,)) for slot in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [s for slot in results for s in slot]
    assert len(set(flat)) == 16000


def test_restart_continues_after_leased_block(tmp_path: Path) -> None:
    first = LeasedSerials(tmp_path, block_size=100)
    a = [first.next_serial() for _ in range(5)]
    second = LeasedSerials(tmp_path, block_size=100)  # "restart": the first block is not reused
    b = second.next_serial()
    assert b > max(a)
    assert (b & ((1 << 64) - 1)) == 101
    state = json.loads((tmp_path / "serial-state.json").read_text())
    assert state["next"] == 201


def test_lost_state_gets_a_new_epoch(tmp_path: Path) -> None:
    old = LeasedSerials(tmp_path).next_serial()
    (tmp_path / "serial-state.json").unlink()
    new = LeasedSerials(tmp_path).next_serial()
    assert old != new
    assert old >> 64 != new >> 64


def _paused_at(step: int, paused: threading.Event, go: threading.Event) -> Any:
    """A trace function that stops its thread before the ``step``-th line of serial.py."""
    lines = 0
    here = serial.__file__

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
            if lines == step:
                paused.set()
                go.wait(10)
        return local

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename == here else None

    return trace


def _interleaved(folder: Path, step: int) -> list[int] | None:
    """Serials of one run: B stopped before its ``step``-th line while A draws 6.

    None when B's call has fewer than ``step`` lines (every stop was tried).
    """
    source = LeasedSerials(folder, block_size=4)
    got = [source.next_serial() for _ in range(4)]  # the first block is used up
    paused, go = threading.Event(), threading.Event()
    trace = _paused_at(step, paused, go)

    def b() -> None:
        sys.settrace(trace)
        try:
            got.append(source.next_serial())
        finally:
            sys.settrace(None)

    b_thread = threading.Thread(target=b)
    b_thread.start()
    while not paused.wait(0.01):
        if not b_thread.is_alive():
            return None
    a_thread = threading.Thread(target=lambda: got.extend(source.next_serial() for _ in range(6)))
    a_thread.start()
    a_thread.join(0.1)  # A may wait for a lock B holds: then it finishes after B
    go.set()
    b_thread.join(5)
    a_thread.join(5)
    assert not a_thread.is_alive() and not b_thread.is_alive()
    assert len(got) == 11
    return got


def test_unique_whatever_the_thread_switch(tmp_path: Path) -> None:
    """Thread B is stopped before each line of its call in turn while thread A leases a block.

    The old code read the counter, then the limit: a number drawn from an
    exhausted block, compared with the limit of the block that another thread
    had just leased, was handed out again.
    """
    step = 1
    while (got := _interleaved(tmp_path / str(step), step)) is not None:
        assert len(set(got)) == len(got), (
            f"a serial was handed out twice (B stopped at line {step})"
        )
        step += 1
    assert step > 3  # B's call was stopped at each of its lines

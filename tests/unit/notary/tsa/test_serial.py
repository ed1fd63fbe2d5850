"""Serial numbers stay unique across threads, restarts and concurrent processes."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

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

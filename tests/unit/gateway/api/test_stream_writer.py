"""The writer of a stream's answers: a write the client does not take ends in time."""

from __future__ import annotations

import asyncio

import pytest

from gateway.api.stream_writer import AnswerWriter, StalledWrite


class _Client:
    """A call's ``write``: it returns at once while ``reading`` is set, else waits."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.reading.set()
        self.written: list[int] = []

    async def write(self, message: int) -> None:
        await self.reading.wait()
        self.written.append(message)


def test_writes_the_client_takes_go_through_however_long_the_stream_lasts() -> None:
    async def scenario() -> list[int]:
        client = _Client()
        writer = AnswerWriter(client.write, 0.05)
        for n in range(10):  # 0.1 s in all: twice the limit, each write at once
            await writer.write(n)
            await asyncio.sleep(0.01)
        client.reading.clear()
        slow = asyncio.create_task(writer.write(10))
        await asyncio.sleep(0.03)  # under the limit: the client reads again in time
        client.reading.set()
        await slow
        writer.close()
        return client.written

    assert asyncio.run(scenario()) == list(range(11))


def test_a_write_the_client_does_not_take_ends_after_the_limit() -> None:
    async def scenario() -> float:
        client = _Client()
        writer = AnswerWriter(client.write, 0.2)
        await writer.write(0)
        await asyncio.sleep(0.3)  # idle longer than the limit: not a stalled write
        client.reading.clear()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(StalledWrite) as stalled:
            await writer.write(1)
        took = loop.time() - started
        assert stalled.value.limit == 0.2
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # the task goes on as usual
        await asyncio.sleep(0)
        writer.close()
        assert client.written == [0]
        return took

    took = asyncio.run(scenario())
    assert 0.2 <= took < 0.2 + 0.2 / 4 + 0.1, took


def test_a_cancelled_call_is_cancelled_not_stalled() -> None:
    async def scenario() -> None:
        client = _Client()
        client.reading.clear()
        writer = AnswerWriter(client.write, 5.0)
        task = asyncio.create_task(writer.write(0))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        writer.close()

    asyncio.run(scenario())


def test_close_stops_the_watcher_and_the_limit_is_checked() -> None:
    async def scenario() -> None:
        writer = AnswerWriter(_Client().write, 1.0)
        await writer.write(0)
        before = len(asyncio.all_tasks())
        writer.close()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) == before - 1  # the watcher is gone

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="must be positive"):
        AnswerWriter(_Client().write, 0)

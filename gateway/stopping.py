"""The gateway process's graceful stop: signals, the grace period, exit codes.

The first SIGTERM or SIGINT drains the server (``drain``: NOT_SERVING, new
calls refused, running ones finished within ``grace`` seconds), then stops it
(``stop``: what is left ended, the anchoring worker stopped, the ledger
closed). A second signal stops the wait at once; a third exits at once. Once
the calls have ended, closing gets ``hard_exit`` seconds before the process
exits anyway. Every receipt already given is durable (the commit precedes
it), so even the abrupt exits lose nothing acknowledged, as after SIGKILL.
See docs/gateway.md ("Stopping the gateway").
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Protocol

__all__ = ["EXIT_FORCED", "Drainable", "exit_after", "serve_until_signalled"]

log = logging.getLogger(__name__)

#: Exit code of a stop that had to end running calls (grace ran out, a second or
#: third signal, or closing took too long); 0 is a stop where every call ended.
EXIT_FORCED = 3
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Drainable(Protocol):
    """What is stopped: :class:`gateway.server.GatewayServer`."""

    async def drain(self, grace: float, hurry: asyncio.Event | None = None) -> bool: ...

    async def stop(self, grace: float = ...) -> None: ...


async def serve_until_signalled(
    server: Drainable, grace: float, hard_exit: float | None, flush: float
) -> bool:
    """Serve until a signal, then stop as the module says; True when every call ended
    on its own within ``grace`` (``flush``: the seconds the last answers get to leave)."""
    stopping, hurry = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not stopping.is_set():
            log.info("%s: stopping gracefully (a second signal stops waiting)", sig.name)
            stopping.set()
        elif not hurry.is_set():
            log.warning("%s again: not waiting for the running calls (a third exits)", sig.name)
            hurry.set()
        else:
            print(f"gateway: {sig.name} a third time: exiting now", file=sys.stderr, flush=True)
            os._exit(EXIT_FORCED)

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    clean = False
    deadline = None
    try:
        await stopping.wait()
        clean = await server.drain(grace, hurry)
    finally:
        if hard_exit is not None:
            deadline = exit_after(hard_exit, EXIT_FORCED)
        try:
            await server.stop(0.0 if hurry.is_set() else flush)
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)
            if deadline is not None:
                deadline.cancel()
    return clean and not hurry.is_set()


def exit_after(seconds: float, code: int) -> threading.Timer:
    """Exit the process with ``code`` in ``seconds`` unless it has ended by then.

    The last resort of a stop that cannot finish (a store or a chain node that
    hangs): every caller has had its status and every receipt given is
    durable. Cancel the timer to disarm it.
    """

    def expire() -> None:
        print(
            f"gateway: could not close within {seconds:g} s after the calls ended; "
            f"exiting now (code {code}); every acknowledged entry is durable",
            file=sys.stderr,
            flush=True,
        )
        os._exit(code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer

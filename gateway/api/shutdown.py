"""Graceful shutdown: the gate that refuses new calls, and the wait for the running ones.

:class:`ShutdownGate` is the server's first interceptor. While the gateway
serves it only counts the API's calls in progress. Once closed
(:meth:`ShutdownGate.close`, on SIGTERM or SIGINT) it answers every new API
call at once with UNAVAILABLE and :data:`REFUSED` (with a RetryInfo), while
the transport still accepts connections: a client gets that clear status, not
a refused connection. Health checks and reflection (``exempt``) pass, so an
orchestrator still reads NOT_SERVING. :meth:`ShutdownGate.wait_idle` returns
once the calls that were running when it closed have all ended (or the grace
period runs out, or the operator asks again).

The whole sequence: :meth:`gateway.server.GatewayServer.drain`,
:mod:`gateway.stopping` and ``docs/gateway.md`` ("Stopping the gateway").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from gateway.api.call_limit import _Limit
from gateway.api.errors import abort
from gateway.errors import Unavailable

__all__ = ["REFUSED", "ShutdownGate"]

log = logging.getLogger(__name__)

#: The status message of a call that arrives once the gateway is stopping.
REFUSED = (
    "the gateway is shutting down and takes no new calls; retry in a few seconds "
    "(another instance of the service, or this one once it has restarted)"
)


class ShutdownGate(_Limit):
    """Counts the API's calls; once closed, refuses new ones with UNAVAILABLE (see module).

    The server runs its handlers on one event loop, so a plain integer counts.
    """

    def __init__(self, exempt: Iterable[str]) -> None:
        super().__init__(exempt)
        self.active = 0
        self.closed = False
        self._changed = asyncio.Event()

    async def _admit(self, context: Any) -> None:
        if self.closed:
            await abort(context, Unavailable(REFUSED))
        self.active += 1

    def _release(self, token: None) -> None:
        self.active -= 1
        self._changed.set()

    def close(self) -> None:
        """Refuse every new API call from now on (calls in progress go on)."""
        self.closed = True
        self._changed.set()

    async def wait_idle(self, timeout: float, hurry: asyncio.Event | None = None) -> bool:
        """Wait until no API call is in progress; at most ``timeout`` seconds, and no
        longer once ``hurry`` is set. True when the calls all ended on their own."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.active:
            if hurry is not None and hurry.is_set():
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            waits = [asyncio.ensure_future(self._changed.wait())]
            if hurry is not None:
                waits.append(asyncio.ensure_future(hurry.wait()))
            try:
                await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter
        return True

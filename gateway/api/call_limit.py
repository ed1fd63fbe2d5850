"""The caps on calls served at once, which health checks and reflection never hit.

grpc.aio's own ``maximum_concurrent_rpcs`` counts every call: once streams
that send nothing fill it, health checks are refused too, and an
orchestrator restarts a gateway that is merely busy. :class:`CallLimit` is a
server interceptor that counts the API's calls only and answers those above
``limit`` with RESOURCE_EXHAUSTED (with a RetryInfo) at once; calls to the
services named in ``exempt`` (``grpc.health.v1.Health``, server reflection)
are neither counted nor refused.

:class:`InstitutionCallLimit` caps the calls of each institution, so that one
(a lender, a collection agency holding idle streams) cannot take every slot
of :class:`CallLimit` and lock the others out. It must run after
:class:`gateway.api.authz.Authorization` (later in the interceptor list),
which identifies the caller; the same services are exempt.

A stream ended because its client does not read it
(:func:`gateway.api.errors.abort_unread`) gives its slot back at once, but
gRPC keeps the call, its status queued behind the unread messages, until the
client cancels it, its deadline passes or its connection closes (up to
``[grpc] max_connection_age_seconds``): tens of kilobytes each. So that one
institution cannot pile up such calls without bound (a slot freed every
``stalled_write_seconds``), :class:`InstitutionCallLimit` counts them too
(``unread``) and refuses the institution's new streams while it has
``limit`` of them; its unary calls are still served.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from gateway.api.caller import current_caller
from gateway.api.errors import abort, unread_status
from gateway.api.intercept import ApiInterceptor
from gateway.api.observe import mark_denied
from gateway.errors import ResourceExhausted

__all__ = ["CallLimit", "InstitutionCallLimit", "per_institution_default", "wrap_handler"]


def per_institution_default(max_concurrent_rpcs: int) -> int:
    """The default cap of one institution: a quarter of all call slots, at least 1."""
    return max(1, max_concurrent_rpcs // 4)


def wrap_handler(
    handler: Any,
    admit: Callable[[Any], Awaitable[Any]],
    release: Callable[[Any], None],
) -> grpc.RpcMethodHandler:
    """``handler`` run between ``token = await admit(context)`` and ``release(token)``
    (when the call ends, however it ends); ``admit`` may end the call instead."""
    kind = (
        ("stream" if handler.request_streaming else "unary")
        + "_"
        + ("stream" if handler.response_streaming else "unary")
    )
    behavior = getattr(handler, kind)

    if handler.response_streaming:

        async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
            token = await admit(context)
            try:
                result = behavior(request, context)
                if inspect.isasyncgen(result):
                    async for response in result:
                        yield response
                else:  # a handler that writes with context.write()
                    await result
            finally:
                release(token)

        wrapped: Callable[..., Any] = streaming
    else:

        async def unary(request: Any, context: Any) -> Any:
            token = await admit(context)
            try:
                return await behavior(request, context)
            finally:
                release(token)

        wrapped = unary
    make = getattr(grpc, f"{kind}_rpc_method_handler")
    return make(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class _Limit(ApiInterceptor):
    """Wraps every handler but the ``exempt`` services' in ``_admit``/``_release``."""

    def _intercept(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return wrap_handler(handler, self._admit, self._release)

    async def _admit(self, context: Any) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _release(self, token: Any) -> None:
        raise NotImplementedError  # pragma: no cover


class CallLimit(_Limit):
    """At most ``limit`` calls at once, except to the ``exempt`` services.

    ``active`` is the number of counted calls in progress, ``peak`` the
    highest it has been. The server runs its handlers on one event loop, so
    plain integers suffice.
    """

    def __init__(self, limit: int, exempt: Iterable[str]) -> None:
        super().__init__(exempt)
        self.limit = limit
        self.active = 0
        self.peak = 0

    async def _admit(self, context: Any) -> None:
        if self.active >= self.limit:
            mark_denied("max_concurrent_rpcs")
            await abort(
                context,
                ResourceExhausted(
                    f"the gateway is serving its maximum of {self.limit:,} calls at once; "
                    "retry with back-off"
                ),
            )
        self.active += 1
        self.peak = max(self.peak, self.active)

    def _release(self, token: None) -> None:
        self.active -= 1


class InstitutionCallLimit(_Limit):
    """At most ``limit`` calls at once of one institution (the caller that
    :class:`~gateway.api.authz.Authorization` identified), except to ``exempt``.

    ``active`` maps each institution with calls in progress to their number;
    ``unread`` each institution with streams ended unread (their status still
    queued in gRPC, see the module's docstring) to theirs: while an institution has
    ``limit`` of those, its new streams are refused.
    """

    def __init__(self, limit: int, exempt: Iterable[str]) -> None:
        super().__init__(exempt)
        self.limit = limit
        self.active: dict[str, int] = {}
        self.unread: dict[str, int] = {}

    def _intercept(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        admit = self._admit_stream if handler.response_streaming else self._admit
        return wrap_handler(handler, admit, self._release)

    async def _refuse(self, context: Any, message: str) -> None:
        mark_denied("max_calls_per_institution")
        await abort(context, ResourceExhausted(message))

    async def _admit_stream(self, context: Any) -> str:
        institution = current_caller().institution
        unread = self.unread.get(institution, 0)
        if unread >= self.limit:
            await self._refuse(
                context,
                f"your institution has {unread:,} streams that the gateway ended because "
                "their client did not read them and whose client has not ended them yet, "
                f"the most one institution may have (max_calls_per_institution = "
                f"{self.limit:,}): read them to their end or cancel them (or close their "
                "connections), then open a new stream",
            )
        return await self._admit(context)

    async def _admit(self, context: Any) -> str:
        institution = current_caller().institution
        held = self.active.get(institution, 0)
        if held >= self.limit:
            await self._refuse(
                context,
                f"your institution has {held:,} call{'' if held == 1 else 's'} in progress, "
                "the most one institution may have at once (max_calls_per_institution = "
                f"{self.limit:,}); end one (e.g. an idle stream) or retry with back-off",
            )
        self.active[institution] = held + 1
        return institution

    def _release(self, token: str) -> None:
        left = self.active[token] - 1
        if left:
            self.active[token] = left
        else:
            del self.active[token]
        pending = unread_status()  # in the call's own task: its status, if left queued
        if pending is not None and not pending.done():
            self.unread[token] = self.unread.get(token, 0) + 1
            pending.add_done_callback(lambda _: self._unread_ended(token))

    def _unread_ended(self, token: str) -> None:
        left = self.unread[token] - 1
        if left:
            self.unread[token] = left
        else:
            del self.unread[token]

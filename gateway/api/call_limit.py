"""The cap on calls served at once, which health checks and reflection never hit.

grpc.aio's own ``maximum_concurrent_rpcs`` counts every call: once streams
that send nothing fill it, health checks are refused too, and an
orchestrator restarts a gateway that is merely busy. :class:`CallLimit` is a
server interceptor that counts the API's calls only and answers those above
``limit`` with RESOURCE_EXHAUSTED (with a RetryInfo) at once; calls to the
services named in ``exempt`` (``grpc.health.v1.Health``, server reflection)
are neither counted nor refused.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from gateway.api.errors import abort
from gateway.errors import ResourceExhausted

__all__ = ["CallLimit"]


class CallLimit(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """At most ``limit`` calls at once, except to the ``exempt`` services.

    ``active`` is the number of counted calls in progress, ``peak`` the
    highest it has been. The server runs its handlers on one event loop, so
    plain integers suffice.
    """

    def __init__(self, limit: int, exempt: Iterable[str]) -> None:
        self.limit = limit
        self.active = 0
        self.peak = 0
        self._exempt = tuple(f"/{service}/" for service in exempt)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(self._exempt):
            return handler
        return self._limited(handler)

    async def _admit(self, context: Any) -> None:
        if self.active >= self.limit:
            await abort(
                context,
                ResourceExhausted(
                    f"the gateway is serving its maximum of {self.limit:,} calls at once; "
                    "retry with back-off"
                ),
            )
        self.active += 1
        self.peak = max(self.peak, self.active)

    def _limited(self, handler: Any) -> grpc.RpcMethodHandler:
        kind = (
            ("stream" if handler.request_streaming else "unary")
            + "_"
            + ("stream" if handler.response_streaming else "unary")
        )
        behavior = getattr(handler, kind)
        limit = self

        if handler.response_streaming:

            async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
                await limit._admit(context)
                try:
                    result = behavior(request, context)
                    if inspect.isasyncgen(result):
                        async for response in result:
                            yield response
                    else:  # a handler that writes with context.write()
                        await result
                finally:
                    limit.active -= 1

            wrapped: Callable[..., Any] = streaming
        else:

            async def unary(request: Any, context: Any) -> Any:
                await limit._admit(context)
                try:
                    return await behavior(request, context)
                finally:
                    limit.active -= 1

            wrapped = unary
        make = getattr(grpc, f"{kind}_rpc_method_handler")
        return make(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

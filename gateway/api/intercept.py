"""The one shape of the gateway's server interceptors: every API call but the exempt
services' (health, reflection) goes through :meth:`ApiInterceptor._intercept`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import grpc

__all__ = ["ApiInterceptor"]


class ApiInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Hands each handler of a non-exempt method to :meth:`_intercept`; passes the others
    (and unknown methods, whose handler is None) through untouched."""

    def __init__(self, exempt: Iterable[str]) -> None:
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
        return self._intercept(handler, method)

    def _intercept(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        raise NotImplementedError  # pragma: no cover

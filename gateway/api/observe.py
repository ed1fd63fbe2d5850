"""The server interceptor that records every API call: request id, metrics, one log line.

It is the first interceptor, so it sees every call the way the caller does,
refusals of the later ones included (the call caps, authorization):

* the **request id**: the caller's ``x-request-id`` header when it is sane
  (1 to 64 characters from ``[A-Za-z0-9._:-]``), else a new random one; it
  is sent back at once as the ``x-request-id`` response header (initial
  metadata, so a caller has it whatever the outcome) and names the call in the
  log;
* when the call ends: its gRPC status code, duration and the caller's role go
  to the :class:`gateway.metrics.Observer` (calls, latency, denials), and one
  line to the logger ``gateway.calls`` (``[logging] calls``) with the request
  id, the institution, the RPC, the code and the duration as fields of the
  record (``gateway.logsetup`` writes them as JSON or text).

Denials are counted by reason: ``unauthenticated`` (UNAUTHENTICATED),
``role`` (the authorization table), ``scope`` (another PERMISSION_DENIED:
a record the caller may not write), ``max_concurrent_rpcs`` and
``max_calls_per_institution`` (the call caps), ``stalled_write`` (a
stream, SubmitEvidenceStream or WatchCases, whose client did not read what
it was sent for ``[stream] stalled_write_seconds``), ``slow_reader`` (a
WatchCases stream whose client read more slowly than its events came: its
queue filled), ``queue_full`` (another RESOURCE_EXHAUSTED: the commit
queue full, say). The interceptors and servicers that refuse say which with
:func:`mark_denied`. Health checks and reflection are not recorded.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc

from gateway.api.caller import current_caller
from gateway.api.intercept import ApiInterceptor
from gateway.metrics import NO_OBSERVER, Observer

__all__ = ["REQUEST_ID_HEADER", "Observe", "current_request_id", "mark_denied", "request_id_of"]

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: The logger of the per-call lines (its records carry the fields below as attributes).
calls_log = logging.getLogger("gateway.calls")


class _Call:
    __slots__ = ("denied", "request_id", "role")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.denied: str | None = None
        self.role: str | None = None  # a refused caller's role, when known


_CURRENT: contextvars.ContextVar[_Call] = contextvars.ContextVar("gateway_call")

_DENIED_BY_CODE = {
    "UNAUTHENTICATED": "unauthenticated",
    "PERMISSION_DENIED": "scope",
    "RESOURCE_EXHAUSTED": "queue_full",
}


def mark_denied(reason: str, role: str | None = None) -> None:
    """Say why the current call is being refused, and the caller's role if it is known
    (an interceptor, before it aborts)."""
    call = _CURRENT.get(None)
    if call is not None:
        call.denied = reason
        call.role = role


def current_request_id() -> str | None:
    """The request id of the call being served, if any."""
    call = _CURRENT.get(None)
    return None if call is None else call.request_id


def request_id_of(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The caller's ``x-request-id`` if sane (bounded, plain characters), else a new one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER:
            if isinstance(value, str) and _SANE_ID.fullmatch(value):
                return value
            break
    return secrets.token_hex(16)


def _code(context: Any) -> str:
    """The status an ending call was given (UNKNOWN: an exception grpc reports as such)."""
    try:
        code = context.code()
    except Exception:  # pragma: no cover - grpc.aio always has code()
        code = None
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN"


def _short(method: str) -> str:
    """``/evidence_gateway.v1.EvidenceService/Get`` -> ``EvidenceService/Get``."""
    service, _, name = method.lstrip("/").partition("/")
    return f"{service.rsplit('.', 1)[-1]}/{name}"


class Observe(ApiInterceptor):
    """Request ids, metrics and the per-call log line (see the module doc)."""

    def __init__(
        self, exempt: Iterable[str], observer: Observer = NO_OBSERVER, *, log_calls: bool = True
    ) -> None:
        super().__init__(exempt)
        self.observer = observer
        self._log_calls = log_calls
        self._names: dict[str, str] = {}

    def _intercept(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        rpc = self._names.get(method)
        if rpc is None:
            rpc = self._names[method] = _short(method)
        return self._wrap(handler, rpc)

    async def _begin(self, context: Any) -> _Call:
        call = _Call(request_id_of(context.invocation_metadata()))
        _CURRENT.set(call)
        await context.send_initial_metadata(((REQUEST_ID_HEADER, call.request_id),))
        return call

    def _end(self, call: _Call, rpc: str, code: str, seconds: float) -> None:
        try:
            caller = current_caller()
        except LookupError:  # refused before authorization admitted it
            institution, role = "", call.role or "none"
        else:
            institution, role = caller.institution, caller.role.value
        denied = call.denied
        if denied is None and code != "OK":
            denied = _DENIED_BY_CODE.get(code)
        self.observer.call(rpc, code, role, seconds, denied)
        if self._log_calls and calls_log.isEnabledFor(logging.INFO):
            ms = round(seconds * 1000, 3)
            calls_log.info(
                "%s %s %.1f ms",
                rpc,
                code,
                ms,
                extra={
                    "request_id": call.request_id,
                    "institution": institution,
                    "role": role,
                    "rpc": rpc,
                    "code": code,
                    "duration_ms": ms,
                },
            )

    def _wrap(self, handler: Any, rpc: str) -> grpc.RpcMethodHandler:
        kind = (
            ("stream" if handler.request_streaming else "unary")
            + "_"
            + ("stream" if handler.response_streaming else "unary")
        )
        behavior = getattr(handler, kind)
        clock = time.perf_counter

        if handler.response_streaming:

            async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
                start = clock()
                call = await self._begin(context)
                code = "OK"
                try:
                    result = behavior(request, context)
                    if hasattr(result, "__aiter__"):
                        async for response in result:
                            yield response
                    else:  # a handler that writes with context.write()
                        await result
                except asyncio.CancelledError:
                    # A stream ended without waiting for its status to be sent (a client
                    # that does not read: errors.abort_unread) is counted with it.
                    code = _code(context) if context.done() else "CANCELLED"
                    raise
                except BaseException:
                    code = _code(context)
                    raise
                finally:
                    self._end(call, rpc, code, clock() - start)

            wrapped: Callable[..., Any] = streaming
        else:

            async def unary(request: Any, context: Any) -> Any:
                start = clock()
                call = await self._begin(context)
                code = "OK"
                try:
                    return await behavior(request, context)
                except asyncio.CancelledError:
                    code = "CANCELLED"
                    raise
                except BaseException:
                    code = _code(context)
                    raise
                finally:
                    self._end(call, rpc, code, clock() - start)

            wrapped = unary
        make = getattr(grpc, f"{kind}_rpc_method_handler")
        return make(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

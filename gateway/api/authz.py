"""The one server interceptor that enforces the authorization table.

For every call to the API (health checks and reflection excepted) it runs the
resolver (context, method -> :class:`~gateway.authz.roles.Caller`, or
UNAUTHENTICATED, which the resolver has logged), looks the RPC and the caller's role up in
:data:`gateway.authz.policy.POLICY`, and either ends the call with
PERMISSION_DENIED (logged with caller, RPC and reason) or makes the Caller the
call's :func:`gateway.api.caller.current_caller` and lets the servicer run.
The object rules (which loans and records) are then applied by the servicers
and the store, from the Caller.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from typing import Any

import grpc

from gateway.api.call_limit import wrap_handler
from gateway.api.caller import Resolver, Unauthenticated, set_current_caller
from gateway.api.errors import abort
from gateway.api.intercept import ApiInterceptor
from gateway.api.observe import mark_denied
from gateway.authz.policy import decide
from gateway.authz.roles import Caller
from gateway.errors import GatewayError, PermissionDenied

__all__ = ["Authorization"]

log = logging.getLogger(__name__)


class Authorization(ApiInterceptor):
    """Resolve the caller and check the table before any servicer runs."""

    def __init__(self, resolver: Resolver, exempt: Iterable[str]) -> None:
        super().__init__(exempt)
        self._resolve = resolver
        #: Calls denied so far (PERMISSION_DENIED or UNAUTHENTICATED).
        self.denied = 0

    def _intercept(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return self._guarded(handler, method)

    async def _admit(self, method: str, context: Any) -> None:
        """Resolve and check the caller; end the call unless the table allows it."""
        try:
            result = self._resolve(context, method)
            caller: Caller = await result if inspect.isawaitable(result) else result
        except Unauthenticated as exc:  # the resolver logged why, once
            self.denied += 1
            await abort(context, exc)
        except GatewayError as exc:  # e.g. the institutions registry is unavailable
            await abort(context, exc)
        decision = decide(method, caller.role)
        if not decision.allowed:
            self.denied += 1
            mark_denied("role", caller.role.value)
            log.warning(
                "denied: caller %s (role %s) called %s: %s",
                caller.institution,
                caller.role.value,
                method,
                decision.reason,
            )
            await abort(
                context,
                PermissionDenied(
                    f"role {caller.role.value} may not call {method.rsplit('/', 1)[-1]}"
                ),
            )
        set_current_caller(caller)

    def _guarded(self, handler: Any, method: str) -> grpc.RpcMethodHandler:
        async def admit(context: Any) -> None:
            await self._admit(method, context)

        return wrap_handler(handler, admit, lambda _: None)

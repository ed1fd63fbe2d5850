"""Who is calling: the :class:`~gateway.authz.roles.Caller` a request acts for.

A resolver turns a call's context into a Caller (or raises
:class:`Unauthenticated`); the authorization interceptor
(:mod:`gateway.api.authz`) runs it once per call and makes the Caller
available to the servicers through :func:`current_caller`. Servicers never
look at headers or certificates.

:class:`DevCallers` reads the development-mode headers (plaintext on loopback
only): the institution is the ``x-institution`` request header when present,
else the configured ``dev_institution``; the ``x-role`` header, when present,
names the role. :class:`gateway.api.identity.Identity` is the resolver: it
uses these in development mode, and the client certificate and the
institutions registry otherwise.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.authz.roles import Caller, Role
from gateway.errors import GatewayError
from gateway.model import validate_institution

__all__ = [
    "INSTITUTION_HEADER",
    "ROLE_HEADER",
    "DevCallers",
    "Resolver",
    "Unauthenticated",
    "current_caller",
    "set_current_caller",
]

INSTITUTION_HEADER = "x-institution"
ROLE_HEADER = "x-role"

#: Turns a call's context and full method name into its Caller, or raises
#: Unauthenticated (and logs why: nothing else logs a refused caller).
Resolver = Callable[[Any, str], Caller | Awaitable[Caller]]

_CURRENT: contextvars.ContextVar[Caller] = contextvars.ContextVar("gateway_caller")


class Unauthenticated(GatewayError):
    """The caller's identity is missing or malformed (gRPC UNAUTHENTICATED)."""


def current_caller() -> Caller:
    """The Caller of the RPC being served (set by the authorization interceptor).

    Raises LookupError outside a call that went through the interceptor: a
    servicer must never serve a call without it.
    """
    return _CURRENT.get()


def set_current_caller(caller: Caller) -> None:
    """Make ``caller`` the current caller of this call's task (the interceptor's job)."""
    _CURRENT.set(caller)


def _header(context: Any, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


class DevCallers:
    """Development-mode caller identity: headers, or one configured institution."""

    def __init__(self, dev_institution: str) -> None:
        if validate_institution(dev_institution):
            raise ValueError(f"dev_institution {dev_institution!r} is not a valid institution id")
        self.dev_institution = dev_institution

    def institution(self, context: Any) -> str:
        """The institution of the call, from ``context``'s metadata."""
        text = _header(context, INSTITUTION_HEADER)
        if text is None:
            return self.dev_institution
        if validate_institution(text):
            raise Unauthenticated(
                f"the {INSTITUTION_HEADER} header {text!r} is not an institution id "
                "(1 to 128 characters from [A-Za-z0-9._:-])"
            )
        return text

    def role(self, context: Any) -> Role | None:
        """The role the ``x-role`` header names (development mode only), or ``None``
        without one."""
        text = _header(context, ROLE_HEADER)
        if text is None:
            return None
        try:
            return Role(text)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise Unauthenticated(
                f"the {ROLE_HEADER} header names no role (one of {roles})"
            ) from None

"""Who is calling: the institution a request acts for.

The servicers ask a :class:`Callers` for the institution of each call:
:class:`gateway.api.identity.Identity` (mutual TLS, or development mode).
In development mode the institution is the ``x-institution`` request header
when present, else the configured ``dev_institution`` (:class:`DevCallers`).
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.errors import GatewayError
from gateway.model import validate_institution

__all__ = ["INSTITUTION_HEADER", "Callers", "DevCallers", "Unauthenticated"]

INSTITUTION_HEADER = "x-institution"


class Unauthenticated(GatewayError):
    """The caller's identity is missing or malformed (gRPC UNAUTHENTICATED)."""


class Callers(Protocol):
    """What the servicers need to know of a call's caller."""

    def institution(self, context: Any) -> str:
        """The institution of the call; raises :class:`Unauthenticated`."""
        ...


class DevCallers:
    """Development-mode caller identity: a header, or one configured institution."""

    def __init__(self, dev_institution: str) -> None:
        if validate_institution(dev_institution):
            raise ValueError(f"dev_institution {dev_institution!r} is not a valid institution id")
        self.dev_institution = dev_institution

    def institution(self, context: Any) -> str:
        """The institution of the call, from ``context``'s metadata."""
        for key, value in context.invocation_metadata() or ():
            if key == INSTITUTION_HEADER:
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                if validate_institution(text):
                    raise Unauthenticated(
                        f"the {INSTITUTION_HEADER} header {text!r} is not an institution id "
                        "(1 to 128 characters from [A-Za-z0-9._:-])"
                    )
                return str(text)
        return self.dev_institution

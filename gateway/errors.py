"""Errors of the gateway core, independent of gRPC.

The RPC layer maps each class to one gRPC status code (``InvalidArgument`` to
INVALID_ARGUMENT with a ``google.rpc.BadRequest``, ``NotFound`` to NOT_FOUND,
and so on). Messages are meant for the caller and say what to do.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "GatewayError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unavailable",
]


class GatewayError(Exception):
    """Base class of every error the gateway core reports to a caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.args == self.args

    def __hash__(self) -> int:
        return hash((type(self), self.args))


_NAMED_FIELDS = 5  # the message names this many fields; BadRequest carries them all


class InvalidArgument(GatewayError):
    """The request is malformed.

    ``violations`` lists ``(field path, description)`` pairs; the paths are
    relative to the request item (e.g. ``"digest"``, ``"metadata[channel]"``).
    """

    def __init__(self, violations: list[tuple[str, str]], message: str | None = None) -> None:
        if message is None:
            names = list(dict.fromkeys(field for field, _ in violations))
            fields = ", ".join(names[:_NAMED_FIELDS]) or "request"
            if len(names) > _NAMED_FIELDS:
                fields += f" and {len(names) - _NAMED_FIELDS} more"
            message = f"invalid argument ({fields}); correct the request and send it again"
        super().__init__(message)
        self.violations = list(violations)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, InvalidArgument)
            and other.violations == self.violations
        )

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.violations)))


class NotFound(GatewayError):
    """The named entry (or leaf, or loan) does not exist."""


class PermissionDenied(GatewayError):
    """The caller's role may not make this call at all."""


class AlreadyExists(GatewayError):
    """The request_id was already used with different content."""


class ResourceExhausted(GatewayError):
    """The gateway's queue is full; retry with back-off."""


class Unavailable(GatewayError):
    """The store or the time-stamp authority is down; retry with back-off.

    Retrying a submission with the same request_id is always safe.
    """


class DeadlineExceeded(GatewayError):
    """The gateway's own time limit ran out (e.g. a stream that sent nothing for too long)."""


class FailedPrecondition(GatewayError):
    """The system is not in a state to serve the request (e.g. the ledger is closed)."""

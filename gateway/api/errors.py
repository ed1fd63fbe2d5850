"""The one place where gateway errors become gRPC statuses.

Every :class:`gateway.errors.GatewayError` maps to exactly one gRPC status
code. The status travels as a ``google.rpc.Status`` (gRPC "rich error model":
the serialized status rides in the ``grpc-status-details-bin`` trailer, built
with ``grpc_status.rpc_status.to_status``), with these details:

* INVALID_ARGUMENT carries a ``google.rpc.BadRequest`` naming every bad field.
  The core reports paths relative to the request item (``"digest"``); the
  servicer passes the prefix of that item in the request message
  (``"submission"``), giving ``"submission.digest"``.
* RESOURCE_EXHAUSTED and UNAVAILABLE carry a ``google.rpc.RetryInfo`` with a
  suggested back-off.

The top-level message says the same in plain text, because many clients show
only that (``buf curl``, grpc-js and grpcurl print the details, if at all, as
base64): for INVALID_ARGUMENT it names each bad field *and* the rule it
breaks (``"submission.digest: must be 32 bytes for sha256, got 31; ..."``), for
every other status the core's message. Whatever the error says, what reaches
the caller is bounded and escaped (:func:`shown`): text from the request is
never echoed raw (it is printable ASCII: control characters, line breaks,
bidi overrides and any other character become ``\\xNN`` / ``\\uNNNN``
escapes) and never carries a run of 11 or more digits (the shape of identity,
mobile and bank card numbers), in the message and in the details alike.

Per-item results (BatchSubmitEvidence, SubmitEvidenceStream) use the same
``google.rpc.Status`` messages, built by :func:`to_rpc_status`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from court.report.escape import escape_char
from gateway.api.caller import Unauthenticated
from gateway.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

__all__ = [
    "GRPC_CODE",
    "abort",
    "abort_unread",
    "field_path",
    "grpc_code",
    "invalid",
    "rpc_errors",
    "shown",
    "to_grpc_status",
    "to_rpc_status",
    "unread_status",
]

log = logging.getLogger(__name__)

#: google.rpc.Code of each error class (the first matching base class wins).
GRPC_CODE: dict[type[GatewayError], int] = {
    InvalidArgument: code_pb2.INVALID_ARGUMENT,
    NotFound: code_pb2.NOT_FOUND,
    AlreadyExists: code_pb2.ALREADY_EXISTS,
    ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    Unavailable: code_pb2.UNAVAILABLE,
    FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    DeadlineExceeded: code_pb2.DEADLINE_EXCEEDED,
    Unauthenticated: code_pb2.UNAUTHENTICATED,
    PermissionDenied: code_pb2.PERMISSION_DENIED,
}

#: Suggested back-off for retryable errors, in milliseconds.
RETRY_DELAY_MS: dict[int, int] = {
    code_pb2.RESOURCE_EXHAUSTED: 100,
    code_pb2.UNAVAILABLE: 1000,
}


def grpc_code(exc: GatewayError) -> int:
    """The google.rpc.Code for ``exc``; UNKNOWN for a class without a mapping."""
    for cls in type(exc).__mro__:
        code = GRPC_CODE.get(cls)
        if code is not None:
            return int(code)
    return int(code_pb2.UNKNOWN)


def field_path(prefix: str, field: str) -> str:
    """Join a message prefix and a field path (``"submission"`` + ``"digest"``).

    An empty prefix leaves the path as it is; an empty field names the prefix
    itself; an index or key suffix (``"[3]"``) is appended without a dot.
    """
    if not prefix:
        return field
    if not field:
        return prefix
    if field.startswith("["):
        return prefix + field
    return f"{prefix}.{field}"


#: Bounds, in characters, of what an error shows: one field path, one rule
#: (a violation's description), the whole message, and all the violations of
#: one BadRequest together (gRPC limits the size of a status's trailers). What
#: is shown is ASCII, so characters are bytes.
MAX_FIELD_CHARS = 160
MAX_RULE_CHARS = 240
MAX_MESSAGE_CHARS = 1024
MAX_DETAILS_CHARS = 4096
#: The message names this many violations; the BadRequest carries them all.
MESSAGE_VIOLATIONS = 3
_MORE_WHERE = "google.rpc.BadRequest in the details lists them"
_MORE_CHARS = len(f"; and {10**6} more ({_MORE_WHERE})")

# A run of 11+ digits, with single spaces or hyphens between them and an ID
# number's check character: never shown. A hash in hex (32-128 hex digits)
# is matched first and kept whole.
_HIDDEN = re.compile(
    r"(?P<hex>(?<![0-9A-Za-z])[0-9A-Fa-f]{32,128}(?![0-9A-Za-z]))"
    r"|(?P<digits>\d(?:[ -]?\d){10,}(?:[ -]?[Xx](?![0-9A-Za-z]))?)"
)
_CUT = "..."


def _hide(match: re.Match[str]) -> str:
    if match.group("hex") is not None:
        return match.group(0)
    count = sum(ch.isdigit() for ch in match.group(0))
    return f"[{count} digits hidden]"


def _escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if " " <= ch <= "~":
        return ch
    return escape_char(ch)


def shown(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as an error may show it: printable ASCII, at most ``limit`` characters.

    A run of 11 or more digits (what an identity, mobile or bank card number
    looks like) becomes ``[N digits hidden]``; a backslash and every character
    outside printable ASCII (controls, line breaks, ANSI escape sequences' ESC,
    bidi overrides, any non-ASCII letter) become escapes (``\\\\``,
    ``\\x1b``, ``\\u202e``). Text cut at ``limit`` ends with ``...``; an escape
    is never cut in half.
    """
    # Only the start can be shown: the work stays bounded whatever the text.
    scanned = text[: 2 * limit + 64]
    pieces = [_escape(ch) for ch in _HIDDEN.sub(_hide, scanned)]
    if len(scanned) == len(text) and sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    out: list[str] = []
    room = limit - len(_CUT)
    for piece in pieces:
        room -= len(piece)
        if room < 0:
            break
        out.append(piece)
    return "".join(out) + _CUT


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _violations(exc: InvalidArgument, field_prefix: str) -> list[tuple[str, str]]:
    """The violations as shown: prefixed, escaped, bounded in size by MAX_DETAILS_CHARS."""
    out: list[tuple[str, str]] = []
    used = 0
    for index, (field, description) in enumerate(exc.violations):
        pair = (
            shown(field_path(field_prefix, field) or "request", MAX_FIELD_CHARS),
            shown(description, MAX_RULE_CHARS),
        )
        used += len(pair[0]) + len(pair[1])
        if used > MAX_DETAILS_CHARS:
            left = len(exc.violations) - index
            out.append((shown(field_prefix or "request", MAX_FIELD_CHARS), f"and {left} more"))
            break
        out.append(pair)
    return out


def _message(violations: Sequence[tuple[str, str]], total: int) -> str:
    """Plain text naming the first of ``total`` violations (already shown), each field
    with its rule, within MAX_MESSAGE_CHARS (a violation that does not fit is counted)."""
    named: list[str] = []
    used = 0
    for field, rule in violations[:MESSAGE_VIOLATIONS]:
        text = f"{field}: {rule}"
        used += len(text) + 2
        if named and used > MAX_MESSAGE_CHARS - _MORE_CHARS:
            break
        named.append(text)
    message = "; ".join(named)
    if total > len(named):
        message += f"; and {total - len(named)} more ({_MORE_WHERE})"
    return message


def to_rpc_status(exc: GatewayError, field_prefix: str = "") -> status_pb2.Status:
    """The ``google.rpc.Status`` for ``exc``, field paths prefixed with ``field_prefix``."""
    code = grpc_code(exc)
    status = status_pb2.Status(code=code, message=shown(exc.message))
    if isinstance(exc, InvalidArgument):
        violations = _violations(exc, field_prefix)
        if violations:
            status.message = _message(violations, len(exc.violations))
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
                for field, description in violations
            ]
        )
        status.details.append(_pack(bad))
    delay_ms = RETRY_DELAY_MS.get(code)
    if delay_ms is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(delay_ms)
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status


def to_grpc_status(exc: GatewayError, field_prefix: str = "") -> grpc.Status:
    """The ``grpc.Status`` to end an RPC with (rich details in the trailer)."""
    return rpc_status.to_status(to_rpc_status(exc, field_prefix))


def invalid(field: str, description: str) -> InvalidArgument:
    """An :class:`InvalidArgument` naming one field."""
    return InvalidArgument([(field, description)])


async def abort(
    context: grpc.aio.ServicerContext[Any, Any], exc: GatewayError, field_prefix: str = ""
) -> NoReturn:
    """End the RPC with the status of ``exc``."""
    await context.abort_with_status(to_grpc_status(exc, field_prefix))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


_INTERNAL = status_pb2.Status(
    code=code_pb2.INTERNAL,
    message="internal error in the gateway; it was logged, retry later or contact the operator",
)

#: How long :func:`abort_unread` lets a status wait to go out before it ends the handler.
UNREAD_STATUS_WAIT = 0.1

# The status :func:`abort_unread` left queued behind unread messages, in the call's task.
_UNREAD_STATUS: contextvars.ContextVar[asyncio.Future[Any] | None] = contextvars.ContextVar(
    "unread_status", default=None
)


def unread_status() -> asyncio.Future[Any] | None:
    """In the task of a call that :func:`abort_unread` ended: its status, still queued
    behind the messages the client does not read (done once it is sent or the call is
    cancelled, its deadline passes or its connection closes); else ``None``."""
    return _UNREAD_STATUS.get()


def _retrieved(sending: asyncio.Future[Any]) -> None:
    if not sending.cancelled():
        sending.exception()  # AbortError once sent, the batch's error once the call ended


async def abort_unread(
    context: grpc.aio.ServicerContext[Any, Any], exc: GatewayError, field_prefix: str = ""
) -> NoReturn:
    """End with the status of ``exc`` a stream whose client does not read what it is sent
    (a :class:`~gateway.api.stream_writer.StalledWrite`).

    The status goes out after the messages already written, which wait for the client's
    flow-control window: :func:`abort` would wait for as long as the client does not
    read, and the call would keep what it holds (its call slot) as long. This queues the
    status and, unless it is sent within ``UNREAD_STATUS_WAIT`` seconds, ends the
    handler with CancelledError: the status stays queued behind the unread messages
    (a client that reads again gets them, then it), and gRPC drops the call when the
    client cancels it, its deadline passes or its connection closes (at the latest
    ``[grpc] max_connection_age_seconds`` and its grace period later). Until then the
    call still holds memory in gRPC: :func:`unread_status` gives the queued status to
    the interceptors (:class:`~gateway.api.call_limit.InstitutionCallLimit` counts such
    calls). The call is counted with the status (:mod:`gateway.api.observe`), not as
    CANCELLED.
    """
    sending = asyncio.ensure_future(context.abort_with_status(to_grpc_status(exc, field_prefix)))
    sending.add_done_callback(_retrieved)
    try:
        await asyncio.wait_for(asyncio.shield(sending), UNREAD_STATUS_WAIT)
    except TimeoutError:
        _UNREAD_STATUS.set(sending)
        raise asyncio.CancelledError from None
    raise AssertionError("abort_with_status returned")  # pragma: no cover


R = TypeVar("R")
Handler = Callable[..., Awaitable[R]]


def _is_abort(exc: BaseException) -> bool:
    # grpc.aio raises AbortError from context.abort*; it must pass through.
    return isinstance(exc, grpc.aio.AbortError | grpc.RpcError)


async def _end_with_error(context: Any, exc: Exception, field_prefix: str, where: str) -> None:
    """End the RPC for ``exc`` raised by a servicer method (call inside ``except``).

    A GatewayError gets its own status; grpc.aio's abort exceptions are left to
    pass (this returns); anything else is logged and reported as INTERNAL
    without its text.
    """
    if isinstance(exc, GatewayError):
        await abort(context, exc, field_prefix)
    if _is_abort(exc):
        return
    log.exception("unexpected error in %s", where)
    await context.abort_with_status(rpc_status.to_status(_INTERNAL))
    raise AssertionError("abort_with_status returned") from exc  # pragma: no cover


def rpc_errors(
    field_prefix: str = "",
) -> Callable[[Callable[..., Awaitable[R]]], Callable[..., Awaitable[R]]]:
    """Decorate a unary servicer method: a GatewayError it raises ends the RPC.

    ``field_prefix`` is the path of the request item the core's field names
    are relative to (e.g. ``"submission"``). Any other exception is logged
    and reported as INTERNAL without its text.
    """

    def decorate(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
        @functools.wraps(method)
        async def wrapper(self: Any, request: Any, context: Any) -> R:
            try:
                return await method(self, request, context)
            except Exception as exc:
                await _end_with_error(context, exc, field_prefix, method.__qualname__)
                raise  # an abort of grpc.aio's own passes through

        return wrapper

    return decorate


def violations_of(status: status_pb2.Status) -> Sequence[tuple[str, str]]:
    """The ``(field, description)`` pairs of the BadRequest in ``status``."""
    out: list[tuple[str, str]] = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.extend((v.field, v.description) for v in bad.field_violations)
    return out

"""The messages of SubmitEvidenceStream: one submission each, or several.

A message of one ``submission`` is answered by one response with its
``request_id`` and result; a message of ``submissions`` (1 to
:data:`MAX_MESSAGE_ITEMS`) by one response whose ``results`` hold one result
per item. Each gRPC message costs the client and the gateway about as much
as registering an item (``bench.writepath``): several per message is how a
stream reaches the batch call's throughput.

What a message counts against the streams' :class:`ByteBudget`: a message of
one submission as before (:func:`message_cost`); one of several, twice its
size plus 512 bytes per item (the same bound per parsed item).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evidence_gateway.v1 import evidence_service_pb2 as pb
from gateway.api import convert
from gateway.api.errors import to_rpc_status
from gateway.api.stream_budget import MAX_STREAM_MESSAGE_BYTES, message_cost
from gateway.errors import GatewayError, InvalidArgument
from gateway.model import ItemResult, Submission

__all__ = ["MAX_MESSAGE_ITEMS", "StreamMessage", "answer", "multi_cost", "read_message", "take"]

#: The most submissions one stream message may carry (as BatchSubmitEvidence).
MAX_MESSAGE_ITEMS = 1000
_ITEM_BYTES = 512


@dataclass(slots=True)
class StreamMessage:
    """A message read off a stream: each item's echoed request id and what it holds
    (a submission or its error), its cost in the budget, and whether it carried
    ``submissions`` (answered with ``results``)."""

    request_ids: list[str]
    items: list[Submission | GatewayError]
    cost: int
    multi: bool


def echo(request_id: str) -> str:
    """The request id as echoed in a per-item answer: a valid one is at most 128
    characters; an invalid one is cut there, so a stream cannot pin huge ids."""
    return request_id[:128]


def multi_cost(size: int, items: int) -> int:
    """What a message of several submissions counts against the budget."""
    return 2 * size + _ITEM_BYTES * items


def _one_error(message: Any, cost: int, field: str, problem: str) -> StreamMessage:
    return StreamMessage(
        [echo(message.submission.request_id)], [InvalidArgument([(field, problem)])], cost, False
    )


def read_message(
    request: pb.SubmitEvidenceStreamRequest,
    size: int,
    to_submission: Callable[[Any], Submission | GatewayError],
    share: int,
) -> StreamMessage:
    """What ``request`` (``size`` serialized bytes) asks, each item converted by
    ``to_submission``. A message of several submissions that sets ``submission``
    too, carries too many, or would cost more than an institution's ``share`` of
    the budget (it could never be read ahead) is one error (as a message of one
    submission)."""
    many = request.submissions
    if not many:
        message = request.submission
        cost = message_cost(size)
        if size > MAX_STREAM_MESSAGE_BYTES:  # no valid submission is that large
            return _one_error(
                request,
                cost,
                "",
                f"the message is {size:,} bytes; no valid submission is larger "
                f"than {MAX_STREAM_MESSAGE_BYTES:,}",
            )
        return StreamMessage([echo(message.request_id)], [to_submission(message)], cost, False)
    if request.HasField("submission"):
        return _one_error(
            request,
            message_cost(0),
            "submissions",
            "set either submission (one record) or submissions (several), not both",
        )
    count = len(many)
    if count > MAX_MESSAGE_ITEMS or size > count * MAX_STREAM_MESSAGE_BYTES:
        return _one_error(
            request,
            message_cost(0),
            "submissions",
            f"must hold 1 to {MAX_MESSAGE_ITEMS:,} items of at most "
            f"{MAX_STREAM_MESSAGE_BYTES:,} bytes each; got {count:,} in {size:,} bytes",
        )
    cost = multi_cost(size, count)
    if cost > share:  # could never be read ahead
        return _one_error(
            request,
            message_cost(0),
            "submissions",
            f"a message of {size:,} bytes is more than this gateway buffers for one "
            "institution's streams; send fewer submissions per message",
        )
    return StreamMessage(
        [echo(m.request_id) for m in many],
        [to_submission(m) for m in many],
        cost,
        True,
    )


def take(buffer: list[StreamMessage], chunk: int) -> list[StreamMessage]:
    """Take whole messages off the front of ``buffer``: at least one, and more while
    they hold fewer than ``chunk`` items together."""
    taken = 1
    items = len(buffer[0].items)
    while taken < len(buffer) and items + len(buffer[taken].items) <= chunk:
        items += len(buffer[taken].items)
        taken += 1
    out = buffer[:taken]
    del buffer[:taken]
    return out


def answer(
    message: StreamMessage, outcomes: Sequence[ItemResult]
) -> pb.SubmitEvidenceStreamResponse:
    """The response to ``message``, given its items' outcomes in order."""
    if not message.multi:
        (outcome,) = outcomes
        response = pb.SubmitEvidenceStreamResponse(request_id=message.request_ids[0])
        if isinstance(outcome, GatewayError):
            response.error.CopyFrom(to_rpc_status(outcome))
        else:
            response.receipt.CopyFrom(convert.receipt_to_proto(outcome))
        return response
    response = pb.SubmitEvidenceStreamResponse()
    for request_id, outcome in zip(message.request_ids, outcomes, strict=True):
        result = response.results.add(request_id=request_id)
        if isinstance(outcome, GatewayError):
            result.error.CopyFrom(to_rpc_status(outcome))
        else:
            result.receipt.CopyFrom(convert.receipt_to_proto(outcome))
    return response

"""AdminService's anchoring RPCs: ``AnchorNow`` and ``GetAnchoringStatus``.

The gRPC face of :mod:`gateway.anchor.control`; :class:`AnchoringAdmin` is
mixed into :class:`gateway.api.admin.AdminServicer`, which checks the admin
role first. Text from the worker or a chain node (errors) is escaped.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from court.report.escape import escape_text
from evidence_gateway.v1 import admin_service_pb2 as pb
from gateway.errors import FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    from gateway.anchor.control import ChainNow, ChainStatus
    from gateway.anchor.worker import AnchorWorker

__all__ = ["DEFAULT_WAIT", "MAX_WAIT", "now_to_proto", "status_to_proto", "worker_or_refuse"]

#: AnchorNow's wait for confirmations: unset, and at most.
DEFAULT_WAIT = timedelta(seconds=60)
MAX_WAIT = timedelta(seconds=300)
_TEXT_LIMIT = 500


def _text(value: str) -> str:
    text = escape_text(value)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."


def worker_or_refuse(worker: AnchorWorker | None) -> AnchorWorker:
    if worker is None:
        raise FailedPrecondition(
            "anchoring is not enabled on this gateway: set [anchor] enabled = true with "
            "[[anchor.chains]] in its configuration (docs/anchoring.md) and restart it"
        )
    return worker


def wait_of(request: pb.AnchorNowRequest) -> float:
    if not request.HasField("wait"):
        return DEFAULT_WAIT.total_seconds()
    try:
        wait = request.wait.ToTimedelta()
    except (ValueError, OverflowError):
        wait = timedelta(-1)
    if not timedelta(0) <= wait <= MAX_WAIT:
        raise InvalidArgument([("wait", f"must be 0 to {MAX_WAIT.seconds} seconds")])
    return wait.total_seconds()


def now_to_proto(size: int, results: list[ChainNow]) -> pb.AnchorNowResponse:
    out = pb.AnchorNowResponse(log_size=size)
    for r in results:
        item = out.chains.add(chain=r.chain_name, anchored=r.anchored, reason=_text(r.reason))
        if r.latest is not None:
            item.anchored_size = r.latest.tree_size
            item.transaction_hash = r.latest.tx_hash
            item.block_number = r.latest.block_number or 0
    return out


def _duration(seconds: float) -> Duration:
    d = Duration()
    d.FromTimedelta(timedelta(seconds=max(0.0, seconds)))
    return d


def status_to_proto(statuses: list[ChainStatus], max_lag: float) -> pb.GetAnchoringStatusResponse:
    out = pb.GetAnchoringStatusResponse(max_lag=_duration(max_lag))
    for s in statuses:
        item = out.chains.add(
            chain=s.chain.name,
            chain_id=s.chain.chain_id,
            contract=s.chain.contract,
            anchored_size=s.lag.anchored_size,
            log_size=s.lag.log_size,
            lag_entries=s.lag.entries,
            lag=_duration(s.lag.seconds),
            lagging=s.lagging,
            pending=s.pending,
            submitter=s.submitter,
            submitter_balance_wei="" if s.balance is None else str(s.balance),
            chain_error=_text(s.chain_error),
            last_error=_text(s.lag.error),
            capped=_text(s.lag.capped),
            confirmations_required=s.required,
        )
        if s.head is not None:
            item.chain_head = s.head
        if s.depth is not None:
            item.pending_confirmations = s.depth
        if s.latest is not None and s.latest.confirmed_at is not None:
            ts = Timestamp()
            ts.FromDatetime(s.latest.confirmed_at)
            item.anchored_at.CopyFrom(ts)
    return out


class AnchoringAdmin:
    """The anchoring RPCs (mixed into AdminServicer, which sets ``_anchoring``)."""

    _anchoring: AnchorWorker | None

    async def _anchor_now(self, request: pb.AnchorNowRequest) -> pb.AnchorNowResponse:
        from gateway.anchor.control import anchor_now

        wait = wait_of(request)
        worker = worker_or_refuse(self._anchoring)
        size, results = await asyncio.to_thread(anchor_now, worker, wait)
        return now_to_proto(size, results)

    async def _anchoring_status(self) -> pb.GetAnchoringStatusResponse:
        from gateway.anchor.control import anchoring_status

        worker = worker_or_refuse(self._anchoring)
        statuses: Any = await asyncio.to_thread(anchoring_status, worker)
        return status_to_proto(statuses, worker.max_lag_seconds)

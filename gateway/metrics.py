"""The operator's Prometheus metrics: what is counted, and the one object that counts it.

The gateway's parts report through an :class:`Observer`: the gRPC edge
(:mod:`gateway.api.observe`: calls, latency, denials), the ledger (batch
sizes, commit time), the token sources (tokens and failures per TSA), the
cases (events recorded by type, WatchCases streams ended as too slow), the
submission streams (ended because their answers were not read). Each
has a do-nothing observer until the server attaches its :class:`Metrics`
(:func:`attach`), so nothing is counted, and nothing costs, with the metrics
off. Gauges (queue depth, the age of the oldest queued item, log size,
anchoring lag) are read when Prometheus scrapes, never on the write path.

Each :class:`Metrics` has its own ``CollectorRegistry`` (a process may run
several servers: the tests do). Labels name RPCs, status codes, roles, TSAs
and chains, never an institution: who is active, and how much, is the
institutions' business, not the scraper's (the per-call log lines name the
institution, for the operator who reads the log).

The metrics, all prefixed ``gateway_`` (docs/gateway.md, "Metrics"):

=============================================  =========  ========================
name                                           type       labels
=============================================  =========  ========================
``rpc_calls_total``                            counter    rpc, code, role
``rpc_duration_seconds``                       histogram  rpc
``rpc_denied_total``                           counter    rpc, reason
``ledger_queue_items``                         gauge
``ledger_oldest_queued_seconds``               gauge
``ledger_batch_size``                          histogram
``ledger_commit_seconds``                      histogram
``ledger_stage_seconds``                       histogram  stage
``ledger_commit_failures_total``               counter
``log_entries``                                gauge
``tsa_tokens_total``                           counter    tsa
``tsa_failures_total``                         counter    tsa, reason
``anchor_lag_entries``                         gauge      chain
``anchor_lag_seconds``                         gauge      chain
``case_events_total``                          counter    event
``case_watch_streams``                         gauge
``case_watch_slow_disconnects_total``          counter
``evidence_stream_stalled_disconnects_total``  counter
=============================================  =========  ========================
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["NO_OBSERVER", "Metrics", "Observer", "attach", "metrics_for"]

log = logging.getLogger(__name__)

#: Latency buckets (seconds): a unary submission takes milliseconds, a batch of
#: 1,000 a fraction of a second, a stream as long as it stays open.
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_COMMIT = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BATCH = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
#: A batch's stages before its commit: a unary call at a few hundred per second spends
#: fractions of a millisecond to a few milliseconds in each.
_STAGE = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
#: The stages of :meth:`Observer.batch_stage`.
STAGES = ("queued", "prepare", "time_stamp", "handoff")


class Observer:
    """What the gateway's parts report; this base class ignores it all (metrics off)."""

    def batch_committed(self, size: int, seconds: float) -> None:
        """The ledger's committing stage published ``size`` entries in ``seconds``."""

    def batch_stage(self, stage: str, seconds: float) -> None:
        """A batch spent ``seconds`` in ``stage`` before its commit (:data:`STAGES`):
        ``queued`` its oldest item waited before the preparing stage took the batch,
        ``prepare`` that stage's work (idempotency, ``supersedes``, time-stamps),
        ``time_stamp`` the token source's part of it, ``handoff`` the prepared batch
        waited for the committing stage (its previous commit)."""

    def commit_failed(self) -> None:
        """A batch's commit failed (the store was down); its callers got UNAVAILABLE."""

    def tsa_tokens(self, tsa: str, count: int) -> None:
        """``tsa`` issued ``count`` tokens that passed their check."""

    def tsa_failure(self, tsa: str, reason: str, count: int = 1) -> None:
        """``tsa`` failed ``count`` requests (``reason``: a short fixed word)."""

    def call(self, rpc: str, code: str, role: str, seconds: float, denied: str | None) -> None:
        """An API call ended with ``code``; ``denied`` names why it was refused, if so."""

    def case_event(self, event: str) -> None:
        """A case event of type ``event`` (``filed``, ``accepted``, ...) was recorded."""

    def watch_too_slow(self) -> None:
        """A WatchCases stream was ended with RESOURCE_EXHAUSTED: its client read too slowly
        (its queue of events filled, or a message could not be written for ``[stream]
        stalled_write_seconds``: it did not read at all)."""

    def stream_stalled(self) -> None:
        """A SubmitEvidenceStream was ended with RESOURCE_EXHAUSTED: an answer could not be
        written for ``[stream] stalled_write_seconds`` (its client did not read)."""


#: The do-nothing observer the parts hold until metrics are attached.
NO_OBSERVER = Observer()


class GaugeSource(Protocol):
    """What the scrape reads from the ledger (``gateway.ledger.Ledger``)."""

    def queued(self) -> int: ...
    def oldest_queued_seconds(self) -> float: ...
    def log_size(self) -> int: ...


class StreamSource(Protocol):
    """What the scrape reads from the CaseService (``gateway.api.cases.CaseServicer``)."""

    def open_streams(self) -> int: ...


class _Gauges(Collector):
    """Gauges read at scrape time from the ledger and the anchoring worker."""

    def __init__(self, ledger: Any, anchoring: Any, cases: StreamSource | None = None) -> None:
        self._ledger = ledger
        self._anchoring = anchoring
        self._cases = cases

    def collect(self) -> Iterator[Metric]:
        if self._cases is not None:
            yield _gauge(
                "gateway_case_watch_streams",
                "WatchCases streams open",
                self._cases.open_streams(),
            )
        ledger = self._ledger
        if ledger is not None:
            yield _gauge(
                "gateway_ledger_queue_items", "Items waiting for the writer", ledger.queued()
            )
            yield _gauge(
                "gateway_ledger_oldest_queued_seconds",
                "Age of the oldest item not yet answered by the ledger (queued or in a batch)",
                ledger.oldest_queued_seconds(),
            )
            yield _gauge("gateway_log_entries", "Entries in the log (tree size)", ledger.log_size())
        if self._anchoring is not None:
            entries = GaugeMetricFamily(
                "gateway_anchor_lag_entries",
                "Log entries not yet covered by a confirmed anchor",
                labels=["chain"],
            )
            seconds = GaugeMetricFamily(
                "gateway_anchor_lag_seconds",
                "Age of the oldest log entry not yet covered by a confirmed anchor",
                labels=["chain"],
            )
            try:
                lags = self._anchoring.lag()
            except Exception:
                log.warning("metrics: cannot read the anchoring lag", exc_info=True)
                lags = []
            for lag in lags:
                entries.add_metric([lag.chain_name], lag.entries)
                seconds.add_metric([lag.chain_name], lag.seconds)
            yield entries
            yield seconds

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected on demand: nothing to check at registration


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class Metrics(Observer):
    """The gateway's metrics in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._calls = Counter(
            "gateway_rpc_calls",
            "API calls ended, by RPC, gRPC status code and caller role",
            ["rpc", "code", "role"],
            registry=r,
        )
        self._latency = Histogram(
            "gateway_rpc_duration_seconds",
            "Duration of API calls, by RPC (a stream: as long as it stayed open)",
            ["rpc"],
            buckets=_LATENCY,
            registry=r,
        )
        self._denied = Counter(
            "gateway_rpc_denied",
            "API calls refused, by RPC and reason",
            ["rpc", "reason"],
            registry=r,
        )
        self._batch = Histogram(
            "gateway_ledger_batch_size",
            "Entries per group commit",
            buckets=_BATCH,
            registry=r,
        )
        self._commit = Histogram(
            "gateway_ledger_commit_seconds",
            "Duration of the committing stage of a batch (leaves, tree, checkpoint, synced "
            "transaction, proofs)",
            buckets=_COMMIT,
            registry=r,
        )
        self._stages = Histogram(
            "gateway_ledger_stage_seconds",
            "Time a batch spent in each stage before its commit: queued (its oldest item, "
            "before the batch was taken), prepare (idempotency, supersedes, time-stamps), "
            "time_stamp (the TSA's part of prepare), handoff (waiting for the previous commit)",
            ["stage"],
            buckets=_STAGE,
            registry=r,
        )
        self._commit_failures = Counter(
            "gateway_ledger_commit_failures", "Group commits that failed", registry=r
        )
        self._tokens = Counter(
            "gateway_tsa_tokens",
            "Time-stamp tokens issued and checked, by TSA",
            ["tsa"],
            registry=r,
        )
        self._tsa_failures = Counter(
            "gateway_tsa_failures",
            "Time-stamp requests that failed, by TSA and reason",
            ["tsa", "reason"],
            registry=r,
        )
        self._case_events = Counter(
            "gateway_case_events",
            "Case events recorded, by event type",
            ["event"],
            registry=r,
        )
        self._watch_too_slow = Counter(
            "gateway_case_watch_slow_disconnects",
            "WatchCases streams ended with RESOURCE_EXHAUSTED: the client read too slowly "
            "(its queue of events filled, or a message could not be written for [stream] "
            "stalled_write_seconds); rpc_denied_total's reason tells which",
            registry=r,
        )
        self._stream_stalled = Counter(
            "gateway_evidence_stream_stalled_disconnects",
            "SubmitEvidenceStream streams ended with RESOURCE_EXHAUSTED: an answer could not "
            "be written for [stream] stalled_write_seconds (the client did not read)",
            registry=r,
        )
        # Children by label values: labels() takes a lock and builds a key each time.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric._name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def watch(self, ledger: GaugeSource | None, anchoring: Any) -> None:
        """Read the gauges of ``ledger`` and ``anchoring`` (its ``lag()``) at each scrape."""
        self.registry.register(_Gauges(ledger, anchoring))

    def watch_cases(self, cases: StreamSource) -> None:
        """Read the open WatchCases streams of ``cases`` at each scrape."""
        self.registry.register(_Gauges(None, None, cases))

    # ----------------------------------------------------------- Observer

    def batch_committed(self, size: int, seconds: float) -> None:
        self._batch.observe(size)
        self._commit.observe(seconds)

    def batch_stage(self, stage: str, seconds: float) -> None:
        self._child(self._stages, stage).observe(seconds)

    def commit_failed(self) -> None:
        self._commit_failures.inc()

    def tsa_tokens(self, tsa: str, count: int) -> None:
        if count:
            self._child(self._tokens, tsa).inc(count)

    def tsa_failure(self, tsa: str, reason: str, count: int = 1) -> None:
        if count:
            self._child(self._tsa_failures, tsa, reason).inc(count)

    def call(self, rpc: str, code: str, role: str, seconds: float, denied: str | None) -> None:
        self._child(self._calls, rpc, code, role).inc()
        self._child(self._latency, rpc).observe(seconds)
        if denied is not None:
            self._child(self._denied, rpc, denied).inc()

    def case_event(self, event: str) -> None:
        self._child(self._case_events, event).inc()

    def watch_too_slow(self) -> None:
        self._watch_too_slow.inc()

    def stream_stalled(self) -> None:
        self._stream_stalled.inc()


def attach(observer: Observer, ledger: object) -> None:
    """Make ``observer`` the one the ledger and its token source report to.

    Parts without an ``observer`` attribute (the tests' fakes) are left alone.
    """
    for part in (ledger, getattr(ledger, "token_source", None)):
        if part is not None and hasattr(part, "observer"):
            part.observer = observer


def metrics_for(config: Any, ledger: object, anchoring: object) -> Metrics | None:
    """The server's metrics, fed by ``ledger`` and ``anchoring`` (``None``: metrics off,
    ``[metrics] listen`` empty)."""
    if not config.metrics_listen:
        return None
    metrics = Metrics()
    has_gauges = all(hasattr(ledger, n) for n in ("queued", "oldest_queued_seconds", "log_size"))
    metrics.watch(ledger if has_gauges else None, anchoring)  # type: ignore[arg-type]
    attach(metrics, ledger)
    return metrics

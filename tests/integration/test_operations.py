"""What the operator on call sees of a real `gateway serve`: the Prometheus metrics
scraped from its metrics listener, and its JSON log lines, after real calls (one
refused by the authorization table, one unauthenticated), with a real HTTP TSA
(`notary serve`) that later goes down."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from evidence_gateway.v1 import access_service_pb2, access_service_pb2_grpc
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from gateway.metrics_http import TIMEOUT_SECONDS
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission
from tests.support.procs import notary_server

_METRICS_URL = re.compile(r"metrics: serving (http://[^\s\"]+)")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
#: The gateway, its metrics URL, its TSA's URL and what stops the TSA.
Run = tuple[GatewayProcess, str, str, Callable[[], None]]


def _scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.headers.get_content_type() == "text/plain"
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(_key(name, **labels), 0.0)


def _scrape_until(url: str, ready: Callable[[Samples], bool], seconds: float = 10) -> Samples:
    """Scrape until ``ready`` holds (or ``seconds`` pass: the caller's asserts then fail).

    A call refused with ``context.abort`` has its status sent before the interceptor
    that counts it unwinds, so its caller can scrape a moment before it is counted."""
    deadline = time.monotonic() + seconds
    while not ready(samples := _scrape(url)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return samples


@contextlib.contextmanager
def _gateway(folder: Path) -> Iterator[Run]:
    """A development gateway with metrics and JSON logs, its TSA a `notary serve`."""
    pki = folder / "data" / "pki"
    make_pki(pki)
    with contextlib.ExitStack() as notary:
        url = notary.enter_context(notary_server(pki, folder / "notary" / "state"))
        config = write_config(
            folder,
            sections={
                "tsa": {"urls": [url], "ca_files": [str(pki / "root-ca.pem")]},
                "metrics": {"listen": "127.0.0.1:0"},
                "logging": {"format": "json"},
            },
        )
        process = GatewayProcess(config, folder)
        process.start()
        try:
            deadline = time.monotonic() + 10
            while not (found := _METRICS_URL.search(process.log_text())):
                assert time.monotonic() < deadline, process.log_text()
                time.sleep(0.05)
            yield process, found.group(1), url, notary.close
        finally:
            process.stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with _gateway(tmp_path_factory.mktemp("operations")) as running:
        yield running


def test_metrics_move_with_calls_denials_and_tsa_failures(
    run: Run,
) -> None:
    process, metrics_url, tsa, _ = run
    before = _scrape(metrics_url)
    with process.channel() as channel:
        evidence = ev_grpc.EvidenceServiceStub(channel)
        reply, call = evidence.SubmitEvidence.with_call(
            ev.SubmitEvidenceRequest(submission=submission("loan-ops-1")),
            metadata=[("x-request-id", "ops-unary-1")],
            timeout=30,
        )
        assert reply.receipt.entry_id
        assert ("x-request-id", "ops-unary-1") in tuple(call.initial_metadata())
        batch = evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(
                submissions=[submission(f"loan-ops-{i}") for i in range(2, 5)]
            ),
            timeout=30,
        )
        assert all(r.receipt.entry_id for r in batch.results)
        access = access_service_pb2_grpc.AccessServiceStub(channel)
        with pytest.raises(grpc.RpcError) as role:  # a lender may not read the statistics
            access.GetStatistics(access_service_pb2.GetStatisticsRequest(), timeout=10)
        assert role.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as who:
            evidence.GetEvidence(
                ev.GetEvidenceRequest(entry_id=reply.receipt.entry_id),
                metadata=[("x-role", "judge"), ("x-request-id", "bad id <script>")],
                timeout=10,
            )
        assert who.value.code() == grpc.StatusCode.UNAUTHENTICATED
        generated = dict(who.value.initial_metadata())["x-request-id"]  # type: ignore[attr-defined]
        assert re.fullmatch(r"[0-9a-f]{32}", generated), generated

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    get = "EvidenceService/GetEvidence"
    refused = _key("gateway_rpc_calls_total", rpc=get, code="UNAUTHENTICATED", role="none")
    after = _scrape_until(metrics_url, lambda now: now.get(refused, 0) > before.get(refused, 0))
    submit = "EvidenceService/SubmitEvidence"
    assert moved("gateway_rpc_calls_total", rpc=submit, code="OK", role="lender") == 1
    assert moved("gateway_rpc_duration_seconds_count", rpc=submit) == 1
    assert moved("gateway_rpc_duration_seconds_bucket", rpc=submit, le="+Inf") == 1
    assert moved("gateway_rpc_duration_seconds_sum", rpc=submit) > 0
    batch_rpc = "EvidenceService/BatchSubmitEvidence"
    assert moved("gateway_rpc_calls_total", rpc=batch_rpc, code="OK", role="lender") == 1
    statistics = "AccessService/GetStatistics"
    assert (
        moved("gateway_rpc_calls_total", rpc=statistics, code="PERMISSION_DENIED", role="lender")
        == 1
    )
    assert moved("gateway_rpc_denied_total", rpc=statistics, reason="role") == 1
    assert moved("gateway_rpc_calls_total", rpc=get, code="UNAUTHENTICATED", role="none") == 1
    assert moved("gateway_rpc_denied_total", rpc=get, reason="unauthenticated") == 1
    # the ledger: 4 entries in one or more commits, each timed
    assert moved("gateway_ledger_batch_size_sum") == 4
    assert moved("gateway_ledger_batch_size_count") >= 1
    assert moved("gateway_ledger_commit_seconds_count") == moved("gateway_ledger_batch_size_count")
    for stage in ("queued", "prepare", "time_stamp", "handoff"):  # each batch, each stage
        assert moved("gateway_ledger_stage_seconds_count", stage=stage) >= moved(
            "gateway_ledger_batch_size_count"
        ), stage
    assert moved("gateway_log_entries") == 4
    assert _value(after, "gateway_ledger_queue_items") == 0
    assert _value(after, "gateway_ledger_oldest_queued_seconds") == 0
    # tokens by TSA (its host:port): the 4 entries' (and maybe a health probe's)
    assert moved("gateway_tsa_tokens_total", tsa=_host_port(tsa)) >= 4
    assert not any(name.startswith("gateway_anchor") for name, _ in after)  # anchoring off
    # no institution name in any label
    assert not any("dev-bank" in value for _, labels in after for _, value in labels)


def _host_port(url: str) -> str:
    return url.removeprefix("http://").split("/")[0]


def test_a_tsa_that_goes_down_is_counted(tmp_path: Path) -> None:
    """The TSA stops: the submission fails with UNAVAILABLE, and the TSA's failures are
    counted as unreachable under its host:port."""
    with _gateway(tmp_path) as (process, metrics_url, tsa, stop_tsa), process.channel() as channel:
        evidence = ev_grpc.EvidenceServiceStub(channel)
        request = ev.SubmitEvidenceRequest(submission=submission("loan-ops-tsa"))
        assert evidence.SubmitEvidence(request, timeout=30).receipt.entry_id
        before = _scrape(metrics_url)
        stop_tsa()
        with pytest.raises(grpc.RpcError) as down:
            evidence.SubmitEvidence(
                ev.SubmitEvidenceRequest(submission=submission("loan-ops-tsa")), timeout=30
            )
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE
        unavailable = _key(
            "gateway_rpc_calls_total",
            code="UNAVAILABLE",
            role="lender",
            rpc="EvidenceService/SubmitEvidence",
        )
        after = _scrape_until(metrics_url, lambda now: unavailable in now)
    label = _host_port(tsa)
    failures = ("gateway_tsa_failures_total", (("reason", "unreachable"), ("tsa", label)))
    assert after.get(failures, 0) - before.get(failures, 0) >= 1
    assert after.get(unavailable) == 1


def test_each_call_is_one_json_log_line(run: Run) -> None:
    process = run[0]
    with process.channel() as channel:
        evidence = ev_grpc.EvidenceServiceStub(channel)
        evidence.SubmitEvidence(
            ev.SubmitEvidenceRequest(submission=submission("loan-ops-log")),
            metadata=[("x-request-id", "ops-log-1"), ("x-institution", "bank-log")],
            timeout=30,
        )
        with pytest.raises(grpc.RpcError) as refused:
            evidence.GetEvidence(
                ev.GetEvidenceRequest(entry_id="no-such-entry"),
                metadata=[("x-request-id", "ops-log-2"), ("x-institution", "bank-log")],
                timeout=10,
            )
    deadline = time.monotonic() + 10
    while True:  # the log's writer thread writes the lines a moment later
        lines = [json.loads(x) for x in process.log_text().splitlines() if x.startswith("{")]
        calls = {x.get("request_id"): x for x in lines if x["logger"] == "gateway.calls"}
        if "ops-log-2" in calls or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    ok, failed = calls["ops-log-1"], calls["ops-log-2"]
    assert ok["institution"] == failed["institution"] == "bank-log"
    assert ok["role"] == "lender"
    assert ok["rpc"] == "EvidenceService/SubmitEvidence" and ok["code"] == "OK"
    assert failed["rpc"] == "EvidenceService/GetEvidence"
    assert failed["code"] == refused.value.code().name != "OK"
    for line in (ok, failed):
        assert line["level"] == "INFO"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
        assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < 30_000
    assert all({"time", "level", "logger", "message"} <= set(x) for x in lines)


def test_metrics_listener_sheds_idle_connections(run: Run) -> None:
    """Idle connections beyond its few slots are closed, and a scrape answers again
    once they go."""

    metrics_url = run[1]
    host, port = metrics_url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(12)]
    try:
        time.sleep(0.3)
        closed = 0
        for sock in idle:
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                closed += sock.recv(1) == b""
        assert closed >= 4  # more than MAX_CONNECTIONS (8): the rest were shut at once
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # the slots' threads see their connection close a moment later
        try:
            assert "gateway_rpc_calls_total" in {name for name, _ in _scrape(metrics_url)}
            return
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_metrics_listener_closes_connections_that_trickle_their_request(run: Run) -> None:
    """Slowloris: connections that fill every slot and send their request a byte at a
    time, each byte well within the timeout of one read, are closed once the whole
    request has taken the listener's timeout, and a scrape answers again."""
    metrics_url = run[1]
    host, port = metrics_url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    request = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 1000
    slow = [socket.create_connection((host, int(port)), timeout=5) for _ in range(8)]
    opened = time.monotonic()
    closed: dict[int, float] = {}
    try:
        for sent in range(int(3 * TIMEOUT_SECONDS)):  # a byte each second, per connection
            for number, sock in enumerate(slow):
                if number in closed:
                    continue
                try:
                    sock.send(request[sent : sent + 1])
                    sock.settimeout(0.0)
                    with contextlib.suppress(BlockingIOError):
                        if sock.recv(1) == b"":
                            closed[number] = time.monotonic() - opened
                except OSError:  # reset by the listener
                    closed[number] = time.monotonic() - opened
            if len(closed) == len(slow):
                break
            time.sleep(1.0)
    finally:
        for sock in slow:
            sock.close()
    assert len(closed) == len(slow), f"still held after {3 * TIMEOUT_SECONDS:g} s: {closed}"
    assert max(closed.values()) < TIMEOUT_SECONDS + 3, closed
    assert "gateway_rpc_calls_total" in {name for name, _ in _scrape(metrics_url)}


def test_the_config_keys_reach_the_process(tmp_path: Path) -> None:
    """A non-loopback metrics address in development mode is refused at start."""
    pki = tmp_path / "data" / "pki"
    make_pki(pki)
    config = write_config(tmp_path, sections={"metrics": {"listen": "0.0.0.0:0"}})
    process = GatewayProcess(config, tmp_path)
    with pytest.raises(RuntimeError, match=r"metrics\.listen .*loopback"):
        process.start(timeout=20)

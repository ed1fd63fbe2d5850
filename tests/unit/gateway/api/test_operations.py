"""Operations: health says NOT_SERVING when the ledger's oldest item waits too long;
request ids; the JSON log lines; the metrics' and logging's configuration keys."""

from __future__ import annotations

import io
import json
import logging
import queue
import sys
import threading
from collections.abc import Callable

import pytest
from grpc_health.v1 import health_pb2

from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.api.observe import request_id_of
from gateway.config import ConfigError, load_config
from gateway.logsetup import JsonFormatter, TextFormatter, _Handoff, configure_logging
from gateway.metrics import Metrics
from tests.support.grpc_client import submission
from tests.unit.gateway.api.conftest import Harness
from tests.unit.gateway.api.test_server import check, wait_for

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_is_not_serving_while_the_oldest_item_waits_past_the_bound(
    start_harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """The commit stage is held after its transaction: the submission waits, and once it
    has waited longer than max_queue_age_seconds the gateway (and each API service) is
    NOT_SERVING; released, it answers and the gateway is SERVING again."""
    h = start_harness(max_queue_age_seconds=0.3)
    assert check(h) == SERVING
    h.store.hold = True
    answers: list[ev.SubmitEvidenceResponse] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            h.evidence.SubmitEvidence(
                ev.SubmitEvidenceRequest(submission=submission("loan-held")), timeout=30
            )
        )
    )
    caller.start()
    try:
        assert h.store.committed.wait(10)
        assert wait_for(h, NOT_SERVING) == NOT_SERVING
        assert check(h, "evidence_gateway.v1.EvidenceService") == NOT_SERVING
        assert h.ledger.oldest_queued_seconds() > 0.3
        assert h.ledger.health()["queue"] is False
    finally:
        h.store.release.set()
        caller.join(30)
    assert answers and answers[0].receipt.entry_id
    assert wait_for(h, SERVING) == SERVING
    assert h.ledger.oldest_queued_seconds() == 0.0
    assert "the oldest queued item has waited" in caplog.text
    assert "health: NOT_SERVING (queue down)" in caplog.text


def test_without_a_bound_health_does_not_report_the_queue(harness: Harness) -> None:
    assert set(harness.ledger.health()) == {"store", "tsa"}


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("req-1.a:b_C", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("bad id", False),
        ("id\u202eevil", False),
        ("a\nINFO fake line", False),
    ],
)
def test_request_id_is_the_callers_when_sane(header: str, kept: bool) -> None:
    got = request_id_of([("other", "v"), ("x-request-id", header)])
    if kept:
        assert got == header
    else:
        assert got != header and len(got) == 32 and int(got, 16) >= 0


def test_request_id_is_generated_without_a_header() -> None:
    first, second = request_id_of(None), request_id_of([("x-institution", "bank-a")])
    assert first != second and len(first) == len(second) == 32


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("gateway.calls", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_json_lines_are_one_ascii_line_with_the_calls_fields() -> None:
    record = _record(
        "%s %s",
        "EvidenceService/GetEvidence",
        "a\nforged\u202e\x1b[31m line",
        request_id="r-1",
        institution="bank-a",
        role="lender",
        rpc="EvidenceService/GetEvidence",
        code="NOT_FOUND",
        duration_ms=1.25,
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line and line.isascii()
    data = json.loads(line)
    assert list(data)[:8] == [
        "time",
        "level",
        "request_id",
        "institution",
        "role",
        "rpc",
        "code",
        "duration_ms",
    ]
    assert data["message"] == "EvidenceService/GetEvidence a\nforged\u202e\x1b[31m line"
    assert (data["level"], data["code"], data["duration_ms"]) == ("INFO", "NOT_FOUND", 1.25)
    assert data["time"].endswith("Z") and len(data["time"]) == len("2026-01-02T03:04:05.678Z")
    text = TextFormatter().format(record)
    assert text.endswith("request_id=r-1 institution=bank-a role=lender")


def test_a_json_line_carries_the_traceback_of_an_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "gateway.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    data = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in data["exception"] and data["level"] == "ERROR"


def test_the_log_queue_is_bounded_and_says_what_it_dropped() -> None:
    records: queue.Queue[logging.LogRecord] = queue.Queue(2)
    handoff = _Handoff(records)
    for n in range(5):
        handoff.emit(_record("line %d", n))
    assert handoff.dropped == 3 and records.qsize() == 2
    records.get_nowait()
    records.get_nowait()
    handoff.emit(_record("after"))
    notice, after = records.get_nowait(), records.get_nowait()
    assert notice.getMessage().startswith("3 log records were dropped")
    assert after.getMessage() == "after" and handoff.dropped == 0


def test_configure_logging_writes_json_from_its_own_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    out = io.StringIO()
    listener = configure_logging("json", stream=out)
    assert listener is not None
    try:
        logging.getLogger("gateway.test").warning("queued %s", "line")
    finally:
        listener.stop()
        listener._thread = None
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["message"] == "queued line"
    # a host that configured logging keeps its handlers
    monkeypatch.setattr(root, "handlers", [logging.NullHandler()])
    assert configure_logging("json") is None


def test_operations_keys_from_the_environment() -> None:
    config = load_config(
        None,
        environ={
            "GATEWAY_METRICS_LISTEN": "127.0.0.1:9464",
            "GATEWAY_LOGGING_FORMAT": "json",
            "GATEWAY_LOGGING_CALLS": "false",
            "GATEWAY_LOG_MAX_QUEUE_AGE_SECONDS": "12.5",
        },
    )
    assert config.metrics_listen == "127.0.0.1:9464"
    assert (config.logging_format, config.logging_calls) == ("json", False)
    assert config.log_max_queue_age_seconds == 12.5
    defaults = load_config(None, environ={})
    assert defaults.metrics_listen == ""  # off unless asked for
    assert (defaults.logging_format, defaults.logging_calls) == ("text", True)
    assert defaults.log_max_queue_age_seconds == 30.0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GATEWAY_LOGGING_FORMAT": "xml"}, "logging.format must be text or json"),
        ({"GATEWAY_LOG_MAX_QUEUE_AGE_SECONDS": "-1"}, "log.max_queue_age_seconds"),
        ({"GATEWAY_METRICS_LISTEN": "9464"}, "metrics.listen: listen address '9464'"),
        (
            {"GATEWAY_METRICS_LISTEN": "0.0.0.0:9464", "GATEWAY_INSECURE_DEV": "true"},
            "development mode serves metrics on a loopback address only",
        ),
    ],
)
def test_bad_operations_keys_are_clear_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, environ=environ)


def test_metrics_count_once_per_label_set_without_institutions() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.call("EvidenceService/SubmitEvidence", "OK", "lender", 0.004, None)
    metrics.call("AccessService/GetStatistics", "PERMISSION_DENIED", "lender", 0.001, "role")
    metrics.batch_committed(7, 0.02)
    metrics.batch_stage("time_stamp", 0.0007)
    metrics.batch_stage("time_stamp", 0.003)
    metrics.tsa_tokens("in-process", 7)
    metrics.tsa_failure("in-process", "failed", 0)  # nothing failed: no series
    get = metrics.registry.get_sample_value
    calls = {"rpc": "EvidenceService/SubmitEvidence", "code": "OK", "role": "lender"}
    assert get("gateway_rpc_calls_total", calls) == 3
    assert get("gateway_rpc_duration_seconds_bucket", {"rpc": calls["rpc"], "le": "0.005"}) == 3
    denied = {"rpc": "AccessService/GetStatistics", "reason": "role"}
    assert get("gateway_rpc_denied_total", denied) == 1
    assert get("gateway_ledger_batch_size_sum") == 7
    stamped = {"stage": "time_stamp"}
    assert get("gateway_ledger_stage_seconds_count", stamped) == 2
    assert get("gateway_ledger_stage_seconds_bucket", {**stamped, "le": "0.001"}) == 1
    assert get("gateway_tsa_tokens_total", {"tsa": "in-process"}) == 7
    assert get("gateway_tsa_failures_total", {"tsa": "in-process", "reason": "failed"}) is None
    assert Metrics().registry is not metrics.registry  # one registry per server


def test_the_docs_list_every_operations_key_with_its_variable_and_default() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[4] / "docs" / "gateway.md").read_text()
    rows = {
        (section, key): (variable, default)
        for section, key, variable, default in re.findall(
            r"^\| `\[(metrics|logging|log)\] (\w+)` \| `(GATEWAY_\w+)` \| ([^|]*) \|", doc, re.M
        )
    }
    defaults = load_config(None, environ={})
    for section, key, attribute, default in (
        ("metrics", "listen", "metrics_listen", "empty: off"),
        ("logging", "format", "logging_format", "`text`"),
        ("logging", "calls", "logging_calls", "`true`"),
        ("log", "max_queue_age_seconds", "log_max_queue_age_seconds", "`30`"),
    ):
        assert rows[(section, key)] == (f"GATEWAY_{section}_{key}".upper(), default)
        shown = default.strip("`")
        value = getattr(defaults, attribute)
        assert (shown == "empty: off" and value == "") or shown == str(value).lower().removesuffix(
            ".0"
        )

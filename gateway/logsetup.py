"""The gateway's log: one line per event, text or JSON, written off the serving threads.

:func:`configure_logging` makes the root logger hand each record to a queue
(:class:`_Handoff`: no formatting, no I/O on the thread that logs) and starts
a :class:`logging.handlers.QueueListener` thread that formats and writes the
lines to standard error. The queue is bounded: when the writer cannot keep up
(standard error blocked), new records are dropped and counted, and a warning
says how many once there is room again; the gateway never waits on its log.

``[logging] format``:

* ``text``: ``2026-01-02 03:04:05,678 INFO gateway.calls: EvidenceService/SubmitEvidence
  OK 3.2 ms request_id=... institution=bank-a role=lender``;
* ``json``: one JSON object per line, ASCII only (any control or other
  character is a ``\\uXXXX`` escape, so no text can start a line of its own):
  ``time`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``, ``message``,
  and for the lines of a call ``request_id``, ``institution``, ``role``,
  ``rpc``, ``code``, ``duration_ms``; a record logged while a call is served
  carries the call's ``request_id`` too; ``exception`` holds a traceback.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

from gateway.api.observe import current_request_id

__all__ = ["CALL_FIELDS", "JsonFormatter", "TextFormatter", "configure_logging"]

#: The fields of a call's line, in the order they are written.
CALL_FIELDS = ("request_id", "institution", "role", "rpc", "code", "duration_ms")
#: Records waiting for the writer at most; beyond, they are dropped (and counted).
MAX_QUEUED_RECORDS = 10_000


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
        }
        for name in CALL_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        out["logger"] = record.name
        out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=True, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with a call's fields appended as ``name=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "institution", "role")
            if getattr(record, name, None)
        ]
        return f"{line} {' '.join(extra)}" if extra else line


class _Handoff(QueueHandler):
    """Puts records on the queue as they are: formatting happens on the writer's thread."""

    def __init__(self, records: queue.Queue[Any]) -> None:
        super().__init__(records)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id()
            if request_id is not None:
                record.request_id = request_id
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            if self.dropped:
                dropped = logging.LogRecord(
                    "gateway.log", logging.WARNING, __file__, 0,
                    "%d log records were dropped: the log's writer could not keep up",
                    (self.dropped,), None,
                )  # fmt: skip
                self.queue.put_nowait(dropped)
                self.dropped = 0
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


def configure_logging(
    fmt: str = "text", *, verbose: bool = False, stream: TextIO | None = None
) -> QueueListener | None:
    """Route the root logger through the queue to ``stream`` (standard error) in ``fmt``.

    Like :func:`logging.basicConfig`, it does nothing (and returns ``None``) when
    the root logger has handlers already (a host that configured logging, the
    tests). The listener is stopped (its queue written out) at exit; the caller
    may stop it earlier.
    """
    root = logging.getLogger()
    if root.handlers:
        return None
    writer = logging.StreamHandler(stream if stream is not None else sys.stderr)
    writer.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    records: queue.Queue[Any] = queue.Queue(MAX_QUEUED_RECORDS)
    root.addHandler(_Handoff(records))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    listener = QueueListener(records, writer)
    listener.start()
    atexit.register(_stop, listener)
    return listener


def _stop(listener: QueueListener) -> None:
    if listener._thread is not None:  # stop() twice would hang
        listener.stop()

"""The JSON form of a report (`court-verify ... --json`), for programs that read verdicts.

One object::

    {"outcome": "valid" | "invalid" | "inconclusive",
     "checks": [{"name": ..., "status": "passed" | "failed" | "not_run", "detail": ...}, ...],
     "summary": "VALID: ..." | "INVALID: ..."}

and, for a dossier, ``"dossier"``: how many records it has, which were
withheld and, with ``--rpc``, how far the log has grown past its checkpoint
(docs/court-verify.md).

Every string is escaped with :func:`court.report.escape.escape_text` before
it is encoded, exactly as in the text report, so a program that decodes the
JSON and prints a detail prints no control, bidi or other invisible character
of the evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from court.report.escape import escape_text
from court.verify.result import Check

__all__ = ["report_json"]


def _escaped(value: object) -> object:
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, Mapping):
        return {escape_text(str(k)): _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def report_json(
    checks: Iterable[Check],
    summary: str,
    outcome: str,
    extra: Mapping[str, object] | None = None,
) -> str:
    """The report as one JSON document (UTF-8 text, no trailing newline); ``extra``'s
    keys are added after ``summary`` (strings escaped as everywhere)."""
    document: dict[str, object] = {
        "outcome": outcome,
        "checks": [
            {
                "name": escape_text(c.name),
                "status": c.status.value,
                "detail": escape_text(c.detail),
            }
            for c in checks
        ],
        "summary": escape_text(summary),
    }
    for key, value in (extra or {}).items():
        document[key] = _escaped(value)
    return json.dumps(document, ensure_ascii=False, indent=2)

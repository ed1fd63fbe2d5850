"""The JSON form of a report (`court-verify ... --json`), for programs that read verdicts.

One object::

    {"outcome": "valid" | "invalid" | "inconclusive",
     "checks": [{"name": ..., "status": "passed" | "failed" | "not_run", "detail": ...}, ...],
     "summary": "VALID: ..." | "INVALID: ..."}

Every string is escaped with :func:`court.report.escape.escape_text` before
it is encoded, exactly as in the text report, so a program that decodes the
JSON and prints a detail prints no control, bidi or other invisible character
of the evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from court.report.escape import escape_text
from court.verify.result import Check

__all__ = ["report_json"]


def report_json(checks: Iterable[Check], summary: str, outcome: str) -> str:
    """The report as one JSON document (UTF-8 text, no trailing newline)."""
    document = {
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
    return json.dumps(document, ensure_ascii=False, indent=2)

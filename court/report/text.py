"""Plain-text rendering of named checks, for terminals and logs.

Every line is escaped with :func:`court.report.escape.escape_text`: a check's
detail quotes the evidence (certificate subjects, origins), and nothing from
the evidence may start a line, move the cursor or reorder what is shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from court.report.escape import escape_text
from court.verify.result import Check, CheckStatus

__all__ = ["check_lines", "invalid_line", "report_lines"]

_MARKS = {CheckStatus.PASSED: "PASS", CheckStatus.FAILED: "FAIL", CheckStatus.NOT_RUN: "----"}


def check_lines(checks: Iterable[Check]) -> list[str]:
    """One line per check: mark, name, detail (name and detail escaped)."""
    rows = [(c.status, escape_text(c.name), escape_text(c.detail)) for c in checks]
    width = max((len(name) for _, name, _ in rows), default=0)
    return [
        f"{_MARKS[status]}  {name:<{width}}  {detail}".rstrip() for status, name, detail in rows
    ]


def invalid_line(checks: Iterable[Check]) -> str:
    """The closing line of a failed verification: the first check that failed (unescaped)."""
    failed = next((c for c in checks if c.failed), None)
    return f"INVALID: {failed.name if failed else 'a required check did not pass'}"


def report_lines(checks: Iterable[Check], closing: str) -> list[str]:
    """The whole report: one line per check, then the closing verdict line, all escaped."""
    return [*check_lines(checks), escape_text(closing)]

"""Plain-text rendering of named checks, for terminals and logs."""

from __future__ import annotations

from collections.abc import Iterable

from court.verify.result import Check, CheckStatus

__all__ = ["check_lines", "invalid_line"]

_MARKS = {CheckStatus.PASSED: "PASS", CheckStatus.FAILED: "FAIL", CheckStatus.NOT_RUN: "----"}


def check_lines(checks: Iterable[Check]) -> list[str]:
    """One line per check: mark, name, detail."""
    rows = list(checks)
    width = max((len(c.name) for c in rows), default=0)
    return [f"{_MARKS[c.status]}  {c.name:<{width}}  {c.detail}".rstrip() for c in rows]


def invalid_line(checks: Iterable[Check]) -> str:
    """The closing line of a failed verification: the first check that failed."""
    failed = next((c for c in checks if c.failed), None)
    return f"INVALID: {failed.name if failed else 'a required check did not pass'}"

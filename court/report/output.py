"""Write a verification report to a stream, as text or as JSON (the CLIs' one output path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

from court.report.json_report import report_json
from court.report.text import report_lines
from court.verify.result import Check

__all__ = ["write_report"]


def write_report(
    out: TextIO,
    checks: Sequence[Check],
    summary: str,
    *,
    outcome: str,
    as_json: bool,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Print the checks and the closing ``summary`` line, escaped (see :mod:`court.report.escape`).

    ``outcome`` is ``"valid"``, ``"invalid"`` or ``"inconclusive"``; it is
    part of the JSON form only (the text form says it in its last line), and so
    is ``extra`` (more keys of the JSON object).
    """
    if as_json:
        print(report_json(checks, summary, outcome, extra), file=out)
        return
    for line in report_lines(checks, summary):
        print(line, file=out)

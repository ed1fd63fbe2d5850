"""docs/court-verify.md names every check of `court-verify bundle|dossier`."""

from __future__ import annotations

from pathlib import Path

from court.verify.bundle import BUNDLE_CHECKS
from court.verify.case_history import CASE_CHECKS
from court.verify.dossier import LOAN_CHECKS

DOC = (Path(__file__).resolve().parents[4] / "docs" / "court-verify.md").read_text()


def test_every_check_is_documented() -> None:
    for name in (*BUNDLE_CHECKS, *LOAN_CHECKS, *CASE_CHECKS):
        assert f"| `{name}` |" in DOC, name
    for phrase in ("log.vkey", "chain.json", "**0**", "**1**", "**2**"):
        assert phrase in DOC

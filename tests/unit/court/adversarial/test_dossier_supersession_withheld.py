"""ADVERSARIAL (issue 10 review): supersession claims a dossier cannot back up.

A dossier's ``supersededBy`` lists are outside every signature. "Supersession
consistent" accepts a listed correction whenever the correcting record is
withheld (no opening: ``opened is None`` in ``court.verify.dossier._supersession``),
and the certificate then prints the claim as fact ("superseded → #4"). A lender
handing a court its own dossier can strip the opening (and token) of any record
and so:

* claim that a damaging record was corrected by a later one it withholds, or
* hide a real correction by withholding it and dropping the ``supersededBy``.

Fixed: a supersededBy entry naming a withheld record is not run (the dossier is
inconclusive), never a pass, and while records are withheld the check says that
they may correct others (tests/unit/court/bundles/test_dossier_withheld.py has
the rest: the summary, --require-opened, the certificate).
"""

from __future__ import annotations

from court.verify.steps import Outcome
from tests.unit.court.bundles.conftest import Made
from tests.unit.court.bundles.test_dossier_verify import run

SUPERSESSION = "Supersession consistent"


def _withhold(message: object, i: int) -> None:
    record = message.records[i]  # type: ignore[attr-defined]
    record.ClearField("opening")
    record.ClearField("timestamp_token")


def test_a_correction_claimed_by_a_withheld_record_is_not_verified(made: Made) -> None:
    message = made.dossier_copy()
    _withhold(message, 3)  # record #4: any record of the loan, stripped by the lender
    message.records[0].superseded_by.append(message.records[3].entry_id)  # "#1 was corrected"
    result = run(made, message)
    check = result.verdict[SUPERSESSION]
    assert not check.passed, check  # today: passed, "1 correction(s), each listed"
    assert result.outcome is not Outcome.VALID


def test_a_withheld_record_is_said_to_leave_supersession_unchecked(made: Made) -> None:
    message = made.dossier_copy()
    _withhold(message, 5)  # record #6 is the correction of record #2 ...
    message.records[1].ClearField("superseded_by")  # ... and #2 no longer says so
    result = run(made, message)
    check = result.verdict[SUPERSESSION]
    # today: passed, "0 correction(s), each listed": the court reads #2 as standing
    assert not check.passed or "withheld" in check.detail, check

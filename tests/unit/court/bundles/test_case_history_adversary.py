"""Adversarial tests of the court's case checks (issue 11 review): a holder that hands
over a dossier with the document of a case's last event removed.

A dossier the gateway makes since issue 11 carries the document of every case event
record its holder may read, so a case with some documents and not others is a file
someone edited. What the court is shown as the case's history (案件进程) must then not
look complete. A finding not fixed yet is a strict xfail naming it.
"""

from __future__ import annotations

import pytest

from court.bundles import read_dossier
from court.report.certificate_of import dossier_certificate
from tests.support.bundle_builder import to_json
from tests.unit.court.bundles.test_case_history import Made, copy, made, run

__all__ = ["made"]  # the fixture, shared with test_case_history


@pytest.mark.xfail(
    strict=True,
    reason="finding (medium): stripping the document of a case's last event (e.g. its "
    "amount recovered, settlement or termination) leaves the dossier valid and the "
    "certificate lists the other events as the case's history, ending in the status "
    "before it, with nothing saying the history is incomplete (suggested: list no event "
    "of a case that was not replayed, or mark it incomplete in the 案件进程 section; and "
    "fail 'Case documents match records' when one case has some documents and not others, "
    "which no gateway-made file has)",
)
def test_a_case_whose_last_document_was_removed_is_not_shown_as_its_history(
    made: Made,
) -> None:
    message = copy(made.good)
    last = max(i for i, r in enumerate(message.records) if r.document)
    message.records[last].document = b""  # the amount recovered
    result = run(made, message)
    data = dossier_certificate(
        result, read_dossier(to_json(message)), input_name="d.json", input_sha256=bytes(32)
    )
    assert result.cases is not None and result.cases.incomplete_cases
    shown = {e.case_id for e in data.case_history}
    assert not shown & set(result.cases.incomplete_cases), [
        (e.event, e.status_after) for e in data.case_history
    ]

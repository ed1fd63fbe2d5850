"""Adversarial tests of the court's case checks (issue 11 review): a holder that hands
over a dossier with the document of a case's last event removed.

A dossier the gateway makes since issue 11 carries the document of every case event
record its holder may read, so a case with some documents and not others is a file
someone edited. What the court is shown as the case's history (案件进程) must then not
look complete.
"""

from __future__ import annotations

from court.bundles import read_dossier
from court.report.certificate_of import dossier_certificate
from court.verify.case_history import CHECK_CASE_DOCUMENTS
from tests.support.bundle_builder import to_json
from tests.unit.court.bundles.test_case_history import Made, copy, made, run

__all__ = ["made"]  # the fixture, shared with test_case_history


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
    documents = result.verdict[CHECK_CASE_DOCUMENTS]
    assert documents.failed, documents  # not "made before the gateway carried documents"
    entry = message.records[last].entry_id
    assert f"record #{last + 1} (entry {entry!r}" in documents.detail
    assert data.outcome == "invalid"
    assert data.case_history == (), [(e.event, e.status_after) for e in data.case_history]

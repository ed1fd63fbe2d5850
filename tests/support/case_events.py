"""Case events for the WatchCases tests that drive a Notifier by hand: a table source
with nothing to replay, and the n-th event of one accepted case."""

from __future__ import annotations

from court.evidence.case_terms import CaseStatus
from gateway.store.cases import StoredCaseEvent


class NoTables:
    """Case tables with no past events: a watch goes live at once."""

    def party_events(self, *args: object) -> list[StoredCaseEvent]:
        return []


def case_event(n: int) -> StoredCaseEvent:
    """Event ``n`` of case ``c`` between bank-a and court-1 (log position ``n``)."""
    return StoredCaseEvent(
        case_id="c",
        event_number=n,
        leaf_index=n,
        entry_id=f"e{n}",
        lender="bank-a",
        body="court-1",
        status=CaseStatus.ACCEPTED,
        document=b"",
    )

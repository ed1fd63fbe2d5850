"""Court-side verification of a dossier: every record of one loan, shown complete (pure).

A **dossier** (``application/vnd.court-evidence.dossier.v1+json``,
docs/bundles.md) holds every record of one loan up to a signed checkpoint, in
loan sequence order, each with its token and inclusion proof (and its opening
when the holder may read it), the proof of the loan's head in the checkpoint's
loan map (docs/loan-map.md), the TSAs' certificates once, and the anchor that
covers the head. :func:`verify_dossier` checks it trusting only the TSA roots
and the log key, and names every check:

* "Checkpoint signature valid", "Checkpoint fields match note";
* every check of one record (:func:`court.verify.bundle.record_checks`: the
  token's, "Leaf well-formed" ... "Inclusion proof valid") folded over the
  records: one line per check, failed when a record fails it (naming the first
  such record), passed when every record that could run it passed (a withheld
  record, without opening, does not run the checks that need its private
  fields);
* "Loan map line present": the checkpoint carries one ``loan-map/v1`` line;
* "Loan records chained without gaps": loan sequence 1, 2, ... n in order,
  each leaf naming the previous one's leaf hash, one loan key, leaf indices
  increasing;
* "Loan head proof valid": the head proof is for the records' loan key and
  leads to the map root the checkpoint signs;
* "Loan head is last record": the head (sequence, leaf index, leaf hash) is
  the last record's: nothing of the loan after it is left out;
* "Supersession consistent": a record that says it supersedes another names
  an earlier record of the loan, and each record's ``superseded_by`` lists
  exactly later records of the loan (those opened naming it, at least). A
  correction is checked only through the correcting record's opening (what it
  supersedes is in its committed private record): a ``superseded_by`` entry
  naming a withheld record cannot be checked, so the check is *not run*
  (the dossier is then inconclusive), and while records are withheld the
  detail says that they may correct other records unchecked;
* "Case documents match records" and "Case history consistent": the case
  event documents the dossier carries match their records, and each case's
  events replay through the transition table (:mod:`court.verify.case_history`);
* with ``require_opened`` (``--require-opened``, for a dossier a lender hands
  in about its own loan) "Every record opened": no record is withheld;
* the anchor checks of :func:`court.verify.anchored.anchor_checks`, for the head.

A **withheld** record (no opening) proves its place in the loan's chain (leaf,
inclusion, loan key, sequence, links), not its content: a dossier with
withheld records is valid for what it proves (the chain is complete up to the
checkpoint, the opened records are authentic), and
:attr:`DossierVerification.withheld` lets every report say how many records
were not opened.

All tokens share one :class:`~court.verify.x509chain.ChainMemo`: each TSA
chain's signatures are checked once, whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509

from court.evidence.leaf import LeafFields
from court.verify.anchor import ChainView, OnChainAnchor
from court.verify.bundle import (
    ANCHOR_STEPS,
    CHECK_CHECKPOINT_FIELDS,
    CHECK_RECORD_FIELDS,
    BundleAnchor,
    BundleRecord,
    CheckpointCopy,
    RecordResult,
    anchor_checks,
    checkpoint_checks,
    record_checks,
)
from court.verify.case_history import (
    CaseFindings,
    case_document_checks,
    case_documents_of,
    case_history_check,
)
from court.verify.checkpoint import Checkpoint
from court.verify.loanmap import LoanHeadProof, LoanMapError, map_root_of, verify_loan_head
from court.verify.result import Check, Checklist, CheckStatus, Verdict
from court.verify.rfc6962 import leaf_hash
from court.verify.steps import (
    CHECK_CHECKPOINT,
    CHECK_INCLUSION,
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_TOKEN,
    Leaf,
    Outcome,
    outcome,
)
from court.verify.token.result import ALWAYS
from court.verify.x509chain import ChainMemo

__all__ = [
    "CHECK_ALL_OPENED",
    "CHECK_HEAD_LAST",
    "CHECK_HEAD_PROOF",
    "CHECK_LOAN_CHAIN",
    "CHECK_MAP_LINE",
    "CHECK_SUPERSESSION",
    "LOAN_CHECKS",
    "Dossier",
    "DossierVerification",
    "verify_dossier",
    "withheld_line",
]

CHECK_MAP_LINE: Final = "Loan map line present"
CHECK_LOAN_CHAIN: Final = "Loan records chained without gaps"
CHECK_HEAD_PROOF: Final = "Loan head proof valid"
CHECK_HEAD_LAST: Final = "Loan head is last record"
CHECK_SUPERSESSION: Final = "Supersession consistent"
#: Run only with ``require_opened``: no record of the dossier is withheld.
CHECK_ALL_OPENED: Final = "Every record opened"
#: The checks about the loan as a whole, in report order.
LOAN_CHECKS: Final = (
    CHECK_MAP_LINE,
    CHECK_LOAN_CHAIN,
    CHECK_HEAD_PROOF,
    CHECK_HEAD_LAST,
    CHECK_SUPERSESSION,
)


@dataclass(frozen=True, slots=True)
class Dossier:
    """A dossier, read from its file by :mod:`court.bundles`."""

    checkpoint: CheckpointCopy
    records: tuple[BundleRecord, ...]
    loan_head: LoanHeadProof
    tsa_certificates: tuple[x509.Certificate, ...]
    anchor: BundleAnchor | None = None


@dataclass(frozen=True, slots=True)
class DossierVerification:
    """Outcome of :func:`verify_dossier`; ``records`` in the dossier's order."""

    verdict: Verdict
    records: tuple[RecordResult, ...]
    required: tuple[str, ...]
    checkpoint: Checkpoint | None = None
    anchored: Checkpoint | None = None
    on_chain: OnChainAnchor | None = None
    #: What "Case documents match records" found (None when it failed).
    cases: CaseFindings | None = None

    @property
    def outcome(self) -> Outcome:
        tokens = [r.token for r in self.records if r.token is not None]
        return outcome(self.verdict, bool(tokens) and all(t.ok for t in tokens), self.required)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def withheld(self) -> tuple[int, ...]:
        """Positions (0-based, loan order) of the records not opened: their content,
        and any correction they make, was not checked."""
        return _withheld(self.records)


def _withheld(results: Sequence[RecordResult]) -> tuple[int, ...]:
    return tuple(i for i, r in enumerate(results) if r.opened is None)


def withheld_line(withheld: int, total: int) -> str:
    """The sentence every report of a dossier with withheld records shows."""
    return f"{withheld} of {total} records withheld (not opened): their content was not checked"


def _where(i: int, record: BundleRecord) -> str:
    return f"record #{i + 1} (entry {record.entry_id!r}, leaf {record.leaf_index})"


def _fold(checks: Checklist, records: Sequence[BundleRecord], verdicts: Sequence[Verdict]) -> None:
    """One check per name over every record's checks (see the module docstring)."""
    n = len(records)
    by_name = [{c.name: c for c in v} for v in verdicts]
    for name in verdicts[0].names:
        each = [v[name] for v in by_name]
        failed = [(i, c) for i, c in enumerate(each) if c.status is CheckStatus.FAILED]
        passed = [c for c in each if c.passed]
        skipped = [(i, c) for i, c in enumerate(each) if c.status is CheckStatus.NOT_RUN]
        if failed:
            i, c = failed[0]
            more = f" ({len(failed) - 1} more record(s) fail it)" if len(failed) > 1 else ""
            checks.failed(name, f"{_where(i, records[i])}: {c.detail}{more}")
        elif n == 1:
            (checks.passed if passed else checks.not_run)(name, each[0].detail)
        elif passed and not skipped:
            checks.passed(name, f"all {n} records; record #1: {passed[0].detail}")
        elif passed:
            i, c = skipped[0]
            checks.passed(
                name,
                f"{len(passed)} of {n} records; not run for {len(skipped)}, e.g. "
                f"{_where(i, records[i])}: {c.detail}",
            )
        else:
            checks.not_run(name, f"for all {n} records: {each[0].detail}")


def _chain(checks: Checklist, records: Sequence[BundleRecord], leaves: Sequence[Leaf]) -> bool:
    previous: Leaf | None = None
    for i, (record, leaf) in enumerate(zip(records, leaves, strict=True)):
        where = _where(i, record)
        problem = ""
        if leaf.loan_sequence != i + 1:
            problem = f"has loan sequence {leaf.loan_sequence}, not {i + 1}"
        elif previous is None:
            if leaf.previous_leaf_hash is not None:
                problem = "is the first, yet names a previous leaf"
        else:
            want = leaf_hash(records[i - 1].leaf)
            if leaf.previous_leaf_hash != want:
                problem = "does not name the previous record's leaf hash"
            elif record.leaf_index <= records[i - 1].leaf_index:
                problem = f"has leaf index {record.leaf_index}, not after the previous record's"
            elif _key(leaf) != _key(previous):
                problem = "is of another loan key than the previous record"
        if problem:
            checks.failed(CHECK_LOAN_CHAIN, f"{where} {problem}")
            return False
        previous = leaf
    checks.passed(
        CHECK_LOAN_CHAIN,
        f"loan sequence 1 to {len(records)}, each record naming the previous one's leaf hash",
    )
    return True


def _key(leaf: Leaf) -> bytes | None:
    return None if isinstance(leaf, LeafFields) else leaf.loan_key


def _head(
    checks: Checklist,
    held: Checkpoint,
    records: Sequence[BundleRecord],
    leaves: Sequence[Leaf],
    proof: LoanHeadProof,
    root: bytes,
) -> None:
    key = _key(leaves[0])
    head = proof.head
    if key is None:
        checks.failed(
            CHECK_HEAD_PROOF, "the records are version 1 leaves, which the map leaves out"
        )
        checks.blocked((CHECK_HEAD_LAST,), CHECK_HEAD_PROOF)
        return
    try:
        if head.loan_key != key:
            raise LoanMapError(
                f"the proof is for loan key {head.loan_key.hex()}, the records' is {key.hex()}"
            )
        verify_loan_head(proof, root)
    except LoanMapError as exc:
        checks.failed(CHECK_HEAD_PROOF, str(exc))
        checks.blocked((CHECK_HEAD_LAST,), CHECK_HEAD_PROOF)
        return
    checks.passed(
        CHECK_HEAD_PROOF,
        f"loan key {key.hex()} has head #{head.loan_sequence} (leaf {head.leaf_index}) in the "
        f"map of the checkpoint at size {held.size}",
    )
    last = records[-1]
    got = (leaves[-1].loan_sequence, last.leaf_index, leaf_hash(last.leaf))
    if (head.loan_sequence, head.leaf_index, head.leaf_hash) != got:
        checks.failed(
            CHECK_HEAD_LAST,
            f"the loan's head is #{head.loan_sequence} at leaf {head.leaf_index}, but the last "
            f"record is #{got[0]} at leaf {got[1]}: records after it are left out",
        )
        return
    checks.passed(CHECK_HEAD_LAST, f"the last record (#{got[0]}, leaf {got[1]}) is the loan's head")


def _supersession(
    checks: Checklist, records: Sequence[BundleRecord], results: Sequence[RecordResult]
) -> None:
    """A correction is what the correcting record's opening says it supersedes; a
    ``supersededBy`` entry naming a withheld record cannot be checked (see the module
    docstring)."""
    position = {r.entry_id: i for i, r in enumerate(records)}
    withheld = _withheld(results)
    named: dict[str, set[str]] = {}
    for i, (record, result) in enumerate(zip(records, results, strict=True)):
        target = result.opened.supersedes if result.opened is not None else None
        if target is None:
            continue
        if position.get(target, len(records)) >= i:
            checks.failed(
                CHECK_SUPERSESSION,
                f"{_where(i, record)} supersedes {target!r}, which is no earlier record of "
                "the loan",
            )
            return
        named.setdefault(target, set()).add(record.entry_id)
    unchecked: list[str] = []
    for i, record in enumerate(records):
        listed = set(record.superseded_by)
        missing = named.get(record.entry_id, set()) - listed
        if missing:
            checks.failed(
                CHECK_SUPERSESSION,
                f"{_where(i, record)} is superseded by {sorted(missing)[0]!r}, which its "
                "supersededBy does not list",
            )
            return
        for later in sorted(listed):
            j = position.get(later, -1)
            opened = results[j].opened if j > i else None
            if j > i and opened is None:
                unchecked.append(
                    f"{_where(i, record)} lists {later!r} in supersededBy, but record #{j + 1} "
                    "is withheld (not opened): what it supersedes cannot be checked"
                )
            elif opened is None or opened.supersedes != record.entry_id:
                checks.failed(
                    CHECK_SUPERSESSION,
                    f"{_where(i, record)} lists {later!r} in supersededBy, which is no later "
                    "record of the loan superseding it",
                )
                return
    if unchecked:
        more = f" ({len(unchecked) - 1} more such claim(s))" if len(unchecked) > 1 else ""
        checks.not_run(
            CHECK_SUPERSESSION,
            f"{unchecked[0]}{more}; ask for the dossier with that record opened",
        )
        return
    detail = f"{sum(len(v) for v in named.values())} correction(s) of opened records, each listed"
    if withheld:
        shown = ", ".join(f"#{i + 1}" for i in withheld[:5]) + (" …" if len(withheld) > 5 else "")
        detail += (
            f"; {len(withheld)} record(s) withheld ({shown}): a withheld record may correct "
            "another record, which cannot be checked"
        )
    checks.passed(CHECK_SUPERSESSION, detail)


def _all_opened(
    checks: Checklist, records: Sequence[BundleRecord], results: Sequence[RecordResult]
) -> None:
    withheld = _withheld(results)
    if withheld:
        i = withheld[0]
        checks.failed(
            CHECK_ALL_OPENED,
            f"{_where(i, records[i])} is withheld (no opening); "
            f"{withheld_line(len(withheld), len(records))} (--require-opened)",
        )
    else:
        checks.passed(CHECK_ALL_OPENED, f"all {len(records)} records opened")


def verify_dossier(
    dossier: Dossier,
    *,
    roots: Sequence[x509.Certificate],
    log_key: str,
    view: ChainView | None = None,
    confirmations: int = 1,
    memo: ChainMemo | None = None,
    require_opened: bool = False,
) -> DossierVerification:
    """Run every named check of a dossier (see the module docstring); with
    ``require_opened`` a withheld record fails "Every record opened"."""
    memo = memo if memo is not None else ChainMemo()
    checks = Checklist()
    held = checkpoint_checks(checks, dossier.checkpoint, log_key)
    records = dossier.records
    results: list[RecordResult] = []
    verdicts: list[Verdict] = []
    for record in records:
        one = Checklist()
        results.append(
            record_checks(
                one,
                record,
                checkpoint=held,
                roots=roots,
                untrusted=dossier.tsa_certificates,
                memo=memo,
            )
        )
        verdicts.append(one.verdict())
    _fold(checks, records, verdicts)

    leaves = [r.public_leaf for r in results]
    if held is None:
        checks.blocked(LOAN_CHECKS, CHECK_CHECKPOINT)
    else:
        root: bytes | None = None
        try:
            root = map_root_of(held)
            if root is None:
                checks.failed(
                    CHECK_MAP_LINE,
                    "the checkpoint has no loan-map/v1 line (signed before the log had its loan "
                    "map?): it cannot show that no later record was left out",
                )
            else:
                checks.passed(CHECK_MAP_LINE, f"map root {root.hex()}")
        except LoanMapError as exc:
            checks.failed(CHECK_MAP_LINE, str(exc))
        complete = [leaf for leaf in leaves if leaf is not None]
        if len(complete) < len(leaves):
            checks.blocked((CHECK_LOAN_CHAIN,), CHECK_LEAF_FORMAT)
            chained = False
        else:
            chained = _chain(checks, records, complete)
        if root is None:
            checks.blocked((CHECK_HEAD_PROOF, CHECK_HEAD_LAST), CHECK_MAP_LINE)
        elif not chained:
            blocker = CHECK_LOAN_CHAIN if checks.is_failed(CHECK_LOAN_CHAIN) else CHECK_LEAF_FORMAT
            checks.blocked((CHECK_HEAD_PROOF, CHECK_HEAD_LAST), blocker)
        else:
            _head(checks, held, records, complete, dossier.loan_head, root)
        _supersession(checks, records, results)
    if require_opened:
        _all_opened(checks, records, results)

    cases = _case_checks(checks, records, results)
    anchored, on_chain = anchor_checks(
        checks,
        held=held,
        anchor=dossier.anchor,
        leaf_index=records[-1].leaf_index,
        log_key=log_key,
        view=view,
        confirmations=confirmations,
    )
    required: list[str] = [
        CHECK_CHECKPOINT,
        CHECK_CHECKPOINT_FIELDS,
        *ALWAYS,
        CHECK_LEAF_FORMAT,
        CHECK_LEAF_TOKEN,
        CHECK_RECORD_FIELDS,
        CHECK_INCLUSION,
        *LOAN_CHECKS,
    ]
    if require_opened:
        required.append(CHECK_ALL_OPENED)
    if dossier.anchor is not None:
        required += ANCHOR_STEPS[:2]
        if view is not None:
            required += ANCHOR_STEPS[2:]
    return DossierVerification(
        verdict=checks.verdict(),
        records=tuple(results),
        required=tuple(dict.fromkeys(required)),
        checkpoint=held,
        anchored=anchored,
        on_chain=on_chain,
        cases=cases,
    )


def _case_checks(
    checks: Checklist, records: Sequence[BundleRecord], results: Sequence[RecordResult]
) -> CaseFindings | None:
    """The case checks (:mod:`court.verify.case_history`): the documents, then the
    history replayed through the transition table."""
    found = case_document_checks(checks, case_documents_of(records, results))
    case_history_check(checks, found)
    return found

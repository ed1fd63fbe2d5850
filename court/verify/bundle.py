"""Court-side verification of an evidence bundle: one record and all that proves it (pure).

An **evidence bundle** (``application/vnd.court-evidence.bundle.v1+json``,
docs/bundles.md) holds one record of the log (its canonical leaf, RFC 3161
token and opening), the TSA's certificates, a signed checkpoint with the
record's inclusion proof, and, once the log is anchored past the record, the
anchored checkpoint with the consistency proof between the two. :mod:`court.bundles`
reads the file into the plain :class:`Bundle`; :func:`verify_bundle` checks it
trusting only the TSA roots and the log key (:class:`court.trust.Trust`), and,
with a :class:`~court.verify.anchor.ChainView` the court read itself, the chain.

The checks, each named, in this order (the same names as a receipt's where
the check is the same, :mod:`court.verify.receipt`):

* every check of :func:`court.verify.token.verify_timestamp` ("DER well-formed" ...
  "Imprint matches" ...), the imprint against the document when one is given,
  else against the digest the opened leaf names;
* "Leaf well-formed", "Leaf opening matches", "Leaf digest matches" (the leaf,
  the document when given, and the token's imprint name one digest), "Leaf
  names token";
* "Record fields match leaf": the bundle's entry id and leaf index (outside the
  signed parts) are the leaf's and the inclusion proof's;
* "Checkpoint signature valid", "Checkpoint fields match note" (the origin,
  size and root the bundle repeats are the signed note's), "Inclusion proof
  valid" (at the checkpoint's size);
* "Anchored checkpoint signature valid" and "Consistency to anchored
  checkpoint" (offline: the anchored checkpoint is the log's, one of the two
  trees is a prefix of the other, and the anchored tree holds the record);
* "Case documents match records" for a case event's record
  (:mod:`court.verify.case_history`);
* with the chain view, the other checks of :func:`court.verify.anchor.check_anchor`
  ("Contract code is EvidenceAnchor", "Log key pinned on chain", "Anchor found
  on chain", "Anchored root matches checkpoint", "Anchor confirmations") for
  the anchored checkpoint.

:func:`record_checks` (the checks of one record) is shared with the dossier
(:mod:`court.verify.dossier`); a ``ChainMemo`` shared by many records checks
each TSA chain's signatures once. Nothing here raises for bad evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509

from court.errors import CourtError
from court.evidence.leaf import LeafFields
from court.evidence.opening import LeafOpening, OpenedLeaf
from court.verify.anchor import ChainView, OnChainAnchor
from court.verify.anchored import (
    ANCHOR_STEPS,
    CHECK_ANCHORED_CHECKPOINT,
    BundleAnchor,
    anchor_checks,
)
from court.verify.case_history import (
    CaseFindings,
    case_document_checks,
    case_documents_of,
    has_case_record,
)
from court.verify.checkpoint import Checkpoint
from court.verify.result import Check, Checklist, Verdict
from court.verify.steps import (
    CHECK_CHECKPOINT,
    CHECK_INCLUSION,
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_TOKEN,
    Leaf,
    Outcome,
    copy_check,
    decode_leaf_or_error,
    document_digest,
    included,
    leaf_digest,
    leaf_format,
    leaf_names_token,
    leaf_opening,
    open_or_error,
    outcome,
    signed_checkpoint,
)
from court.verify.token import CHECK_IMPRINT, TOKEN_CHECKS, TokenVerification, verify_timestamp
from court.verify.token.algorithms import digest_name
from court.verify.token.parse import parse
from court.verify.x509chain import ChainMemo

__all__ = [
    "ANCHOR_STEPS",
    "BUNDLE_CHECKS",
    "CHECK_ANCHORED_CHECKPOINT",
    "CHECK_CHECKPOINT_FIELDS",
    "CHECK_RECORD_FIELDS",
    "RECORD_CHECKS",
    "Bundle",
    "BundleAnchor",
    "BundleRecord",
    "BundleVerification",
    "CheckpointCopy",
    "RecordResult",
    "anchor_checks",
    "checkpoint_checks",
    "record_checks",
    "verify_bundle",
]

CHECK_RECORD_FIELDS: Final = "Record fields match leaf"
CHECK_CHECKPOINT_FIELDS: Final = "Checkpoint fields match note"

#: The checks of one record after the token's (:func:`record_checks`).
RECORD_CHECKS: Final = (
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_TOKEN,
    CHECK_RECORD_FIELDS,
    CHECK_INCLUSION,
)
#: Every check of a bundle after the token's, in report order.
BUNDLE_CHECKS: Final = (
    CHECK_CHECKPOINT,
    CHECK_CHECKPOINT_FIELDS,
    *RECORD_CHECKS,
    *ANCHOR_STEPS,
)

_WITHHELD: Final = (
    "the record is withheld (no opening): its document digest is only in the leaf's commitment"
)
_NO_TOKEN: Final = (
    "the record is withheld: its token is not shown (its imprint is the private document "
    "digest); its leaf, inclusion and place in the loan's chain are still checked"
)


@dataclass(frozen=True, slots=True)
class BundleRecord:
    """One record as a bundle or a dossier carries it (``BundledRecord``)."""

    entry_id: str
    leaf_index: int
    leaf: bytes
    token: bytes
    opening: LeafOpening | None
    proof_leaf_index: int
    proof_tree_size: int
    proof: tuple[bytes, ...]
    superseded_by: tuple[str, ...] = ()
    #: The case event document the gateway carries for a case event record (DER,
    #: docs/cases.md); empty for any other record and for a withheld one.
    document: bytes = b""


@dataclass(frozen=True, slots=True)
class CheckpointCopy:
    """A checkpoint as the file carries it: the signed note and the values it repeats
    (empty or zero when not repeated)."""

    note: str
    origin: str = ""
    size: int = 0
    root_hash: bytes = b""


@dataclass(frozen=True, slots=True)
class Bundle:
    """An evidence bundle, read from its file by :mod:`court.bundles`."""

    record: BundleRecord
    tsa_certificates: tuple[x509.Certificate, ...]
    checkpoint: CheckpointCopy
    anchor: BundleAnchor | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What the checks of one record learnt: the token's verification (``None`` for a
    withheld dossier record shown without its token), the decoded leaf and the opened
    record (``None`` when withheld or not opened)."""

    token: TokenVerification | None
    public_leaf: Leaf | None
    opened: OpenedLeaf | None
    #: The document's digest the record was compared with (``--file`` hashed, or
    #: ``--digest``) and its algorithm; ``None`` and "" when no document was given.
    document_digest: bytes | None = None
    document_algorithm: str = ""


@dataclass(frozen=True, slots=True)
class BundleVerification:
    """Outcome of :func:`verify_bundle`."""

    verdict: Verdict
    record: RecordResult
    required: tuple[str, ...]
    checkpoint: Checkpoint | None = None
    anchored: Checkpoint | None = None
    on_chain: OnChainAnchor | None = None
    #: What "Case documents match records" found (None when it did not run or failed).
    cases: CaseFindings | None = None

    @property
    def outcome(self) -> Outcome:
        token_ok = self.record.token is not None and self.record.token.ok
        return outcome(self.verdict, token_ok, self.required)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks


def _token_imprint(token: bytes) -> tuple[str, bytes]:
    """The algorithm and digest a token stamps (to check a withheld record's token for
    everything but its imprint); a placeholder when it does not parse (the DER check
    then fails)."""
    parsed = parse(token)
    if not isinstance(parsed, str) and parsed.tst_info is not None:
        name = digest_name(parsed.tst_info.hash_algorithm.oid)
        digest = parsed.tst_info.hashed_message
        if name in ("sha256", "sha384", "sha512", "sm3") and len(digest) in (32, 48, 64):
            return name, digest
    return "sha256", bytes(32)


def record_checks(
    checks: Checklist,
    record: BundleRecord,
    *,
    checkpoint: Checkpoint | None,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate],
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    data: bytes | None = None,
    memo: ChainMemo | None = None,
) -> RecordResult:
    """Record the token's checks and :data:`RECORD_CHECKS` for one record.

    The document is ``digest`` + ``hash_algorithm`` or ``data`` (hashed with the
    leaf's algorithm), or neither: the token is then checked against the digest the
    opened leaf names. ``checkpoint`` is the verified checkpoint the inclusion
    proof is for (``None``: its signature failed, and inclusion is not run).
    """
    decoded = decode_leaf_or_error(record.leaf)
    opened = None if isinstance(decoded, CourtError) else open_or_error(decoded, record.opening)
    if not record.token and record.opening is None:
        return _withheld(checks, record, decoded, checkpoint)
    record_leaf = opened if isinstance(opened, OpenedLeaf) else None
    algorithm = hash_algorithm
    if data is not None and algorithm is None and record_leaf is not None:
        algorithm = record_leaf.hash_algorithm
    expected: bytes | None = digest
    if data is not None:
        expected = document_digest(algorithm or "sha256", data)
        algorithm = algorithm or "sha256"
    withheld = expected is None and record_leaf is None
    if expected is None:
        if record_leaf is not None:
            algorithm, token_digest = record_leaf.hash_algorithm, record_leaf.digest
        else:
            algorithm, token_digest = _token_imprint(record.token)
    else:
        token_digest = expected
    token = verify_timestamp(
        record.token,
        roots=roots,
        untrusted=untrusted,
        digest=token_digest,
        hash_algorithm=algorithm,
        chain_memo=memo,
    )
    for check in token.checks:
        if withheld and check.name == CHECK_IMPRINT and check.passed:
            checks.not_run(CHECK_IMPRINT, _WITHHELD)
        else:
            copy_check(checks, check)

    fields = leaf_format(
        checks,
        decoded,
        (CHECK_LEAF_OPENING, CHECK_LEAF_DIGEST, CHECK_LEAF_TOKEN, CHECK_RECORD_FIELDS),
    )
    result: OpenedLeaf | None = None
    if fields is not None:
        result = leaf_opening(checks, fields, opened, (CHECK_LEAF_DIGEST,))
        if result is not None:
            leaf_digest(checks, result, token, algorithm if expected else None, expected)
        leaf_names_token(checks, fields, record.token)
        _record_fields(checks, fields, record)
    _inclusion(checks, record, checkpoint)
    return RecordResult(
        token=token,
        public_leaf=fields,
        opened=result,
        document_digest=expected,
        document_algorithm=(algorithm or "") if expected is not None else "",
    )


def _withheld(
    checks: Checklist,
    record: BundleRecord,
    decoded: Leaf | CourtError,
    checkpoint: Checkpoint | None,
) -> RecordResult:
    """The checks of a withheld record shown without its token (a dossier's)."""
    for name in TOKEN_CHECKS:
        checks.not_run(name, _NO_TOKEN)
    fields = leaf_format(
        checks,
        decoded,
        (CHECK_LEAF_OPENING, CHECK_LEAF_DIGEST, CHECK_LEAF_TOKEN, CHECK_RECORD_FIELDS),
    )
    if fields is not None:
        for name in (CHECK_LEAF_OPENING, CHECK_LEAF_DIGEST, CHECK_LEAF_TOKEN):
            checks.not_run(name, _NO_TOKEN)
        _record_fields(checks, fields, record)
    _inclusion(checks, record, checkpoint)
    return RecordResult(token=None, public_leaf=fields, opened=None)


def _inclusion(checks: Checklist, record: BundleRecord, checkpoint: Checkpoint | None) -> None:
    if checkpoint is None:
        checks.not_run(CHECK_INCLUSION, f"not run: {CHECK_CHECKPOINT!r} failed")
    elif record.proof_tree_size != checkpoint.size:
        checks.failed(
            CHECK_INCLUSION,
            f"the proof is for tree size {record.proof_tree_size}, the checkpoint has "
            f"{checkpoint.size}",
        )
    else:
        included(
            checks,
            CHECK_INCLUSION,
            record.leaf,
            record.leaf_index,
            record.proof,
            checkpoint,
            "the checkpoint's tree",
        )


def _record_fields(checks: Checklist, leaf: Leaf, record: BundleRecord) -> None:
    wrong = []
    if record.entry_id != leaf.entry_id:
        wrong.append(f"entry id {record.entry_id!r}, the leaf's is {leaf.entry_id!r}")
    if record.proof_leaf_index != record.leaf_index:
        wrong.append(
            f"leaf index {record.leaf_index}, the inclusion proof's is {record.proof_leaf_index}"
        )
    if wrong:
        checks.failed(CHECK_RECORD_FIELDS, "the file says " + "; ".join(wrong))
    else:
        checks.passed(
            CHECK_RECORD_FIELDS,
            f"entry {leaf.entry_id} at leaf index {record.leaf_index}, as the leaf and proof say",
        )


def checkpoint_checks(
    checks: Checklist, copy: CheckpointCopy, log_key: str, dependants: Sequence[str] = ()
) -> Checkpoint | None:
    """ "Checkpoint signature valid" and "Checkpoint fields match note"; the checkpoint
    when its signature verifies."""
    held = signed_checkpoint(
        checks, CHECK_CHECKPOINT, copy.note, log_key, (CHECK_CHECKPOINT_FIELDS, *dependants)
    )
    if held is None:
        return None
    wrong = []
    if copy.origin and copy.origin != held.origin:
        wrong.append(f"origin {copy.origin!r} (note: {held.origin!r})")
    if copy.size and copy.size != held.size:
        wrong.append(f"size {copy.size} (note: {held.size})")
    if copy.root_hash and copy.root_hash != held.root_hash:
        wrong.append(f"root hash {copy.root_hash.hex()} (note: {held.root_hash.hex()})")
    if wrong:
        checks.failed(CHECK_CHECKPOINT_FIELDS, "the file repeats " + "; ".join(wrong))
    else:
        checks.passed(CHECK_CHECKPOINT_FIELDS, "what the file repeats is the signed note's")
    return held


def verify_bundle(
    bundle: Bundle,
    *,
    roots: Sequence[x509.Certificate],
    log_key: str,
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    data: bytes | None = None,
    view: ChainView | None = None,
    confirmations: int = 1,
    memo: ChainMemo | None = None,
) -> BundleVerification:
    """Run every named check of a bundle (see the module docstring)."""
    if digest is not None and data is not None:
        raise ValueError("give the document's digest or its data, not both")
    checks = Checklist()
    held = checkpoint_checks(checks, bundle.checkpoint, log_key)
    result = record_checks(
        checks,
        bundle.record,
        checkpoint=held,
        roots=roots,
        untrusted=bundle.tsa_certificates,
        digest=digest,
        hash_algorithm=hash_algorithm,
        data=data,
        memo=memo,
    )
    cases = _bundle_case_checks(checks, bundle.record, result)
    anchored, on_chain = anchor_checks(
        checks,
        held=held,
        anchor=bundle.anchor,
        leaf_index=bundle.record.leaf_index,
        log_key=log_key,
        view=view,
        confirmations=confirmations,
    )
    required: list[str] = [CHECK_CHECKPOINT, CHECK_CHECKPOINT_FIELDS, *RECORD_CHECKS]
    if isinstance(result.public_leaf, LeafFields):
        required.remove(CHECK_LEAF_OPENING)
    if bundle.anchor is not None:
        required += ANCHOR_STEPS[:2]
        if view is not None:
            required += ANCHOR_STEPS[2:]
    return BundleVerification(
        verdict=checks.verdict(),
        record=result,
        required=tuple(required),
        checkpoint=held,
        anchored=anchored,
        on_chain=on_chain,
        cases=cases,
    )


def _bundle_case_checks(
    checks: Checklist, record: BundleRecord, result: RecordResult
) -> CaseFindings | None:
    """ "Case documents match records" for a case event's record or one that carries a
    document (the history needs every event of the case: a dossier's check)."""
    if not has_case_record(record, result):
        return None
    return case_document_checks(checks, case_documents_of([record], [result]))

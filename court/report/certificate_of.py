"""The verification certificate's data from a bundle's or a dossier's verification.

Everything comes from the verification (the checks, the opened records, the
verified checkpoint, the anchor the chain holds) or the file (its name and
SHA-256); :mod:`court.report.certificate` lays it out.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Sequence
from datetime import UTC, datetime

from court.report.certificate_data import (
    CertificateAnchor,
    CertificateCaseEvent,
    CertificateData,
    CertificateRecord,
)
from court.verify.bundle import (
    ANCHOR_STEPS,
    Bundle,
    BundleAnchor,
    BundleRecord,
    BundleVerification,
    RecordResult,
)
from court.verify.case_history import CaseFindings
from court.verify.dossier import Dossier, DossierVerification
from court.verify.growth import LogGrowth

__all__ = ["bundle_certificate", "dossier_certificate"]

_HASH_NAMES = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", "sm3": "SM3"}


def _version() -> str:
    try:
        return importlib.metadata.version("court-evidence-gateway")
    except importlib.metadata.PackageNotFoundError:
        try:
            return importlib.metadata.version("court-verify")
        except importlib.metadata.PackageNotFoundError:
            return ""


def _record(
    record: BundleRecord, result: RecordResult, superseded_by: tuple[str, ...]
) -> CertificateRecord:
    token = result.token
    signer = (
        token.signer.subject.rfc4514_string()
        if token is not None and token.signer is not None
        else ""
    )
    opened = result.opened
    leaf = result.public_leaf
    return CertificateRecord(
        entry_id=leaf.entry_id if leaf is not None else record.entry_id,
        leaf_index=record.leaf_index,
        loan_sequence=leaf.loan_sequence if leaf is not None else 0,
        kind=opened.kind.upper() if opened is not None else "",
        hash_algorithm=_HASH_NAMES.get(opened.hash_algorithm, opened.hash_algorithm)
        if opened is not None
        else "",
        document_hash=opened.digest.hex() if opened is not None else "",
        gen_time=token.gen_time if token is not None else None,
        tsa=signer,
        withheld=opened is None,
        superseded_by=superseded_by,
    )


def _anchor(
    anchor: BundleAnchor | None, result: BundleVerification | DossierVerification
) -> CertificateAnchor | None:
    if anchor is None:
        return None
    steps = [c for c in result.checks if c.name in ANCHOR_STEPS]
    checked = result.on_chain is not None and all(c.passed for c in steps)
    # The verified values where there are (the signed anchored checkpoint, the chain's
    # anchor), the file's otherwise; when the chain was read, the checks compared them.
    anchored = result.anchored
    on_chain = result.on_chain
    return CertificateAnchor(
        chain_id=anchor.chain_id,
        contract=anchor.contract,
        transaction_hash=anchor.transaction_hash.hex(),
        block_number=on_chain.block_number if on_chain is not None else anchor.block_number,
        tree_size=anchored.size if anchored is not None else anchor.tree_size,
        checked_on_chain=checked,
    )


def _data(
    subject: str,
    result: BundleVerification | DossierVerification,
    records: Sequence[CertificateRecord],
    opened: Sequence[RecordResult],
    anchor: BundleAnchor | None,
    input_name: str,
    input_sha256: bytes,
    growth: LogGrowth | None = None,
) -> CertificateData:
    held = result.checkpoint
    loan = next((r.opened for r in opened if r.opened is not None), None)
    return CertificateData(
        subject=subject,
        outcome=result.outcome.value,
        input_name=input_name,
        input_sha256=input_sha256,
        verified_at=datetime.now(UTC),
        checks=result.checks,
        records=tuple(records),
        log_origin=held.origin if held is not None else "",
        checkpoint_size=held.size if held is not None else 0,
        checkpoint_root=held.root_hash.hex() if held is not None else "",
        owner=loan.owner if loan is not None else "",
        loan_ref=loan.loan_ref if loan is not None else "",
        anchor=_anchor(anchor, result),
        verifier_version=_version(),
        case_history=_case_history(result.cases),
        latest_anchored_size=None if growth is None else (growth.latest_size or 0),
        latest_anchor_block=growth.latest.block_number if growth and growth.latest else 0,
    )


def _case_history(found: CaseFindings | None) -> tuple[CertificateCaseEvent, ...]:
    """The case events whose documents matched their records (nothing of a document
    that did not), each with its case's number as its acceptance stated it. A case with
    an event record whose document the file lacks is not listed: it was not replayed,
    and its other events alone would show a history that stops short."""
    if found is None:
        return ()
    numbers: dict[str, str] = {}
    out = []
    for entry in found.entries:
        doc = entry.document
        if doc.case_id in found.incomplete_cases:
            continue
        if doc.case_number is not None:
            numbers[doc.case_id] = doc.case_number
        money = doc.claim if doc.claim is not None else doc.amount
        out.append(
            CertificateCaseEvent(
                case_id=doc.case_id,
                case_number=numbers.get(doc.case_id, ""),
                body=doc.body,
                event=doc.event.value,
                status_after=doc.status_after.value,
                occurred_at=doc.occurred_at,
                currency=money.currency if money is not None else "",
                minor_units=money.minor_units if money is not None else 0,
                entry_id=entry.entry_id,
                loan_sequence=entry.loan_sequence,
            )
        )
    return tuple(out)


def bundle_certificate(
    result: BundleVerification,
    bundle: Bundle,
    *,
    input_name: str,
    input_sha256: bytes,
    document_name: str = "",
) -> CertificateData:
    """The certificate of a bundle's verification.

    Its ``supersededBy`` is shown as the file states it, unchecked: a bundle holds no
    correcting record. ``document_name`` is the name of the file compared with the
    record (``--file``); whether a document was compared at all, and its digest, come
    from the verification.
    """
    records = [_record(bundle.record, result.record, bundle.record.superseded_by)]
    data = _data(
        "bundle", result, records, [result.record], bundle.anchor, input_name, input_sha256
    )
    digest = result.record.document_digest
    if digest is None:
        return data
    algorithm = result.record.document_algorithm
    return dataclasses.replace(
        data,
        document_compared=True,
        document_name=document_name,
        document_hash=digest.hex(),
        document_hash_algorithm=_HASH_NAMES.get(algorithm, algorithm),
    )


def _checked_corrections(results: Sequence[RecordResult]) -> dict[str, tuple[str, ...]]:
    """Entry id -> the records that supersede it, by the correcting records' openings
    (what a verifier checked), never by the file's unsigned ``supersededBy``."""
    by: dict[str, list[str]] = {}
    for result in results:
        if result.opened is not None and result.opened.supersedes is not None:
            by.setdefault(result.opened.supersedes, []).append(result.opened.entry_id)
    return {target: tuple(ids) for target, ids in by.items()}


def dossier_certificate(
    result: DossierVerification,
    dossier: Dossier,
    *,
    input_name: str,
    input_sha256: bytes,
    growth: LogGrowth | None = None,
) -> CertificateData:
    """The certificate of a dossier's verification (records in loan order; corrections
    only as checked; ``growth``: the log's latest anchor, with --rpc)."""
    checked = _checked_corrections(result.records)
    records = [
        _record(r, res, checked.get(r.entry_id, ()))
        for r, res in zip(dossier.records, result.records, strict=True)
    ]
    return _data(
        "dossier",
        result,
        records,
        result.records,
        dossier.anchor,
        input_name,
        input_sha256,
        growth,
    )

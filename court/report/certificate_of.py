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

from court.report.certificate_data import CertificateAnchor, CertificateData, CertificateRecord
from court.verify.bundle import (
    ANCHOR_STEPS,
    Bundle,
    BundleAnchor,
    BundleRecord,
    BundleVerification,
    RecordResult,
)
from court.verify.dossier import Dossier, DossierVerification

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


def _record(record: BundleRecord, result: RecordResult) -> CertificateRecord:
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
        superseded_by=record.superseded_by,
    )


def _anchor(
    anchor: BundleAnchor | None, result: BundleVerification | DossierVerification
) -> CertificateAnchor | None:
    if anchor is None:
        return None
    steps = [c for c in result.checks if c.name in ANCHOR_STEPS]
    checked = result.on_chain is not None and all(c.passed for c in steps)
    return CertificateAnchor(
        chain_id=anchor.chain_id,
        contract=anchor.contract,
        transaction_hash=anchor.transaction_hash.hex(),
        block_number=anchor.block_number,
        tree_size=anchor.tree_size,
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
    )


def bundle_certificate(
    result: BundleVerification,
    bundle: Bundle,
    *,
    input_name: str,
    input_sha256: bytes,
    document_name: str = "",
) -> CertificateData:
    """The certificate of a bundle's verification.

    ``document_name`` is the name of the file compared with the record (``--file``);
    whether a document was compared at all, and its digest, come from the verification.
    """
    records = [_record(bundle.record, result.record)]
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


def dossier_certificate(
    result: DossierVerification, dossier: Dossier, *, input_name: str, input_sha256: bytes
) -> CertificateData:
    """The certificate of a dossier's verification (records in loan order)."""
    records = [_record(r, res) for r, res in zip(dossier.records, result.records, strict=True)]
    return _data(
        "dossier", result, records, result.records, dossier.anchor, input_name, input_sha256
    )

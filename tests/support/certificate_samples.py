"""Invented CertificateData for the certificate's layout tests (not verifier output).

The check names are those of a full bundle/dossier verification (token checks,
then the bundle's and dossier's checks, as listed by court-verify); the
details only imitate the verifier's, and the owner, TSA, chain and hashes are
made up (SHA-256 values of fixed strings), so the tests are reproducible. The
certificate can never show some of them (the owner is an institution's
name). The example in docs/ is made from real output by
scripts/example_certificate.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from court.report.certificate_data import (
    CertificateAnchor,
    CertificateCaseEvent,
    CertificateData,
    CertificateRecord,
)
from court.verify.result import Check, CheckStatus

TSA = "CN=Example Time-Stamping Authority 2024,O=Example Trust Services Co.\\, Ltd.,C=CN"
ORIGIN = "evidence.example.cn/log/v1"
VERIFIED_AT = datetime(2025, 3, 14, 9, 30, 12, tzinfo=UTC)
KINDS = (
    "LOAN_CONTRACT",
    "REPAYMENT_SCHEDULE",
    "REPAYMENT",
    "REPAYMENT",
    "REPAYMENT",
    "OVERDUE_NOTICE",
    "COLLECTION_MESSAGE",
    "COLLECTION_CALL",
    "REPAYMENT_SCHEDULE",
    "OVERDUE_NOTICE",
    "SETTLEMENT_AGREEMENT",
    "REPAYMENT",
)

_P = CheckStatus.PASSED
_N = CheckStatus.NOT_RUN

TOKEN_CHECKS: tuple[tuple[str, CheckStatus, str], ...] = (
    ("DER well-formed", _P, "TimeStampToken, 1523 bytes"),
    ("Status granted", _N, "bare TimeStampToken: there is no PKIStatusInfo to check"),
    ("Content type id-ct-TSTInfo", _P, "SignedData with eContentType id-ct-TSTInfo"),
    ("SignedData version", _P, "version 3"),
    ("Single signer", _P, "one SignerInfo"),
    ("SignerInfo version", _P, "version 1 (issuerAndSerialNumber)"),
    ("digestAlgorithms lists the signer's", _P, "digestAlgorithms is {sha256}, the signer's"),
    ("Signer certificate found", _P, "in the token's certificates"),
    ("Signer identifier exact", _P, "issuerAndSerialNumber is byte for byte the signer's"),
    ("contentType attribute", _P, "id-ct-TSTInfo"),
    ("messageDigest attribute", _P, "sha256(eContent) = 5f2c0a…9e41"),
    ("Signature valid", _P, "ecdsa-with-SHA256 over the signed attributes (P-256)"),
    ("signingCertificate matches signer", _P, "signingCertificateV2: sha256 of the signer"),
    ("Chain valid at genTime", _P, "signer -> Example Root CA 2024 (trusted)"),
    ("EKU timeStamping (critical, sole)", _P, "critical extendedKeyUsage: id-kp-timeStamping"),
    ("TSA name matches signer", _P, "tsa field equals the signer's subject"),
    ("Imprint matches", _P, "SHA-256 of the leaf"),
    ("Nonce matches", _N, "no nonce expected"),
    ("Policy matches", _N, "no policy expected"),
    ("TSA identity pinned", _N, "no TSA certificate or name pinned"),
)

BUNDLE_CHECKS: tuple[tuple[str, CheckStatus, str], ...] = (
    ("Leaf well-formed", _P, "canonical DER evidence leaf v2"),
    ("Leaf opening matches", _P, "the salts and private fields open the leaf's commitments"),
    ("Leaf digest matches", _P, "SHA-256 of the document equals the leaf's digest"),
    ("Leaf names token", _P, "the leaf's token hash is the token's SHA-256"),
    ("Record fields match leaf", _P, "entry id, kind, loan sequence and times match"),
    ("Checkpoint signature valid", _P, f"{ORIGIN}, size 1048576, Ed25519"),
    ("Checkpoint fields match note", _P, "origin, size and root equal the signed note's"),
    ("Inclusion proof valid", _P, "leaf 1048003 in a tree of 1048576 (20 hashes)"),
)

DOSSIER_CHECKS: tuple[tuple[str, CheckStatus, str], ...] = (
    ("Loan map line present", _P, "loan-map/v1 line in the checkpoint"),
    ("Loan head proof valid", _P, "head: sequence 12, leaf 1048003 (depth 20)"),
    ("Loan records chained without gaps", _P, "sequences 1..12, each naming the previous"),
    ("Loan head is last record", _P, "the map's head is record 12"),
    ("Supersession consistent", _P, "1 record superseded by a later record of the loan"),
)

ANCHOR_CHECKS: tuple[tuple[str, CheckStatus, str], ...] = (
    ("Anchored checkpoint signature valid", _P, f"{ORIGIN}, size 1048320"),
    ("Contract code is EvidenceAnchor", _P, "runtime code hash matches"),
    ("Log key pinned on chain", _P, "the contract pins this log's key"),
    ("Anchor found on chain", _P, "transaction in block 5120347"),
    ("Anchored root matches checkpoint", _P, "root and checkpoint hash as anchored"),
    ("Consistency to anchored checkpoint", _P, "from size 1048320 to 1048576 (9 hashes)"),
    ("Anchor confirmations", _P, "12 confirmations, 6 required"),
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def checks(*groups: tuple[tuple[str, CheckStatus, str], ...]) -> tuple[Check, ...]:
    return tuple(Check(name, status, detail) for group in groups for name, status, detail in group)


def _record(sequence: int, leaf_index: int, kind: str, when: datetime) -> CertificateRecord:
    return CertificateRecord(
        entry_id=f"01JP{sequence:02d}Q7X4K9M2N6R8T1V3W5Y{sequence:02d}",
        leaf_index=leaf_index,
        loan_sequence=sequence,
        kind=kind,
        hash_algorithm="SHA-256",
        document_hash=_sha(f"document {sequence} of loan HT-2023-0815"),
        gen_time=when,
        tsa=TSA,
    )


def anchor(on_chain: bool = True) -> CertificateAnchor:
    return CertificateAnchor(
        chain_id=11155111,
        contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        transaction_hash="0x" + _sha("anchor transaction"),
        block_number=5120347,
        tree_size=1048320,
        checked_on_chain=on_chain,
    )


def bundle() -> CertificateData:
    """A valid bundle of one repayment record, anchored and read on chain."""
    record = _record(5, 1048003, "REPAYMENT", datetime(2024, 6, 18, 2, 15, 7, 412000, UTC))
    return CertificateData(
        subject="bundle",
        outcome="valid",
        input_name="HT-2023-0815-repayment-5.bundle.json",
        input_sha256=hashlib.sha256(b"example bundle file").digest(),
        verified_at=VERIFIED_AT,
        checks=checks(TOKEN_CHECKS, BUNDLE_CHECKS, ANCHOR_CHECKS),
        records=(record,),
        log_origin=ORIGIN,
        checkpoint_size=1048576,
        checkpoint_root="q1ZIDv4uQ3VJPsTxoGwP7j8Fs4MJbpa0nJ3mRW7m2b8=",
        owner="示例小额贷款有限公司 (lender-0042)",
        loan_ref="HT-2023-0815",
        anchor=anchor(),
        verifier_version="court-verify 0.10.0",
    )


def dossier(records: int = 12) -> CertificateData:
    """A valid dossier of one loan: one record withheld, one superseded."""
    start = datetime(2023, 8, 15, 1, 20, 0, tzinfo=UTC)
    rows = []
    for i in range(records):
        kind = KINDS[i % len(KINDS)]
        rows.append(_record(i + 1, 1000000 + 4000 * i, kind, start + timedelta(days=30 * i)))
    if records >= 9:
        rows[1] = replace(rows[1], superseded_by=(rows[8].entry_id,))
    if records >= 7:
        rows[6] = replace(
            rows[6], kind="", hash_algorithm="", document_hash="", gen_time=None, withheld=True
        )
    return CertificateData(
        subject="dossier",
        outcome="valid",
        input_name="HT-2023-0815.dossier.json",
        input_sha256=hashlib.sha256(b"example dossier file").digest(),
        verified_at=VERIFIED_AT,
        checks=checks(TOKEN_CHECKS, BUNDLE_CHECKS, DOSSIER_CHECKS, ANCHOR_CHECKS),
        records=tuple(rows),
        log_origin=ORIGIN,
        checkpoint_size=1048576,
        checkpoint_root="q1ZIDv4uQ3VJPsTxoGwP7j8Fs4MJbpa0nJ3mRW7m2b8=",
        owner="示例小额贷款有限公司 (lender-0042)",
        loan_ref="HT-2023-0815",
        anchor=anchor(on_chain=False),
        verifier_version="court-verify 0.10.0",
    )


def dossier_with_case() -> CertificateData:
    """The sample dossier with a judicial case's history (a court's enforcement)."""
    base = dossier(12)
    start = datetime(2024, 9, 2, 2, 0, 0, tzinfo=UTC)
    steps = (
        ("filed", "filed", "CNY", 1_250_000),
        ("accepted", "accepted", "", 0),
        ("judgment", "judgment", "", 0),
        ("enforcement_started", "enforcement", "", 0),
        ("property_frozen", "property_frozen", "", 0),
        ("amount_recovered", "property_frozen", "CNY", 830_000),
    )
    history = tuple(
        CertificateCaseEvent(
            case_id="c-7f3a9e",
            case_number="" if i == 0 else "(2024)京0105民初12345号",
            body="court-bj-chaoyang",
            event=event,
            status_after=status,
            occurred_at=start + timedelta(days=21 * i),
            currency=currency,
            minor_units=units,
            entry_id=f"e-case-{i + 1}",
            loan_sequence=7 + i,
        )
        for i, (event, status, currency, units) in enumerate(steps)
    )
    return replace(base, case_history=history)

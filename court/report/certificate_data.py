"""What a verification certificate (核验报告) shows: plain data, filled by the verifier.

`court-verify bundle|dossier --report OUT.pdf|OUT.html` builds one
:class:`CertificateData` from its verification and hands it to
:mod:`court.report.certificate`, which only lays it out. Everything here comes
from the verified input or the verification itself; the renderer escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from court.verify.result import Check

__all__ = ["CertificateAnchor", "CertificateCaseEvent", "CertificateData", "CertificateRecord"]


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """One record of the bundle (one) or the dossier (each, in loan sequence order)."""

    entry_id: str
    leaf_index: int
    loan_sequence: int
    #: The evidence kind's API name without prefix, e.g. "REPAYMENT"; "" when withheld.
    kind: str
    #: e.g. "SHA-256"; "" when withheld.
    hash_algorithm: str
    #: The document digest, lowercase hexadecimal; "" when withheld.
    document_hash: str
    #: The token's genTime (UTC); None when withheld or the token did not parse.
    gen_time: datetime | None
    #: The TSA signer's subject (RFC 4514); "" when unknown.
    tsa: str
    #: True when the caller got only the public leaf (no opening).
    withheld: bool = False
    #: Entry ids of the records that supersede this one: in a dossier only corrections
    #: checked through the correcting record's opening; in a bundle as the file states
    #: them, unchecked (the certificate says so).
    superseded_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CertificateAnchor:
    """Where the log's checkpoint is anchored on chain."""

    chain_id: int
    contract: str
    transaction_hash: str
    block_number: int
    tree_size: int
    #: True when the chain itself was read (--rpc) and every chain check passed.
    checked_on_chain: bool


@dataclass(frozen=True, slots=True)
class CertificateCaseEvent:
    """One event of a judicial case, from a case event document that matched its record
    ("Case documents match records"), in the loan's order."""

    case_id: str
    #: The body's case number, as the case's acceptance (or rejection) stated it; "" before.
    case_number: str
    #: The court's or arbitration body's institution id.
    body: str
    #: court.evidence.case_terms.CaseEventType's value, e.g. "amount_recovered".
    event: str
    #: court.evidence.case_terms.CaseStatus's value after the event, e.g. "enforcement".
    status_after: str
    occurred_at: datetime
    #: The claim (filing) or the amount recovered: ISO 4217 code and minor units; "" and 0
    #: for other events.
    currency: str
    minor_units: int
    entry_id: str
    loan_sequence: int


@dataclass(frozen=True, slots=True)
class CertificateData:
    """Everything the certificate shows."""

    #: "bundle" or "dossier".
    subject: str
    #: "valid", "invalid" or "inconclusive".
    outcome: str
    #: The file that was verified: its name (as given) and SHA-256 (in the QR code).
    input_name: str
    input_sha256: bytes
    #: When the verification ran (UTC).
    verified_at: datetime
    #: Every check, in the order it ran.
    checks: tuple[Check, ...]
    records: tuple[CertificateRecord, ...]
    log_origin: str
    checkpoint_size: int
    checkpoint_root: str
    #: The loan (from the openings) when known: owner and loan reference.
    owner: str = ""
    loan_ref: str = ""
    anchor: CertificateAnchor | None = None
    #: Whether a document (``--file`` or ``--digest``) was compared with the record; a
    #: bundle verified alone ties no particular file to it.
    document_compared: bool = False
    #: The compared file's name as given ("" for ``--digest`` or when not compared).
    document_name: str = ""
    #: The compared document's digest, lowercase hexadecimal, and its algorithm
    #: (e.g. "SHA-256"); "" when not compared.
    document_hash: str = ""
    document_hash_algorithm: str = ""
    #: The version of court-verify that ran the checks.
    verifier_version: str = ""
    #: The case events of the loan whose documents matched their records, in loan order.
    case_history: tuple[CertificateCaseEvent, ...] = ()
    #: (dossier, --rpc) The log's latest anchor read on chain: its tree size and block;
    #: size None when not read, 0 when the chain holds no anchor of the log yet.
    latest_anchored_size: int | None = None
    latest_anchor_block: int = 0

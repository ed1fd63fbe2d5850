"""EvidenceBundle and Dossier messages from the ledger's bundle material (docs/bundles.md).

The material is :mod:`gateway.bundles`'; the TSA certificates come from
:class:`gateway.tsa_certificates.TsaCertificates` (the tokens shown, never
those of withheld records). Nothing here reads the store or decides who gets
what.
"""

from __future__ import annotations

from typing import Final

from court.verify.loanmap import EMPTY, LoanHeadProof
from evidence_gateway.v1 import bundle_pb2, common_pb2
from gateway.api import convert
from gateway.bundles import AnchorMaterial, BundleMaterial, DossierMaterial, RecordMaterial
from gateway.tsa_certificates import TsaCertificates

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "DOSSIER_MEDIA_TYPE",
    "anchor_evidence_to_proto",
    "bundle_to_proto",
    "dossier_to_proto",
    "loan_head_to_proto",
    "record_to_proto",
]

BUNDLE_MEDIA_TYPE: Final = "application/vnd.court-evidence.bundle.v1+json"
DOSSIER_MEDIA_TYPE: Final = "application/vnd.court-evidence.dossier.v1+json"


def record_to_proto(r: RecordMaterial, tree_size: int) -> bundle_pb2.BundledRecord:
    # Sub-messages as mappings: built in place, not built apart and copied in (a dossier
    # has up to 10,000 records).
    proof = {"leaf_index": r.leaf_index, "tree_size": tree_size, "hashes": r.inclusion_proof}
    opening = (
        None
        if r.opening is None
        else {"private_record": r.opening.private_record, "loan_salt": r.opening.loan_salt}
    )
    return bundle_pb2.BundledRecord(
        entry_id=r.entry_id,
        leaf_index=r.leaf_index,
        leaf=r.leaf,
        timestamp_token=r.timestamp_token or b"",
        inclusion_proof=proof,
        superseded_by=r.superseded_by,
        document=r.document or b"",
        opening=opening,
    )


def anchor_evidence_to_proto(a: AnchorMaterial) -> bundle_pb2.AnchorEvidence:
    return bundle_pb2.AnchorEvidence(
        anchor=convert.anchor_to_proto(a.anchor),
        consistency_proof=common_pb2.ConsistencyProof(
            from_size=a.from_size, to_size=a.to_size, hashes=a.consistency_proof
        ),
    )


def loan_head_to_proto(proof: LoanHeadProof) -> bundle_pb2.LoanHeadProof:
    """The proof as the API carries it: an empty subtree's hash (32 zero bytes) is sent
    as an empty value."""
    head = proof.head
    return bundle_pb2.LoanHeadProof(
        loan_key=head.loan_key,
        loan_sequence=head.loan_sequence,
        leaf_index=head.leaf_index,
        leaf_hash=head.leaf_hash,
        siblings=[b"" if s == EMPTY else s for s in proof.siblings],
    )


def bundle_to_proto(b: BundleMaterial, tsa: TsaCertificates) -> bundle_pb2.EvidenceBundle:
    message = bundle_pb2.EvidenceBundle(
        media_type=BUNDLE_MEDIA_TYPE,
        record=record_to_proto(b.record, b.tree_size),
        tsa_certificates=tsa.for_tokens(
            [b.record.timestamp_token] if b.record.timestamp_token else []
        ),
    )
    message.checkpoint.CopyFrom(convert.checkpoint_to_proto(b.checkpoint))
    if b.anchor is not None:
        message.anchor.CopyFrom(anchor_evidence_to_proto(b.anchor))
    return message


def dossier_to_proto(d: DossierMaterial, tsa: TsaCertificates) -> bundle_pb2.Dossier:
    message = bundle_pb2.Dossier(
        media_type=DOSSIER_MEDIA_TYPE,
        records=[record_to_proto(r, d.tree_size) for r in d.records],
        loan_head=loan_head_to_proto(d.loan_head),
        tsa_certificates=tsa.for_tokens(
            r.timestamp_token for r in d.records if r.timestamp_token is not None
        ),
    )
    message.checkpoint.CopyFrom(convert.checkpoint_to_proto(d.checkpoint))
    if d.anchor is not None:
        message.anchor.CopyFrom(anchor_evidence_to_proto(d.anchor))
    return message

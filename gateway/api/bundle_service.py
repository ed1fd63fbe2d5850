"""VerificationService.GetEvidenceBundle and GetDossier: the court's self-contained files.

Mixed into :class:`gateway.api.verification.VerificationServicer`. Each
method validates its request (every bad field named at once), reads the
material through the ledger (:class:`gateway.bundles.LedgerBundles`, in a
worker thread: store reads and, for a dossier, thousands of proofs), and
converts it (:mod:`gateway.api.bundle_convert`). Who gets what is the read
rules' (docs/access.md, docs/bundles.md): the caller's read scope goes to the
ledger, which applies it in its queries; whatever the caller may not see is
NOT_FOUND, the same answer as for what does not exist.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Final

from evidence_gateway.v1 import bundle_pb2
from evidence_gateway.v1 import verification_service_pb2 as pb
from gateway.api import convert
from gateway.api.bundle_convert import bundle_to_proto, dossier_to_proto
from gateway.api.caller import current_caller
from gateway.api.errors import rpc_errors
from gateway.api.ports import LedgerPort
from gateway.authz.policy import ReadScope, read_scope
from gateway.authz.roles import Role
from gateway.bundles import DEFAULT_MAX_RECORDS
from gateway.errors import InvalidArgument, ResourceExhausted
from gateway.model import validate_institution, validate_loan_ref
from gateway.tsa_certificates import TsaCertificates

__all__ = ["DEFAULT_MAX_RECORDS", "BundleMethods"]

#: The largest tree size a request may name (the store's sizes are signed 64-bit).
_MAX_SIZE: Final = (1 << 63) - 1


def _tree_size(value: int) -> list[tuple[str, str]]:
    if value > _MAX_SIZE:
        return [("tree_size", f"is {value}, beyond any size of the log (at most 2**63-1)")]
    return []


class BundleMethods:
    """GetEvidenceBundle and GetDossier (see the module doc)."""

    _ledger: LedgerPort
    _tsa_certificates: TsaCertificates
    _max_message_bytes: int

    def _fits(self, message: Any, what: str) -> None:
        """ResourceExhausted if the answer would be larger than a message may be."""
        size = message.ByteSize()
        if size > self._max_message_bytes:
            raise ResourceExhausted(
                f"the {what} is {size} bytes, more than the gateway sends in one message "
                f"({self._max_message_bytes}, its max_message_bytes)"
            )

    @rpc_errors()
    async def GetEvidenceBundle(
        self, request: pb.GetEvidenceBundleRequest, context: Any
    ) -> pb.GetEvidenceBundleResponse:
        scope = read_scope(current_caller(), datetime.now(UTC))
        subject, problems = convert.subject_violations(request)
        problems += _tree_size(request.tree_size)
        if problems:
            raise InvalidArgument(problems)
        return await asyncio.to_thread(self._bundle, request, subject, scope)

    def _bundle(
        self, request: pb.GetEvidenceBundleRequest, subject: str | None, scope: ReadScope
    ) -> pb.GetEvidenceBundleResponse:
        if subject == "digest":
            algorithm = convert.algorithm_from_proto(request.digest.hash_algorithm)
            assert algorithm is not None
            material = self._ledger.evidence_bundle(
                digest=(algorithm, bytes(request.digest.value)),
                tree_size=request.tree_size,
                scope=scope,
            )
        else:
            material = self._ledger.evidence_bundle(
                entry_id=request.entry_id, tree_size=request.tree_size, scope=scope
            )
        response = pb.GetEvidenceBundleResponse(
            bundle=bundle_to_proto(material, self._tsa_certificates),
            other_entry_ids=material.other_entry_ids,
        )
        self._fits(response, "bundle")
        return response

    @rpc_errors()
    async def GetDossier(
        self, request: pb.GetDossierRequest, context: Any
    ) -> pb.GetDossierResponse:
        caller = current_caller()
        scope = read_scope(caller, datetime.now(UTC))
        problems = validate_loan_ref(request.loan_ref)
        owner = request.owner or caller.institution
        if request.owner:
            problems += validate_institution(request.owner, "owner")
        elif caller.role not in (Role.LENDER, Role.ADMIN):
            # Said from the role alone, as ListEvidence does: nothing about any loan.
            problems.append(
                (
                    "owner",
                    f"is required for a {caller.role.value}: the institution id of the lender "
                    "that owns the loan (the one that shared or delegated it with you); "
                    "empty means the caller's own loans, which only a lender has",
                )
            )
        if request.max_records > DEFAULT_MAX_RECORDS:
            problems.append(
                (
                    "max_records",
                    f"is {request.max_records}; at most {DEFAULT_MAX_RECORDS} "
                    f"(0 means {DEFAULT_MAX_RECORDS})",
                )
            )
        problems += _tree_size(request.tree_size)
        if problems:
            raise InvalidArgument(problems)
        return await asyncio.to_thread(self._dossier, request, owner, scope)

    def _dossier(
        self, request: pb.GetDossierRequest, owner: str, scope: ReadScope
    ) -> pb.GetDossierResponse:
        material = self._ledger.dossier(
            owner,
            request.loan_ref,
            tree_size=request.tree_size,
            max_records=request.max_records or DEFAULT_MAX_RECORDS,
            scope=scope,
        )
        dossier: bundle_pb2.Dossier = dossier_to_proto(material, self._tsa_certificates)
        response = pb.GetDossierResponse(dossier=dossier)
        self._fits(response, "dossier")
        return response

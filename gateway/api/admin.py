"""AdminService: the operator registers institutions and their client certificates,
and looks after anchoring (:mod:`gateway.api.admin_anchor`).

Only callers with the admin role get through (PERMISSION_DENIED otherwise,
logged with the caller); the registry's rules are in
:mod:`gateway.institutions`, its storage in :mod:`gateway.store.institutions`.
Registry changes run off the event loop (they wait for the store's writer).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from google.protobuf.timestamp_pb2 import Timestamp

from evidence_gateway.v1 import admin_service_pb2 as pb
from evidence_gateway.v1 import admin_service_pb2_grpc as pb_grpc
from gateway.api.admin_anchor import AnchoringAdmin
from gateway.api.caller import current_caller
from gateway.api.errors import rpc_errors
from gateway.authz.roles import Caller, Role
from gateway.errors import InvalidArgument, NotFound, PermissionDenied
from gateway.institutions import (
    MAX_ROTATION_OVERLAP,
    Institution,
    RegisteredCertificate,
    Status,
    parse_role,
    registered_certificate,
    validate_name,
)
from gateway.model import Receipt
from gateway.store.base import InstitutionStore

if TYPE_CHECKING:
    from gateway.anchor.worker import AnchorWorker

__all__ = ["AdminServicer", "institution_to_proto"]

log = logging.getLogger(__name__)

_DEFAULT_PAGE = 100
_MAX_PAGE = 1000
_STATUS = {
    Status.ACTIVE: pb.INSTITUTION_STATUS_ACTIVE,
    Status.SUSPENDED: pb.INSTITUTION_STATUS_SUSPENDED,
    Status.REVOKED: pb.INSTITUTION_STATUS_REVOKED,
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _certificate_to_proto(c: RegisteredCertificate, now: datetime) -> pb.ClientCertificate:
    out = pb.ClientCertificate(
        sha256=c.sha256,
        subject=c.subject,
        serial=c.serial,
        not_before=_ts(c.not_before),
        not_after=_ts(c.not_after),
        valid_until=_ts(c.valid_until),
        added_at=_ts(c.added_at),
        accepted=c.counts(now),
    )
    if c.revoked_at is not None:
        out.revoked_at.CopyFrom(_ts(c.revoked_at))
    return out


def institution_to_proto(i: Institution, now: datetime) -> pb.Institution:
    return pb.Institution(
        name=i.name,
        role=i.role.value,
        status=_STATUS[i.status],
        created_at=_ts(i.created_at),
        updated_at=_ts(i.updated_at),
        certificates=[_certificate_to_proto(c, now) for c in i.certificates],
    )


def _page_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _after(token: str) -> str:
    if not token:
        return ""
    try:
        name = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        name = ""
    if not name or len(token) > 200:
        raise InvalidArgument([("page_token", "is not a token this gateway gave out")])
    return name


#: Records one change of an institution in the log: (operator, institution, change,
#: request id, time) -> its receipt.
RecordChange = Callable[[str, str, str, str, datetime], Awaitable[Receipt]]
_STATUS_CHANGE: Final = {
    Status.SUSPENDED: "suspend",
    Status.ACTIVE: "reinstate",
    Status.REVOKED: "revoke",
}


class AdminServicer(AnchoringAdmin, pb_grpc.AdminServiceServicer):
    """The gRPC face of the institutions registry and of anchoring (admin role only)."""

    def __init__(
        self,
        registry: InstitutionStore,
        client_cas: Sequence[x509.Certificate],
        clock: Callable[[], datetime] = _utcnow,
        record: RecordChange | None = None,
        anchoring: AnchorWorker | None = None,
    ) -> None:
        """``record``: registers each change as a log entry (the ledger's
        ``record_institution_change``); ``None``: changes are only logged.
        ``anchoring``: the running anchoring worker (None: anchoring is off)."""
        self._record = record
        self._anchoring = anchoring
        self._registry = registry
        self._client_cas = list(client_cas)
        self._clock = clock

    def _admin(self, context: Any, rpc: str) -> Caller:
        """The caller the authorization interceptor resolved; an admin, or refused (the
        table already allows only admins: this keeps the service safe on its own)."""
        caller = current_caller()
        if caller.role is not Role.ADMIN:
            log.warning(
                "denied: %s (%s) called AdminService.%s: admin role required",
                caller.institution,
                caller.role.value,
                rpc,
            )
            raise PermissionDenied("AdminService is for the gateway's administrators only")
        return caller

    async def _changed(
        self,
        caller: Caller,
        what: str,
        change: Callable[[], Institution],
        *,
        name: str,
        kind: str,
    ) -> Any:
        """Make ``change``, then record it in the log (kind ``institution_changed``:
        who, which institution, what kind of change), so a court can later see when
        an institution was registered, suspended or given a certificate."""
        institution = await asyncio.to_thread(change)
        log.info("admin %s: %s", caller.institution, what)
        now = self._clock()
        if self._record is not None:
            request_id = f"{kind}-{name}-{now.timestamp():.6f}"
            await self._record(caller.institution, name, kind, request_id, now)
        return institution_to_proto(institution, now)

    @rpc_errors()
    async def RegisterInstitution(
        self, request: pb.RegisterInstitutionRequest, context: Any
    ) -> pb.RegisterInstitutionResponse:
        caller = self._admin(context, "RegisterInstitution")
        validate_name(request.name)
        role = parse_role(request.role)
        now = self._clock()
        cert = registered_certificate(request.certificate, request.name, self._client_cas, now)
        done = await self._changed(
            caller,
            f"registered {request.name} ({role.value}), certificate sha256 {cert.sha256.hex()}",
            lambda: self._registry.create(request.name, role, cert, now),
            name=request.name,
            kind="register",
        )
        return pb.RegisterInstitutionResponse(institution=done)

    @rpc_errors()
    async def GetInstitution(
        self, request: pb.GetInstitutionRequest, context: Any
    ) -> pb.GetInstitutionResponse:
        self._admin(context, "GetInstitution")
        validate_name(request.name)
        found = await asyncio.to_thread(self._registry.get, request.name)
        if found is None:
            raise NotFound(f"no institution named {request.name!r} is registered")
        return pb.GetInstitutionResponse(institution=institution_to_proto(found, self._clock()))

    @rpc_errors()
    async def ListInstitutions(
        self, request: pb.ListInstitutionsRequest, context: Any
    ) -> pb.ListInstitutionsResponse:
        self._admin(context, "ListInstitutions")
        if request.page_size < 0:
            raise InvalidArgument(
                [("page_size", f"must not be negative (0 means 100), got {request.page_size}")]
            )
        size = min(request.page_size or _DEFAULT_PAGE, _MAX_PAGE)
        after = _after(request.page_token)
        found = await asyncio.to_thread(self._registry.list, after, size + 1)
        now = self._clock()
        response = pb.ListInstitutionsResponse(
            institutions=[institution_to_proto(i, now) for i in found[:size]]
        )
        if len(found) > size:
            response.next_page_token = _page_token(found[size - 1].name)
        return response

    async def _set_status(self, context: Any, rpc: str, name: str, status: Status) -> Any:
        caller = self._admin(context, rpc)
        validate_name(name)
        now = self._clock()
        return await self._changed(
            caller,
            f"{name} is now {status.value}",
            lambda: self._registry.set_status(name, status, now),
            name=name,
            kind=_STATUS_CHANGE[status],
        )

    @rpc_errors()
    async def SuspendInstitution(
        self, request: pb.SuspendInstitutionRequest, context: Any
    ) -> pb.SuspendInstitutionResponse:
        done = await self._set_status(context, "SuspendInstitution", request.name, Status.SUSPENDED)
        return pb.SuspendInstitutionResponse(institution=done)

    @rpc_errors()
    async def ReinstateInstitution(
        self, request: pb.ReinstateInstitutionRequest, context: Any
    ) -> pb.ReinstateInstitutionResponse:
        done = await self._set_status(context, "ReinstateInstitution", request.name, Status.ACTIVE)
        return pb.ReinstateInstitutionResponse(institution=done)

    @rpc_errors()
    async def RevokeInstitution(
        self, request: pb.RevokeInstitutionRequest, context: Any
    ) -> pb.RevokeInstitutionResponse:
        done = await self._set_status(context, "RevokeInstitution", request.name, Status.REVOKED)
        return pb.RevokeInstitutionResponse(institution=done)

    @rpc_errors()
    async def AddCertificate(
        self, request: pb.AddCertificateRequest, context: Any
    ) -> pb.AddCertificateResponse:
        caller = self._admin(context, "AddCertificate")
        validate_name(request.name)
        now = self._clock()
        retire_at = None
        if request.HasField("overlap"):
            overlap = request.overlap.ToTimedelta()
            if not timedelta(0) <= overlap <= MAX_ROTATION_OVERLAP:
                raise InvalidArgument(
                    [("overlap", f"must be 0 to {MAX_ROTATION_OVERLAP.days} days")]
                )
            retire_at = now + overlap
        cert = registered_certificate(request.certificate, request.name, self._client_cas, now)
        done = await self._changed(
            caller,
            f"added certificate sha256 {cert.sha256.hex()} to {request.name}"
            + ("" if retire_at is None else f"; the others count until {retire_at.isoformat()}"),
            lambda: self._registry.add_certificate(cert, retire_at),
            name=request.name,
            kind="add-certificate",
        )
        return pb.AddCertificateResponse(institution=done)

    @rpc_errors()
    async def RevokeCertificate(
        self, request: pb.RevokeCertificateRequest, context: Any
    ) -> pb.RevokeCertificateResponse:
        caller = self._admin(context, "RevokeCertificate")
        validate_name(request.name)
        if len(request.sha256) != 32:
            raise InvalidArgument(
                [("sha256", f"must be 32 bytes (SHA-256), got {len(request.sha256)}")]
            )
        now = self._clock()
        done = await self._changed(
            caller,
            f"revoked certificate sha256 {request.sha256.hex()} of {request.name}",
            lambda: self._registry.revoke_certificate(request.name, request.sha256, now),
            name=request.name,
            kind="revoke-certificate",
        )
        return pb.RevokeCertificateResponse(institution=done)

    @rpc_errors()
    async def AnchorNow(self, request: pb.AnchorNowRequest, context: Any) -> pb.AnchorNowResponse:
        caller = self._admin(context, "AnchorNow")
        log.info("admin %s: anchor now", caller.institution)
        return await self._anchor_now(request)

    @rpc_errors()
    async def GetAnchoringStatus(
        self, request: pb.GetAnchoringStatusRequest, context: Any
    ) -> pb.GetAnchoringStatusResponse:
        self._admin(context, "GetAnchoringStatus")
        return await self._anchoring_status()

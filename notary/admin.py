"""The operator's client of the gateway's AdminService (``notary institution ...``,
``notary anchor now|status``), and of its own records of registry changes
(EvidenceService ``ListEvidence`` of the loan_ref ``:institutions``, which the
admin role reads: ``notary institution history``).

It connects with mutual TLS as the PKI's operator: ``operator.pem`` and
``operator.key`` authenticate the operator (registered by the gateway as the
admin ``operator`` when it first starts), ``root-ca.pem`` authenticates the
gateway's server certificate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.duration_pb2 import Duration

from evidence_gateway.v1 import admin_service_pb2 as pb
from evidence_gateway.v1 import admin_service_pb2_grpc as pb_grpc
from evidence_gateway.v1 import common_pb2, evidence_service_pb2_grpc
from evidence_gateway.v1 import evidence_service_pb2 as ev
from notary.errors import NotaryError
from notary.pki import pki_paths

__all__ = ["AdminClient", "AdminError"]

T = TypeVar("T")
_TIMEOUT = 30.0
#: The loan_ref under which the gateway records each admin's changes to the registry.
INSTITUTIONS_LOAN = ":institutions"


class AdminError(NotaryError):
    """The gateway refused an admin call or could not be reached."""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AdminError(
            f"cannot read {path} ({exc.strerror}): pass the PKI folder the gateway uses "
            "(--pki, made by `notary pki init`; `make run` keeps it in $DATA_DIR/pki, "
            "./data/pki by default)"
        ) from exc


class AdminClient:
    """AdminService over mutual TLS, authenticated with the PKI's operator certificate."""

    def __init__(self, address: str, pki_dir: Path, *, wait: float = 0.0) -> None:
        paths = pki_paths(pki_dir)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(paths.root),
            private_key=_read(paths.operator_key),
            certificate_chain=_read(paths.operator),
        )
        self.address = address
        self._channel = grpc.secure_channel(address, credentials)
        self._stub = pb_grpc.AdminServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._evidence = evidence_service_pb2_grpc.EvidenceServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._wait = wait

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._wait
        while True:
            try:
                return fn()
            except grpc.RpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                raise AdminError(self._explain(code, exc.details())) from None

    def _explain(self, code: grpc.StatusCode, details: str | None) -> str:
        text = details or ""
        if code == grpc.StatusCode.UNAVAILABLE:
            return (
                f"cannot reach the gateway at {self.address} over mutual TLS ({text}): is it "
                "running, without --insecure-dev, on the server certificate of this --pki?"
            )
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return (
                f"the gateway at {self.address} does not accept this PKI's operator "
                f"certificate ({text}): use the --pki folder the gateway was started with"
            )
        if code == grpc.StatusCode.PERMISSION_DENIED:
            return f"the operator certificate is not registered as an admin: {text}"
        return f"{code.name}: {text}"

    def _institution(self, fn: Callable[[], Any]) -> pb.Institution:
        response: Any = self._call(fn)
        institution: pb.Institution = response.institution
        return institution

    def register(self, name: str, role: str, certificate: bytes) -> pb.Institution:
        request = pb.RegisterInstitutionRequest(name=name, role=role, certificate=certificate)
        return self._institution(lambda: self._stub.RegisterInstitution(request, timeout=_TIMEOUT))

    def get(self, name: str) -> pb.Institution:
        request = pb.GetInstitutionRequest(name=name)
        return self._institution(lambda: self._stub.GetInstitution(request, timeout=_TIMEOUT))

    def list(self) -> Iterator[pb.Institution]:
        token = ""
        while True:
            request = pb.ListInstitutionsRequest(page_size=100, page_token=token)
            page: Any = self._call(
                lambda r=request: self._stub.ListInstitutions(r, timeout=_TIMEOUT)  # type: ignore[misc]
            )
            yield from page.institutions
            token = page.next_page_token
            if not token:
                return

    def registry_records(self, admin: str) -> Iterator[common_pb2.EvidenceRecord]:
        """The records of the registry changes ``admin`` made (its ``:institutions``
        chain), in chain order, with their receipts as issued."""
        token = ""
        while True:
            request = ev.ListEvidenceRequest(
                institution=admin, loan_ref=INSTITUTIONS_LOAN, page_size=1000, page_token=token
            )
            page: Any = self._call(
                lambda r=request: self._evidence.ListEvidence(r, timeout=_TIMEOUT)  # type: ignore[misc]
            )
            yield from page.records
            token = page.next_page_token
            if not token:
                return

    def suspend(self, name: str) -> pb.Institution:
        request = pb.SuspendInstitutionRequest(name=name)
        return self._institution(lambda: self._stub.SuspendInstitution(request, timeout=_TIMEOUT))

    def reinstate(self, name: str) -> pb.Institution:
        request = pb.ReinstateInstitutionRequest(name=name)
        return self._institution(lambda: self._stub.ReinstateInstitution(request, timeout=_TIMEOUT))

    def revoke(self, name: str) -> pb.Institution:
        request = pb.RevokeInstitutionRequest(name=name)
        return self._institution(lambda: self._stub.RevokeInstitution(request, timeout=_TIMEOUT))

    def add_certificate(
        self, name: str, certificate: bytes, overlap_seconds: int | None
    ) -> pb.Institution:
        request = pb.AddCertificateRequest(name=name, certificate=certificate)
        if overlap_seconds is not None:
            request.overlap.CopyFrom(Duration(seconds=overlap_seconds))
        return self._institution(lambda: self._stub.AddCertificate(request, timeout=_TIMEOUT))

    def revoke_certificate(self, name: str, sha256: bytes) -> pb.Institution:
        request = pb.RevokeCertificateRequest(name=name, sha256=sha256)
        return self._institution(lambda: self._stub.RevokeCertificate(request, timeout=_TIMEOUT))

    def anchor_now(self, wait: float) -> pb.AnchorNowResponse:
        """Anchor on every chain now; the gateway waits up to ``wait`` seconds."""
        request = pb.AnchorNowRequest(wait=Duration(seconds=int(wait), nanos=0))
        response: pb.AnchorNowResponse = self._call(
            lambda: self._stub.AnchorNow(request, timeout=wait + _TIMEOUT)
        )
        return response

    def anchoring_status(self) -> pb.GetAnchoringStatusResponse:
        request = pb.GetAnchoringStatusRequest()
        response: pb.GetAnchoringStatusResponse = self._call(
            lambda: self._stub.GetAnchoringStatus(request, timeout=_TIMEOUT)
        )
        return response

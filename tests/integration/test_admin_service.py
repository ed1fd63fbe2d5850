"""AdminService against a real `gateway serve` (mutual TLS), called as the PKI's operator:
bad input names its field, the registry pages and survives a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from evidence_gateway.v1 import admin_service_pb2 as pb
from evidence_gateway.v1 import admin_service_pb2_grpc as pb_grpc
from notary.client_certs import issue_client_certificate
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import error_fields


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("admin-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def admin(gateway: GatewayProcess) -> Iterator[pb_grpc.AdminServiceStub]:
    with gateway.channel(identity=gateway.operator, own_connection=True) as channel:
        yield pb_grpc.AdminServiceStub(channel)


def _error(call: object, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)  # type: ignore[operator]
    return info.value


def _pem(gateway: GatewayProcess, name: str) -> bytes:
    return issue_client_certificate(gateway.pki, name, "lender").pem


def test_registration_input_errors_name_the_field(
    gateway: GatewayProcess, admin: pb_grpc.AdminServiceStub, tmp_path: Path
) -> None:
    cases = [
        (pb.RegisterInstitutionRequest(name="bad name", role="lender", certificate=b"x"), "name"),
        (pb.RegisterInstitutionRequest(name="b1", role="bank", certificate=b"x"), "role"),
        (pb.RegisterInstitutionRequest(name="b1", role="lender", certificate=b""), "certificate"),
        (  # a certificate issued for another institution (CN=b9)
            pb.RegisterInstitutionRequest(
                name="b1", role="lender", certificate=_pem(gateway, "b9")
            ),
            "certificate",
        ),
    ]
    other = tmp_path / "other-pki"
    make_pki(other)
    foreign = issue_client_certificate(other, "b1", "lender").pem
    cases.append(
        (
            pb.RegisterInstitutionRequest(name="b1", role="lender", certificate=foreign),
            "certificate",
        )
    )
    for request, field in cases:
        error = _error(admin.RegisterInstitution, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert error_fields(error) == [field]
    assert "b1" not in [
        i.name for i in admin.ListInstitutions(pb.ListInstitutionsRequest()).institutions
    ]


def test_conflicts_and_unknown_names(
    gateway: GatewayProcess, admin: pb_grpc.AdminServiceStub
) -> None:
    pem = _pem(gateway, "b2")
    made = admin.RegisterInstitution(
        pb.RegisterInstitutionRequest(name="b2", role="court", certificate=pem), timeout=10
    ).institution
    assert made.role == "court" and made.status == pb.INSTITUTION_STATUS_ACTIVE
    assert [c.accepted for c in made.certificates] == [True]
    again = _error(admin.AddCertificate, pb.AddCertificateRequest(name="b2", certificate=pem))
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS  # type: ignore[attr-defined]
    renamed = _error(  # b2's certificate under another name: its CN says b2
        admin.RegisterInstitution,
        pb.RegisterInstitutionRequest(name="b3", role="court", certificate=pem),
    )
    assert error_fields(renamed) == ["certificate"]
    missing = _error(admin.GetInstitution, pb.GetInstitutionRequest(name="nobody"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    wrong = _error(
        admin.RevokeCertificate, pb.RevokeCertificateRequest(name="b2", sha256=b"1" * 31)
    )
    assert error_fields(wrong) == ["sha256"]
    unknown = _error(
        admin.RevokeCertificate, pb.RevokeCertificateRequest(name="b2", sha256=b"1" * 32)
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    too_long = Duration()
    too_long.FromTimedelta(timedelta(days=91))
    overlap = _error(
        admin.AddCertificate,
        pb.AddCertificateRequest(name="b2", certificate=_pem(gateway, "b2"), overlap=too_long),
    )
    assert error_fields(overlap) == ["overlap"]
    other_name = _error(
        admin.AddCertificate, pb.AddCertificateRequest(name="b2", certificate=_pem(gateway, "b3"))
    )
    assert other_name.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert error_fields(other_name) == ["certificate"]


def test_list_pages_and_the_registry_survives_a_restart(
    gateway: GatewayProcess, admin: pb_grpc.AdminServiceStub
) -> None:
    for name in ("p-1", "p-2", "p-3"):
        admin.RegisterInstitution(
            pb.RegisterInstitutionRequest(
                name=name, role="regulator", certificate=_pem(gateway, name)
            ),
            timeout=10,
        )
    admin.SuspendInstitution(pb.SuspendInstitutionRequest(name="p-2"), timeout=10)

    def everything(stub: pb_grpc.AdminServiceStub) -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []
        token = ""
        while True:
            page = stub.ListInstitutions(
                pb.ListInstitutionsRequest(page_size=2, page_token=token), timeout=10
            )
            assert len(page.institutions) <= 2
            seen += [(i.name, i.status) for i in page.institutions]
            token = page.next_page_token
            if not token:
                return seen

    before = everything(admin)
    assert [n for n, _ in before] == sorted(n for n, _ in before)
    assert ("p-2", pb.INSTITUTION_STATUS_SUSPENDED) in before
    assert [n for n, _ in before].count("operator") == 1
    bad = _error(admin.ListInstitutions, pb.ListInstitutionsRequest(page_token="%%%"))
    assert error_fields(bad) == ["page_token"]
    size = _error(admin.ListInstitutions, pb.ListInstitutionsRequest(page_size=-1))
    assert error_fields(size) == ["page_size"]
    clamped = admin.ListInstitutions(pb.ListInstitutionsRequest(page_size=5000), timeout=10)
    assert [(i.name, i.status) for i in clamped.institutions] == before  # 1,000 at most, all here

    gateway.stop()
    gateway.start()
    with gateway.channel(identity=gateway.operator, own_connection=True) as channel:
        assert everything(pb_grpc.AdminServiceStub(channel)) == before  # operator not added twice


def test_every_change_is_a_log_entry_and_a_refused_one_is_not(
    gateway: GatewayProcess, admin: pb_grpc.AdminServiceStub
) -> None:
    from evidence_gateway.v1 import log_service_pb2, log_service_pb2_grpc

    with gateway.channel(identity=gateway.operator, own_connection=True) as channel:
        log = log_service_pb2_grpc.LogServiceStub(channel)

        def size() -> int:
            request = log_service_pb2.GetCheckpointRequest()
            return int(log.GetCheckpoint(request, timeout=10).checkpoint.size)

        before = size()
        admin.RegisterInstitution(
            pb.RegisterInstitutionRequest(
                name="logged-1", role="lender", certificate=_pem(gateway, "logged-1")
            ),
            timeout=30,
        )
        admin.SuspendInstitution(pb.SuspendInstitutionRequest(name="logged-1"), timeout=30)
        admin.ReinstateInstitution(pb.ReinstateInstitutionRequest(name="logged-1"), timeout=30)
        assert size() == before + 3  # one institution_changed record per change
        _error(admin.SuspendInstitution, pb.SuspendInstitutionRequest(name="nobody-here"))
        assert size() == before + 3  # a refused change records nothing

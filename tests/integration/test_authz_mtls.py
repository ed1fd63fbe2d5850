"""The role x RPC matrix against a real `gateway serve` over mutual TLS.

One institution of each role is registered the way an operator does it
(`notary institution add NAME --role ROLE`), and each calls with its own
certificate on its own connection: the role comes from the institutions
registry, never from a header. Every RPC of every service (the AdminService
included) is called as every role; an allowed role gets the servicer's own
answer, every other role PERMISSION_DENIED, and the gateway's log names each
denied caller, role and RPC.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from gateway.authz.roles import Role
from tests.support.authz_matrix import WHO, Stubs, dev_headers, mismatches
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("mtls-matrix")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_role_x_rpc_matrix_with_client_certificates(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    stubs: dict[Role, Stubs] = {}
    with contextlib.ExitStack() as stack:
        for role, name in WHO.items():
            gateway.add_institution(name, role.value, tmp_path)
            channel = stack.enter_context(
                gateway.channel(identity=identity_in(tmp_path, name), own_connection=True)
            )
            # Headers claiming another identity change nothing under mutual TLS.
            lie = dev_headers(Role.ADMIN if role is not Role.ADMIN else Role.LENDER, "someone")
            stubs[role] = Stubs.of(channel, metadata=lie)
        wrong = mismatches(stubs.__getitem__, admin=True)
    assert not wrong, "\n".join(wrong)
    log = gateway.log_text()
    for role in Role:
        if role is not Role.ADMIN:
            assert f"caller {WHO[role]} (role {role.value})" in log


def test_a_grant_goes_only_to_an_institution_of_the_right_role(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    from evidence_gateway.v1 import access_service_pb2 as ac
    from tests.support.grpc_client import error_fields, timestamp

    names = {Role.LENDER: "bank-g", Role.COLLECTOR: "agency-g", Role.COURT: "court-g"}
    for role, name in names.items():
        gateway.add_institution(name, role.value, tmp_path)
    later = timestamp(datetime.now(UTC) + timedelta(days=1))
    loans = ac.LoanSelection(loan_refs=["L-G"])
    with gateway.channel(
        identity=identity_in(tmp_path, names[Role.LENDER]), own_connection=True
    ) as channel:
        access = Stubs.of(channel).access
        refused = [
            (access.DelegateLoans, ac.DelegateLoansRequest, "collector", names[Role.COURT]),
            (access.DelegateLoans, ac.DelegateLoansRequest, "collector", "agency-nobody"),
            (access.ShareLoan, ac.ShareLoanRequest, "grantee", names[Role.COLLECTOR]),
            (access.ShareLoan, ac.ShareLoanRequest, "grantee", "court-nobody"),
        ]
        for n, (call, request, field, grantee) in enumerate(refused):
            with pytest.raises(grpc.RpcError) as info:
                call(
                    request(request_id=f"g-{n}", loans=loans, expires_at=later, **{field: grantee}),
                    timeout=30,
                )
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
            assert error_fields(info.value) == [field]
        # The right roles get their grants.
        delegated = access.DelegateLoans(
            ac.DelegateLoansRequest(
                request_id="g-ok-1", collector=names[Role.COLLECTOR], loans=loans, expires_at=later
            ),
            timeout=30,
        )
        shared = access.ShareLoan(
            ac.ShareLoanRequest(
                request_id="g-ok-2", grantee=names[Role.COURT], loans=loans, expires_at=later
            ),
            timeout=30,
        )
    assert len(delegated.receipts) == 1 and len(shared.receipts) == 1

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
from pathlib import Path

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

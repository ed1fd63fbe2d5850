"""A gateway that cannot be reached: the message says what failed and what to check, and
gRPC's own log line ("I1201 … Handshake failed …") does not reach the user's stderr.

Against real in-process gRPC servers: mutual TLS with the session's PKI (the server
certificate and root the PKI's `notary pki init` made), and a port nobody listens on.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from court.gateway_rpc import GatewayConnection, GatewayError, GatewayTarget, grpc_module
from evidence_gateway.v1 import log_service_pb2, log_service_pb2_grpc
from notary.pki import init_pki
from tests.support.procs import BIN


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("other-pki") / "pki"
    init_pki(directory, key_type="p256")
    return directory


@pytest.fixture
def tls_server(pki_p256: Path) -> Iterator[str]:
    """A gRPC server over mutual TLS with the PKI's server certificate (no services)."""
    credentials = grpc.ssl_server_credentials(
        [((pki_p256 / "server.key").read_bytes(), (pki_p256 / "server.pem").read_bytes())],
        root_certificates=(pki_p256 / "root-ca.pem").read_bytes(),
        require_client_auth=True,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _target(address: str, ca: Path, identity: Path) -> GatewayTarget:
    return GatewayTarget(
        address, ca, identity / "operator.pem", identity / "operator.key", timeout=5.0
    )


def _call(target: GatewayTarget) -> str:
    with GatewayConnection(target) as connection:
        stub = log_service_pb2_grpc.LogServiceStub(connection.channel)  # type: ignore[no-untyped-call]
        with pytest.raises(GatewayError) as caught:
            connection.call(stub.GetCheckpoint, log_service_pb2.GetCheckpointRequest())
    assert caught.value.code == "UNAVAILABLE"
    return str(caught.value)


def test_a_wrong_ca_is_a_failed_handshake_naming_ca_and_certificate(
    tls_server: str, pki_p256: Path, other_pki: Path
) -> None:
    message = _call(_target(tls_server, other_pki / "root-ca.pem", pki_p256))
    assert message.startswith(f"the TLS handshake with the gateway at {tls_server} failed; ")
    assert "check that --ca is the CA that issued the gateway's server certificate" in message
    assert "--cert and --key are your institution's certificate and its key" in message
    assert f"--gateway {tls_server} is the gateway's address" in message
    assert message.endswith(")") and ": OK)" not in message
    assert "(gRPC: UNAVAILABLE: " in message  # gRPC's own words, for a technician


def test_nothing_listening_says_it_could_not_connect(pki_p256: Path) -> None:
    address = f"127.0.0.1:{_free_port()}"
    message = _call(_target(address, pki_p256 / "root-ca.pem", pki_p256))
    assert message.startswith(f"could not connect to the gateway at {address} over mutual TLS;")
    assert "check that the gateway is running" in message
    assert "--ca is the CA that issued its server certificate" in message


def test_plaintext_to_a_tls_gateway_names_insecure_dev(tls_server: str) -> None:
    message = _call(GatewayTarget(tls_server, insecure_loopback=True, timeout=5.0))
    assert message.startswith(f"could not connect to the gateway at {tls_server} over plaintext;")
    assert "started with --insecure-dev" in message
    assert "needs --ca, --cert and --key instead of --insecure-loopback" in message


class _StoreDown(log_service_pb2_grpc.LogServiceServicer):
    def GetCheckpoint(self, request: object, context: grpc.ServicerContext) -> object:
        context.abort(
            grpc.StatusCode.UNAVAILABLE,
            "the store is unavailable (connection refused); retry later",
        )
        raise AssertionError("context.abort raises")


def test_the_gateways_own_unavailable_is_not_a_connection_failure() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = _StoreDown()
    log_service_pb2_grpc.add_LogServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        message = _call(GatewayTarget(f"127.0.0.1:{port}", insecure_loopback=True, timeout=5.0))
    finally:
        server.stop(grace=None).wait()
    assert message.startswith(f"the gateway at 127.0.0.1:{port} is unavailable; retry later")
    assert "the store is unavailable (connection refused)" in message


def test_grpc_verbosity_is_error_unless_the_user_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    grpc_module()
    assert os.environ["GRPC_VERBOSITY"] == "ERROR"
    monkeypatch.setenv("GRPC_VERBOSITY", "DEBUG")
    grpc_module()
    assert os.environ["GRPC_VERBOSITY"] == "DEBUG"


def test_grpcs_own_log_line_does_not_reach_stderr(
    tls_server: str, pki_p256: Path, other_pki: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    result = subprocess.run(
        [
            str(BIN / "court-verify"), "fetch", "--gateway", tls_server,
            "--ca", str(other_pki / "root-ca.pem"),
            "--cert", str(pki_p256 / "operator.pem"), "--key", str(pki_p256 / "operator.key"),
            "--entry", "x", "--out", str(tmp_path / "x"), "--timeout", "5",
        ],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Handshake failed" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("court-verify: the TLS handshake"), lines

"""Attacks on identity against a real `gateway serve` that serves mutual TLS.

The institutions and their certificates are made the way an operator makes
them: `notary pki init`, then `notary institution add|revoke|suspend|rotate`
against the running gateway. Each attack checks the exact status the client
gets, that the answer says nothing about why (the same words for every
reason), and that the reason is in the gateway's log.

What TLS refuses (no client certificate, another CA, an expired certificate)
never reaches the gateway's code: the handshake fails, and the client sees
UNAVAILABLE from its own gRPC library ("Socket closed"); gRPC's TLS layer
logs the reason on the gateway's side. What TLS accepts but the registry does
not gets UNAUTHENTICATED from the gateway.
"""

from __future__ import annotations

import queue
import shlex
import stat
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from evidence_gateway.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    common_pb2,
    log_service_pb2,
    log_service_pb2_grpc,
)
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from gateway.api.identity import NOT_AUTHENTICATED
from notary.client_certs import issue_client_certificate, write_client_files
from tests.support.gateway_proc import (
    ClientIdentity,
    GatewayProcess,
    identity_in,
    make_pki,
    notary,
    write_config,
)
from tests.support.grpc_client import submission
from tests.support.procs import BIN


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("mtls-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("institutions")


def _checkpoint(channel: grpc.Channel) -> int:
    stub = log_service_pb2_grpc.LogServiceStub(channel)
    return int(
        stub.GetCheckpoint(log_service_pb2.GetCheckpointRequest(), timeout=10).checkpoint.size
    )


def _submit(channel: grpc.Channel, *metadata: tuple[str, str]) -> common_pb2.Receipt:
    stub = ev_grpc.EvidenceServiceStub(channel)
    request = ev.SubmitEvidenceRequest(submission=submission())
    return stub.SubmitEvidence(request, metadata=metadata, timeout=30).receipt


def _refused(channel: grpc.Channel) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        _checkpoint(channel)
    return info.value


def _assert_unauthenticated(error: grpc.RpcError) -> None:
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert error.details() == NOT_AUTHENTICATED  # type: ignore[attr-defined]


def _assert_handshake_refused(error: grpc.RpcError) -> None:
    # The client learns only that the connection closed: nothing of the registry.
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    details = error.details()  # type: ignore[attr-defined]
    assert "Socket closed" in details or "handshake" in details.lower(), details
    assert "regist" not in details and "revok" not in details


def _add(gateway: GatewayProcess, clients: Path, name: str, role: str = "lender") -> ClientIdentity:
    gateway.add_institution(name, role, clients)
    return identity_in(clients, name)


def test_add_writes_a_private_key_and_the_institution_calls_as_itself(
    gateway: GatewayProcess, clients: Path
) -> None:
    result = gateway.add_institution("bank-a", "lender", clients)
    bank = identity_in(clients, "bank-a")
    assert stat.S_IMODE(bank.key.stat().st_mode) == 0o600
    assert f"certificate  {bank.certificate}" in result.stdout
    assert f"key          {bank.key}" in result.stdout
    assert "grpc.ssl_channel_credentials(" in result.stdout
    with gateway.channel(identity=bank, own_connection=True) as channel:
        # A header naming another institution changes nothing: the certificate decides.
        receipt = _submit(channel, ("x-institution", "bank-z"), ("x-role", "admin"))
        stub = ev_grpc.EvidenceServiceStub(channel)
        record = stub.GetEvidence(ev.GetEvidenceRequest(entry_id=receipt.entry_id), timeout=10)
    assert record.record.institution == "bank-a"


def test_the_start_up_hint_is_a_command_that_works(gateway: GatewayProcess) -> None:
    hint = next(
        line.strip()
        for line in gateway.log_text().splitlines()
        if line.strip().startswith("notary institution add NAME")
    )
    assert "PKI_DIR" not in hint and f"--pki {gateway.pki.absolute()}" in hint
    args = shlex.split(hint.replace("NAME", "hinted-bank", 1))[1:]  # as the shell runs it
    result = subprocess.run(
        [str(BIN / "notary"), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = Path(args[args.index("--out") + 1])
    with gateway.channel(identity=identity_in(out, "hinted-bank"), own_connection=True) as c:
        assert _checkpoint(c) >= 0


def test_no_client_certificate_fails_the_handshake(gateway: GatewayProcess) -> None:
    with gateway.channel(identity=None, own_connection=True) as channel:
        _assert_handshake_refused(_refused(channel))
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in gateway.log_text()


def test_a_plaintext_client_gets_no_answer(gateway: GatewayProcess) -> None:
    with gateway.channel(tls=False, own_connection=True) as channel:
        error = _refused(channel)
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_a_certificate_of_another_ca_fails_the_handshake(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    other = tmp_path / "other-pki"
    make_pki(other)
    files = write_client_files(
        issue_client_certificate(other, "bank-a", "lender"), tmp_path, "bank-a"
    )
    identity = ClientIdentity(files.certificate, files.key)
    with gateway.channel(identity=identity, own_connection=True) as channel:
        _assert_handshake_refused(_refused(channel))
    assert "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate" in (
        gateway.log_text()
    )


def test_an_expired_certificate_fails_the_handshake(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    # Issued by the gateway's own CA, valid for one day that ended yesterday.
    issued = issue_client_certificate(
        gateway.pki, "bank-old", "lender", days=1, now=datetime.now(UTC) - timedelta(days=2)
    )
    files = write_client_files(issued, tmp_path, "bank-old")
    with gateway.channel(
        identity=ClientIdentity(files.certificate, files.key), own_connection=True
    ) as channel:
        _assert_handshake_refused(_refused(channel))
    assert "CERTIFICATE_VERIFY_FAILED: certificate has expired" in gateway.log_text()


def test_an_unregistered_certificate_of_the_right_ca_is_unauthenticated(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    issued = issue_client_certificate(gateway.pki, "bank-x", "lender")
    files = write_client_files(issued, tmp_path, "bank-x")
    with gateway.channel(
        identity=ClientIdentity(files.certificate, files.key), own_connection=True
    ) as channel:
        _assert_unauthenticated(_refused(channel))
    assert f"certificate not registered (certificate sha256 {issued.sha256.hex()})" in (
        gateway.log_text()
    )


def test_revoked_while_its_connection_stays_open(gateway: GatewayProcess, clients: Path) -> None:
    bank = _add(gateway, clients, "bank-r")
    with gateway.channel(identity=bank, own_connection=True) as channel:
        _submit(channel)
        assert channel._channel.check_connectivity_state(False) == 2  # type: ignore[attr-defined]  # READY
        notary("institution", "revoke", "bank-r", gateway=gateway)
        _assert_unauthenticated(_refused(channel))
        with pytest.raises(grpc.RpcError) as info:
            _submit(channel)
        _assert_unauthenticated(info.value)
        # The refusal came over the same, still open connection.
        assert channel._channel.check_connectivity_state(False) == 2  # type: ignore[attr-defined]
    assert "refused: institution revoked (institution bank-r)" in gateway.log_text()


def test_an_open_stream_ends_once_its_institution_is_revoked(
    gateway: GatewayProcess, clients: Path
) -> None:
    bank = _add(gateway, clients, "bank-st")
    outbox: queue.Queue[ev.SubmitEvidenceStreamRequest | None] = queue.Queue()

    def requests() -> Iterator[ev.SubmitEvidenceStreamRequest]:
        while (message := outbox.get(timeout=60)) is not None:
            yield message

    with gateway.channel(identity=bank, own_connection=True) as channel:
        replies = ev_grpc.EvidenceServiceStub(channel).SubmitEvidenceStream(requests(), timeout=60)
        outbox.put(ev.SubmitEvidenceStreamRequest(submission=submission()))
        assert next(replies).HasField("receipt")
        notary("institution", "revoke", "bank-st", gateway=gateway)
        time.sleep(1.1)  # the stream authenticates its caller again after a second
        outbox.put(ev.SubmitEvidenceStreamRequest(submission=submission()))
        with pytest.raises(grpc.RpcError) as info:
            next(replies)
        outbox.put(None)
    _assert_unauthenticated(info.value)
    assert "refused: institution revoked (institution bank-st)" in gateway.log_text()


def test_suspension_and_reinstatement_apply_to_the_next_call(
    gateway: GatewayProcess, clients: Path
) -> None:
    bank = _add(gateway, clients, "bank-s")
    with gateway.channel(identity=bank, own_connection=True) as channel:
        assert _checkpoint(channel) >= 0
        notary("institution", "suspend", "bank-s", gateway=gateway)
        _assert_unauthenticated(_refused(channel))
        notary("institution", "reinstate", "bank-s", gateway=gateway)
        assert _checkpoint(channel) >= 0
    assert "refused: institution suspended (institution bank-s)" in gateway.log_text()


def test_rotation_without_overlap_retires_the_old_certificate_at_once(
    gateway: GatewayProcess, clients: Path
) -> None:
    _add(gateway, clients, "bank-t")
    old = ClientIdentity(clients / "bank-t.previous.pem", clients / "bank-t.previous.key")
    with gateway.channel(identity=identity_in(clients, "bank-t"), own_connection=True) as before:
        assert _checkpoint(before) >= 0
        result = notary(
            "institution",
            "rotate",
            "bank-t",
            "--out",
            str(clients),
            "--overlap",
            "0",
            gateway=gateway,
        )
        assert "rotated bank-t" in result.stdout and old.certificate.exists()
        _assert_unauthenticated(_refused(before))  # the old certificate, same connection
    with gateway.channel(identity=identity_in(clients, "bank-t"), own_connection=True) as new:
        assert _checkpoint(new) >= 0
    assert "certificate retired by a rotation" in gateway.log_text()


def test_revoking_one_certificate_leaves_the_others(gateway: GatewayProcess, clients: Path) -> None:
    _add(gateway, clients, "bank-c")
    old = ClientIdentity(clients / "bank-c.previous.pem", clients / "bank-c.previous.key")
    notary("institution", "rotate", "bank-c", "--out", str(clients), gateway=gateway)
    sha256 = x509.load_pem_x509_certificate(old.certificate.read_bytes()).fingerprint(
        hashes.SHA256()
    )
    with (
        gateway.channel(identity=old, own_connection=True) as before,
        gateway.channel(identity=identity_in(clients, "bank-c"), own_connection=True) as new,
    ):
        assert _checkpoint(before) >= 0 and _checkpoint(new) >= 0  # both within the overlap
        shown = notary(
            "institution", "revoke", "bank-c", "--certificate", sha256.hex(), gateway=gateway
        )
        assert f"certificate sha256 {sha256.hex()}  not accepted (revoked" in shown.stdout
        _assert_unauthenticated(_refused(before))
        assert _checkpoint(new) >= 0
    bad = notary(
        "institution", "revoke", "bank-c", "--certificate", "abc", gateway=gateway, check=False
    )
    assert bad.returncode == 2 and "64 hex digits" in bad.stderr


def test_admin_service_is_for_admins_only(gateway: GatewayProcess, clients: Path) -> None:
    bank = _add(gateway, clients, "bank-p")
    with gateway.channel(identity=bank, own_connection=True) as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ListInstitutions(admin_service_pb2.ListInstitutionsRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert (
        "denied: caller bank-p (role lender) called "
        "/evidence_gateway.v1.AdminService/ListInstitutions"
    ) in gateway.log_text()
    with gateway.channel(identity=gateway.operator, own_connection=True) as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        names = [
            i.name
            for i in stub.ListInstitutions(
                admin_service_pb2.ListInstitutionsRequest(), timeout=10
            ).institutions
        ]
    assert {"operator", "bank-p"} <= set(names)


def test_a_refused_registration_leaves_no_files(
    gateway: GatewayProcess, clients: Path, tmp_path: Path
) -> None:
    _add(gateway, clients, "bank-d")
    result = gateway.add_institution("bank-d", "lender", tmp_path, check=False)
    assert result.returncode == 1
    assert "ALREADY_EXISTS" in result.stderr and "'bank-d' is already registered" in result.stderr
    assert not list(tmp_path.glob("bank-d*"))
    fresh = tmp_path / "new" / "folder"
    assert gateway.add_institution("bank-d", "lender", fresh, check=False).returncode == 1
    assert not fresh.exists()  # the folder it made for the files is gone too


def test_the_cli_says_when_the_gateway_does_not_know_the_pki(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    other = tmp_path / "other-pki"
    make_pki(other)
    result = notary(
        "institution", "list", "--gateway", gateway.address, "--pki", str(other), check=False
    )
    assert result.returncode == 1
    assert "cannot reach the gateway" in result.stderr and "mutual TLS" in result.stderr

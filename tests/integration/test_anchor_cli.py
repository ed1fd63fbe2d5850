"""`gateway serve` (mutual TLS) with anchoring on a real anvil node, driven by
`notary anchor init|deploy|now|status` (`now` and `status` are clients of the
gateway's AdminService with the PKI's operator certificate); health says when
the anchors lag past their bound while submissions go on."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc

from evidence_gateway.v1 import admin_service_pb2 as adm
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from evidence_gateway.v1.admin_service_pb2_grpc import AdminServiceStub
from gateway.server import ANCHORING_SERVICE
from tests.support.anchored_gateway import anchoring_gateway
from tests.support.anvil import Anvil, wait_for
from tests.support.gateway_proc import (
    GatewayProcess,
    identity_in,
    make_pki,
    notary,
    write_config,
)
from tests.support.grpc_client import submission

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _status(gateway: GatewayProcess) -> dict[str, str]:
    out = notary("anchor", "status", gateway=gateway).stdout
    return {k: v.strip() for k, v in re.findall(r"^  (\w[\w ']*?)  +(.*)$", out, re.M)}


def test_init_and_deploy_once(tmp_path: Path, anvil: Anvil) -> None:
    pki = tmp_path / "pki"
    make_pki(pki)
    key = tmp_path / "anchor" / "submitter.key"
    made = notary("anchor", "init", "--out", str(key)).stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and "address 0x" in made
    again = notary("anchor", "init", "--out", str(key), check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    record = tmp_path / "anchor" / "contract"
    deploy = ["anchor", "deploy", "--rpc", anvil.rpc_url, "--key", str(key), "--pki", str(pki)]
    first = notary(*deploy, "--address-file", str(record), "--dev-balance", "5").stdout
    address = record.read_text().strip()
    assert f"contract deployed at {address} (chain id 31337)" in first
    # A complete [[anchor.chains]] table, ready for the gateway's config file.
    table = tomllib.loads(first.split("(docs/anchoring.md):\n", 1)[1])["anchor"]["chains"]
    assert table == [
        {
            "name": "chain-31337",
            "rpc_url": anvil.rpc_url,
            "contract": address,
            "key_file": str(key.resolve()),
            "chain_id": 31337,
        }
    ]
    second = notary(*deploy, "--address-file", str(record), "--name", "court-chain").stdout
    assert "already anchors this log" in second and record.read_text().strip() == address
    assert 'name = "court-chain"' in second and f'contract = "{address}"' in second
    bad = notary(*deploy, "--name", "bad name!", check=False)
    assert bad.returncode == 2 and "a chain name is 1 to 64" in bad.stderr
    # A node that does not answer: a clear error, exit 1.
    anvil.stop()
    down = notary(*deploy, check=False)
    assert down.returncode == 1 and "is the node running at" in down.stderr


def test_serve_anchors_and_health_says_when_the_lag_passes_its_bound(
    tmp_path: Path, anvil: Anvil
) -> None:
    gateway = anchoring_gateway(tmp_path, anvil, interval_seconds=0.5, max_lag_seconds=2.0).process
    gateway.start()
    try:
        gateway.add_institution("bank-a", "lender", tmp_path / "clients")
        lender = identity_in(tmp_path / "clients", "bank-a")
        with (
            gateway.channel(identity=lender) as channel,
            gateway.channel(identity=gateway.operator) as admin_channel,
        ):
            health = health_pb2_grpc.HealthStub(channel)
            stub = ev_grpc.EvidenceServiceStub(channel)
            admin = AdminServiceStub(admin_channel)  # type: ignore[no-untyped-call]

            def check(service: str) -> int:
                request = health_pb2.HealthCheckRequest(service=service)
                return int(health.Check(request, timeout=5).status)

            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
            now = notary("anchor", "now", gateway=gateway).stdout
            anchored = re.search(r"chain local: anchored size (\d+), transaction 0x(\w+)", now)
            assert anchored, now
            status = _status(gateway)
            assert status["anchored size"].split()[0] == status["log size"] == anchored.group(1)
            assert status["lag"] == "0 entries, 0 s" and status["pending"] == "0"
            assert status["submitter"].endswith("ether") and int(status["chain head"]) >= 1
            wait_for(lambda: check(ANCHORING_SERVICE) == SERVING, what="anchoring SERVING")
            # The RPC itself: the anchor's transaction and block, as on chain.
            answer = admin.AnchorNow(adm.AnchorNowRequest(), timeout=60)
            [chain] = answer.chains
            assert chain.anchored and chain.transaction_hash.hex() == anchored.group(2)
            assert chain.block_number >= 1 and chain.reason == ""

            anvil.stop()  # anchors stop; submissions go on
            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
            wait_for(lambda: check(ANCHORING_SERVICE) == NOT_SERVING, what="the lag reported")
            assert check("") == SERVING
            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
            lagging = _status(gateway)
            assert lagging["lag"].startswith("2 entries") and "past the bound" in lagging["lag"]
            assert "unreachable" in lagging["chain"] and "unreachable" in lagging["last error"]
            assert "chain head" not in lagging
            assert "chain local lags" in gateway.log_text()
            late = notary("anchor", "now", "--wait", "1", gateway=gateway, check=False)
            assert late.returncode == 1 and "chain local: not anchored yet: " in late.stdout
            assert "unreachable" in late.stdout and "see `notary anchor status`" in late.stderr

            anvil.start()  # one catch-up anchor; health says so
            wait_for(lambda: check(ANCHORING_SERVICE) == SERVING, timeout=60, what="caught up")
            assert _status(gateway)["lag"] == "0 entries, 0 s"
    finally:
        gateway.stop()


def test_status_and_log_show_the_confirmations_an_anchor_waits_for(
    tmp_path: Path, anvil: Anvil
) -> None:
    """anvil mines only when a transaction comes (as make run's would without a block
    time): an anchor that needs 2 confirmations waits at 1/2 until a block is added, and
    the operator sees so instead of a silent stall."""
    gateway = anchoring_gateway(tmp_path, anvil, interval_seconds=0.5, confirmations=2).process
    gateway.start()
    try:
        gateway.add_institution("bank-a", "lender", tmp_path / "clients")
        lender = identity_in(tmp_path / "clients", "bank-a")
        with gateway.channel(identity=lender) as channel:
            stub = ev_grpc.EvidenceServiceStub(channel)
            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
        wait_for(
            lambda: "waiting for confirmations 1/2" in gateway.log_text(),
            what="the worker's log of the confirmations",
        )
        status = _status(gateway)
        assert status["confirmations"] == "waiting for confirmations 1/2", status
        assert status["pending"] == "1" and status["anchored size"].split()[0] == "0"
        anvil.mine(1)
        wait_for(lambda: _status(gateway)["pending"] == "0", what="the anchor confirmed")
        assert _status(gateway)["confirmations"] == "2 required"
    finally:
        gateway.stop()


def test_anchoring_rpcs_refuse_when_anchoring_is_off_and_check_their_wait(
    tmp_path: Path,
) -> None:
    make_pki(tmp_path / "data" / "pki")
    gateway = GatewayProcess(write_config(tmp_path), tmp_path, mtls=True)
    gateway.start()
    try:
        off = notary("anchor", "status", gateway=gateway, check=False)
        assert off.returncode == 1 and "anchoring is not enabled" in off.stderr
        assert "FAILED_PRECONDITION" in off.stderr
        bad = notary("anchor", "now", "--wait", "301", gateway=gateway, check=False)
        assert bad.returncode == 2 and "--wait must be 0 to 300" in bad.stderr
        with gateway.channel(identity=gateway.operator) as channel:
            admin = AdminServiceStub(channel)  # type: ignore[no-untyped-call]
            too_long = adm.AnchorNowRequest(wait=Duration(seconds=301))
            with pytest.raises(grpc.RpcError) as caught:
                admin.AnchorNow(too_long, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "wait" in str(caught.value.details())
    finally:
        gateway.stop()

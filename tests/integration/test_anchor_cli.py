"""`gateway serve` with anchoring on a real anvil node, driven by `notary anchor
init|deploy|now|status`; health says when the anchors lag past their bound while
submissions go on."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from gateway.server import ANCHORING_SERVICE
from tests.support.anvil import Anvil, wait_for
from tests.support.gateway_proc import GatewayProcess, make_pki, notary, write_config
from tests.support.grpc_client import submission

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _status(config: Path) -> dict[str, str]:
    out = notary("anchor", "status", "--config", str(config)).stdout
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
    second = notary(*deploy, "--address-file", str(record)).stdout
    assert "already anchors this log" in second and record.read_text().strip() == address
    # A node that does not answer: a clear error, exit 1.
    anvil.stop()
    down = notary(*deploy, check=False)
    assert down.returncode == 1 and "is the node running at" in down.stderr


def test_serve_anchors_and_health_says_when_the_lag_passes_its_bound(
    tmp_path: Path, anvil: Anvil
) -> None:
    pki = tmp_path / "data" / "pki"
    make_pki(pki)
    key = tmp_path / "submitter.key"
    notary("anchor", "init", "--out", str(key))
    deployed = notary(
        "anchor",
        "deploy",
        "--rpc",
        anvil.rpc_url,
        "--key",
        str(key),
        "--pki",
        str(pki),
        "--dev-balance",
        "5",
    ).stdout
    contract = re.search(r"deployed at (0x[0-9a-fA-F]{40})", deployed)
    assert contract
    config = write_config(
        tmp_path,
        sections={"anchor": {"enabled": True, "interval_seconds": 0.5, "max_lag_seconds": 2.0}},
    )
    with config.open("a") as out:
        out.write(
            f'[[anchor.chains]]\nname = "local"\nrpc_url = "{anvil.rpc_url}"\n'
            f'contract = "{contract.group(1)}"\nkey_file = "submitter.key"\nchain_id = 31337\n'
        )
    gateway = GatewayProcess(config, tmp_path)
    gateway.start()
    try:
        with gateway.channel() as channel:
            health = health_pb2_grpc.HealthStub(channel)
            stub = ev_grpc.EvidenceServiceStub(channel)

            def check(service: str) -> int:
                request = health_pb2.HealthCheckRequest(service=service)
                return int(health.Check(request, timeout=5).status)

            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
            notary("anchor", "now", "--data-dir", str(tmp_path / "data"))
            status = _status(config)
            assert status["anchored size"].split()[0] == status["log size"] != "0"
            assert status["lag"] == "0 entries, 0 s" and status["pending"] == "0"
            assert status["submitter"].endswith("ether")
            wait_for(lambda: check(ANCHORING_SERVICE) == SERVING, what="anchoring SERVING")

            anvil.stop()  # anchors stop; submissions go on
            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
            wait_for(lambda: check(ANCHORING_SERVICE) == NOT_SERVING, what="the lag reported")
            assert check("") == SERVING
            stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=submission()), timeout=30)
            lagging = _status(config)
            assert lagging["lag"].startswith("2 entries") and "past the bound" in lagging["lag"]
            assert "unreachable" in lagging["chain"]
            assert "chain local lags" in gateway.log_text()
            late = notary(
                "anchor", "now", "--data-dir", str(tmp_path / "data"), "--timeout", "1", check=False
            )
            assert late.returncode == 1 and "no anchor was sent in 1 s" in late.stderr

            anvil.start()  # one catch-up anchor; health says so
            wait_for(lambda: check(ANCHORING_SERVICE) == SERVING, timeout=60, what="caught up")
            assert _status(config)["lag"] == "0 entries, 0 s"
    finally:
        gateway.stop()

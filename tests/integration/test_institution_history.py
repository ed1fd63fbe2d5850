"""`notary institution history` against a real `gateway serve` (mutual TLS): the
operator lists the log's records of an institution's registration and revocation,
saves their receipts and documents, and `court-verify receipt` checks one offline.

The institution itself cannot read those records: they are the operator's.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, notary, write_config
from tests.support.procs import BIN

_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}Z)  (\S+)\s+  (\S+)  entry ([A-Za-z0-9_-]+)(.*)$"
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("history-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log_text()


def _history(gateway: GatewayProcess, *args: str) -> list[tuple[str, str, str, str]]:
    """(time, change, institution, entry id) of each record line printed."""
    out = notary("institution", "history", *args, gateway=gateway).stdout
    rows = [m.groups()[:4] for m in map(_LINE.match, out.splitlines()) if m]
    assert f"{len(rows)} registry change(s)" in out, out
    return rows


def test_history_saves_receipts_a_court_verifies(gateway: GatewayProcess, tmp_path: Path) -> None:
    clients, saved = tmp_path / "clients", tmp_path / "history"
    gateway.add_institution("bank-h", "lender", clients)
    ((_, change, who, registered),) = _history(gateway, "bank-h")
    assert (change, who) == ("register", "bank-h")
    # The institution does not read the operator's record of it (as if it did not exist).
    with gateway.channel(identity=identity_in(clients, "bank-h"), own_connection=True) as ch:
        evidence = evidence_service_pb2_grpc.EvidenceServiceStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=registered), timeout=10)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    notary("institution", "revoke", "bank-h", gateway=gateway)

    rows = _history(gateway, "bank-h", "--out", str(saved))
    assert [(r[1], r[2]) for r in rows] == [("register", "bank-h"), ("revoke", "bank-h")]
    assert rows[0][3] == registered and rows[0][0] <= rows[1][0]
    # Without NAME: every change, the operator's own registration at first start first.
    everything = _history(gateway)
    assert everything[0][1:3] == ("register", "operator")
    assert [r[3] for r in everything if r[2] == "bank-h"] == [r[3] for r in rows]

    revoked = rows[1][3]
    result = subprocess.run(
        [
            str(BIN / "court-verify"),
            "receipt",
            str(saved / f"{revoked}.pb"),
            "--file",
            str(saved / f"{revoked}.txt"),
            "--ca",
            str(gateway.pki / "root-ca.pem"),
            "--log-key",
            str(gateway.pki / "log.vkey"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"VALID: entry {revoked} ")
    assert (saved / f"{revoked}.txt").read_bytes() == (
        b"evidence-gateway institution change v1\ninstitution=bank-h\nchange=revoke\n"
    )


def test_history_refuses_a_bad_name(gateway: GatewayProcess) -> None:
    result = notary("institution", "history", "bad name", gateway=gateway, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "NAME must be an institution id" in result.stderr

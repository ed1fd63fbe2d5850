"""The Python example `notary institution add` prints makes a call the new institution's
role may make, and works as printed against a real `gateway serve` serving mutual TLS
(the lender named in it, dev-bank, having recorded, delegated and shared loan-0001)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import access_service_pb2_grpc
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config

ROOT = Path(__file__).resolve().parents[2]
_START = "Call the gateway with them from Python (run in the repository, with the venv):\n"
#: role -> (institution, the RPC its example calls).
ROLES = {
    "lender": ("dev-bank", "SubmitEvidence"),
    "court": ("court-1", "ListEvidence"),
    "arbitration": ("arb-1", "ListEvidence"),
    "collector": ("agency-1", "SubmitEvidence"),
    "regulator": ("reg-1", "GetStatistics"),
    "admin": ("ops-2", "ListInstitutions"),
}


def _example(printed: str) -> str:
    """The example as `notary institution add` printed it (indented by two spaces)."""
    assert _START in printed, printed
    return textwrap.dedent(printed.split(_START, 1)[1]).rstrip("\n")


@dataclass(frozen=True)
class Examples:
    process: GatewayProcess
    out: Path  # the institutions' certificates and keys
    printed: dict[str, str]  # role -> its example


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Examples]:
    folder = tmp_path_factory.mktemp("examples-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    out = folder / "data" / "institutions"
    try:
        printed = {
            role: _example(process.add_institution(name, role, out).stdout)
            for role, (name, _) in ROLES.items()
        }
        yield Examples(process, out, printed)
    finally:
        process.stop()


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _grant(process: GatewayProcess, out: Path) -> None:
    """dev-bank delegates loan-0001 to agency-1 and shares it with court-1 and arb-1."""
    expires = Timestamp()
    expires.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    channel = process.channel(identity=identity_in(out, "dev-bank"), own_connection=True)
    try:
        stub = access_service_pb2_grpc.AccessServiceStub(channel)
        loans = ac.LoanSelection(loan_refs=["loan-0001"])
        stub.DelegateLoans(
            ac.DelegateLoansRequest(
                request_id="ex-d", collector="agency-1", loans=loans, expires_at=expires
            )
        )
        for grantee in ("court-1", "arb-1"):
            stub.ShareLoan(
                ac.ShareLoanRequest(
                    request_id=f"ex-s-{grantee}", grantee=grantee, loans=loans, expires_at=expires
                )
            )
    finally:
        channel.close()


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_s_example_calls_an_rpc_of_that_role(examples: Examples, role: str) -> None:
    code = examples.printed[role]
    tree = ast.parse(code)  # it compiles
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert ROLES[role][1] in called, code


def test_the_printed_examples_work_against_the_gateway(examples: Examples) -> None:
    printed = examples.printed
    entry_id = _run(printed["lender"]).split(" ", 1)[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", entry_id)
    _grant(examples.process, examples.out)
    # The agency records a collection call on the delegated loan.
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", _run(printed["collector"]).split(" ", 1)[0])
    # The court and the arbitration body list it: the contract, the delegation, their
    # own share record and the agency's call (not the other body's share record).
    for role in ("court", "arbitration"):
        lines = _run(printed[role]).splitlines()
        assert lines[-1] == "4 records of loan-0001 of dev-bank", lines
        kinds = [line.split(" ")[1] for line in lines[:-1]]
        assert kinds == [
            "EVIDENCE_KIND_LOAN_CONTRACT",
            "EVIDENCE_KIND_LOAN_DELEGATED",
            "EVIDENCE_KIND_LOAN_SHARED",
            "EVIDENCE_KIND_COLLECTION_CALL",
        ], lines
    names = [line.split(" ")[0] for line in _run(printed["admin"]).splitlines()]
    assert {"dev-bank", "court-1", "agency-1", "reg-1"} <= set(names), names
    counts = _run(printed["regulator"]).splitlines()
    assert any(" dev-bank EVIDENCE_KIND_LOAN_CONTRACT 1" in line for line in counts), counts
    assert any(" agency-1 EVIDENCE_KIND_COLLECTION_CALL 1" in line for line in counts), counts

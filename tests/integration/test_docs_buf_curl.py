"""Every `buf curl` call in docs/gateway.md runs, as written, against a real `gateway serve`.

`buf curl` is what a non-Python integrator reaches for first: the pinned buf
from package.json, over plaintext HTTP/2 with the server's reflection. Its
output shows the error message only (details stay base64), so the refused
submission's message must name the field and the rule.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway_proc import GatewayProcess, make_pki, write_config

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "gateway.md"
BUF = "node_modules/.bin/buf"
DOC_ADDRESS = "http://127.0.0.1:50051"
RULE = (
    "submission.digest: must be 32 bytes for sha256, got 31; send the raw digest, not its hex text"
)


def doc_commands() -> list[str]:
    """The `buf curl` commands of the doc's sh blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.DOTALL)
    commands: list[str] = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith(f"{BUF} curl "):
                commands.append(command)
    return commands


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("docs-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder)
    try:
        process.start()
        yield process.address, folder / "data" / "pki"
    finally:
        process.stop()


def run(command: str, address: str) -> subprocess.CompletedProcess[str]:
    assert (ROOT / BUF).exists(), "node_modules/.bin/buf is missing: run `make setup` (npm ci)"
    assert command.count(DOC_ADDRESS) == 1, command
    return subprocess.run(
        ["bash", "-c", command.replace(DOC_ADDRESS, f"http://{address}")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_buf_curl_call_of_the_doc_works(gateway: tuple[str, Path]) -> None:
    address, pki = gateway
    commands = doc_commands()
    seen: set[str] = set()
    for command in commands:
        assert "--protocol grpc --http2-prior-knowledge" in command, command
        result = run(command, address)
        if "--list-methods" in command:
            seen.add("list")
            assert result.returncode == 0, result.stderr
            assert "evidence_gateway.v1.LogService/GetTrustInfo" in result.stdout.split()
        elif command.endswith("/SubmitEvidence") and '"request_id": "example-1"' in command:
            seen.add("submit")
            assert result.returncode == 0, result.stderr
            receipt = json.loads(result.stdout)["receipt"]
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", receipt["entryId"])
            assert receipt["checkpoint"]["signedNote"].startswith(receipt["checkpoint"]["origin"])
        elif command.endswith("/SubmitEvidence"):
            seen.add("refused")
            assert result.returncode != 0
            assert result.stderr.startswith("{"), (result.returncode, result.stdout, result.stderr)
            error = json.loads(result.stderr)
            assert error["code"] == "invalid_argument"
            assert error["message"] == RULE  # the rule, in plain text, in buf's output
            assert f'"message": "{RULE}"' in DOC.read_text()  # as the doc shows it
        elif command.endswith("/GetEvidence"):
            seen.add("get")
            assert json.loads(result.stderr)["code"] == "not_found"  # ENTRY_ID is a placeholder
        elif command.endswith("/GetTrustInfo"):
            seen.add("trust")
            assert result.returncode == 0, result.stderr
            info = json.loads(result.stdout)
            assert info["logVerifierKey"] == (pki / "log.vkey").read_text().strip()
            assert len(info["timeStampAuthorities"][0]["certificateChain"]) == 2
        elif command.endswith("/grpc.health.v1.Health/Check"):
            seen.add("health")
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout) == {"status": "SERVING"}
        else:
            pytest.fail(
                f"a buf curl call of docs/gateway.md that this test does not know: {command}"
            )
    assert seen == {"list", "submit", "refused", "get", "trust", "health"}, commands

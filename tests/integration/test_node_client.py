"""A Node.js client (@grpc/grpc-js + @grpc/proto-loader, pinned in package.json) against
a real `gateway serve --insecure-dev`.

It loads the repository's .proto files the way a lender's engineer would,
registers a digest, and sends one a byte short: grpc-js shows only the
status message, which must name the field and the rule; the BadRequest in
the details decodes with the vendored google/rpc/error_details.proto.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.verify.checkpoint import verify_checkpoint
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).parent / "node" / "grpc_js_client.js"
RULE = "must be 32 bytes for sha256, got 31; send the raw digest, not its hex text"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("node-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder)
    try:
        process.start()
        yield process.address, folder / "data" / "pki"
    finally:
        process.stop()


def test_grpc_js_client_gets_a_receipt_and_reads_the_rule(gateway: tuple[str, Path]) -> None:
    address, pki = gateway
    node = shutil.which("node")
    assert node, "node is not on PATH: the project needs Node.js (see README.md)"
    assert (ROOT / "node_modules" / "@grpc" / "grpc-js").is_dir(), "run `make setup` (npm ci)"
    result = subprocess.run(
        [node, str(CLIENT), address], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    vkey = (pki / "log.vkey").read_text().strip()
    assert out["log_verifier_key"] == vkey
    receipt = out["receipt"]
    assert receipt["leaf_index"] == "0" and receipt["tree_size"] == "1"
    assert verify_checkpoint(receipt["signed_note"], vkey).size == 1
    error = out["error"]
    assert (error["code"], error["code_name"]) == (3, "INVALID_ARGUMENT")
    assert error["details"] == f"submission.digest: {RULE}"
    assert error["violations"] == [["submission.digest", RULE]]

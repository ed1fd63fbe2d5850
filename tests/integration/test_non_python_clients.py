"""Clients in other languages against a real `gateway serve --insecure-dev`.

What a non-Python integrator reaches for first:

* `buf curl` (the buf pinned in package.json) with the server's reflection:
  every `buf curl` call in docs/gateway.md runs, as written, the plaintext
  ones against `--insecure-dev`, the mutual TLS ones against a gateway
  serving it, as `dev-bank` registered by `notary institution add`. Its
  output shows an error's message only (the details stay base64), so the
  refused submission's message must name the field and the rule.
* A Node.js client (@grpc/grpc-js + @grpc/proto-loader, pinned in
  package.json) loading the repository's .proto files: it registers a digest
  and sends one a byte short; grpc-js shows only the status message, which
  names the field and the rule, and the BadRequest in the details decodes
  with the vendored google/rpc/error_details.proto. Then one SubmitEvidenceStream
  of a message of three submissions (one bad), one of a single submission and
  one of too many: one answer per message, in order, shaped as the .proto says.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.verify.checkpoint import verify_checkpoint
from tests.support.gateway_proc import GatewayProcess, make_pki, notary, write_config
from tests.support.procs import BIN

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "gateway.md"
BUF = "node_modules/.bin/buf"
DOC_ADDRESS = "http://127.0.0.1:50051"
DOC_TLS_ADDRESS = "https://127.0.0.1:50051"
TLS_FILES = (
    "--cacert data/pki/root-ca.pem --cert data/institutions/dev-bank.pem"
    " --key data/institutions/dev-bank.key"
)
NODE_CLIENT = Path(__file__).parent / "node" / "grpc_js_client.js"
RULE = "must be 32 bytes for sha256, got 31; send the raw digest, not its hex text"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("clients-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder)
    try:
        process.start()
        yield process.address, folder / "data" / "pki"
    finally:
        process.stop()


@pytest.fixture(scope="module")
def mtls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A gateway serving mutual TLS, with dev-bank's files where `make run` puts them."""
    folder = tmp_path_factory.mktemp("clients-mtls-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        process.add_institution("dev-bank", "lender", folder / "data" / "institutions")
        yield process.address, folder
    finally:
        process.stop()


# --- buf curl ----------------------------------------------------------------------------


def doc_commands() -> list[str]:
    """The `buf curl` commands of the doc's sh blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.DOTALL)
    commands: list[str] = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith(f"{BUF} curl "):
                commands.append(command)
    return commands


def run(command: str, address: str, *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert (ROOT / BUF).exists(), "node_modules/.bin/buf is missing: run `make setup` (npm ci)"
    if TLS_FILES in command:  # the doc's relative data/ paths: run where they exist
        assert command.count(DOC_TLS_ADDRESS) == 1, command
        command = command.replace(DOC_TLS_ADDRESS, f"https://{address}")
        command = command.replace(BUF, str(ROOT / BUF), 1)
    else:
        assert command.count(DOC_ADDRESS) == 1, command
        command = command.replace(DOC_ADDRESS, f"http://{address}")
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_mutual_tls_buf_curl_call_of_the_doc_works(
    mtls_gateway: tuple[str, Path],
) -> None:
    address, folder = mtls_gateway
    commands = [c for c in doc_commands() if TLS_FILES in c]
    seen: set[str] = set()
    entry_id = ""
    vkey = (folder / "data" / "pki" / "log.vkey").read_text().strip()
    for command in commands:
        assert f"{BUF} curl --protocol grpc {TLS_FILES} " in command, command
        if "ENTRY_ID" in command:  # the doc's placeholder: the receipt's entryId
            assert entry_id, "the doc reads a record before it submits one"
            command = command.replace("ENTRY_ID", entry_id)
        result = run(command, address, cwd=folder)
        assert result.returncode == 0, (command, result.stderr)
        if "--list-methods" in command:
            seen.add("list")
            methods = result.stdout.split()
            assert "evidence_gateway.v1.EvidenceService/SubmitEvidence" in methods
            assert "evidence_gateway.v1.AccessService/ShareLoan" in methods
        elif command.endswith("/SubmitEvidence"):
            seen.add("submit")
            receipt = json.loads(result.stdout)["receipt"]
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", receipt["entryId"])
            assert receipt["opening"]["privateRecord"]  # the owner gets the opening
            entry_id = receipt["entryId"]
        elif command.endswith("/GetEvidenceBundle"):
            seen.add("bundle")
            bundle = json.loads(result.stdout)["bundle"]  # the answer, as the doc says
            assert bundle["mediaType"] == "application/vnd.court-evidence.bundle.v1+json"
            assert bundle["record"]["entryId"] == entry_id
            _court_verify_takes("bundle", bundle, folder)
        elif command.endswith("/GetDossier"):
            seen.add("dossier")
            dossier = json.loads(result.stdout)["dossier"]
            assert dossier["mediaType"] == "application/vnd.court-evidence.dossier.v1+json"
            assert entry_id in [r["entryId"] for r in dossier["records"]]
            _court_verify_takes("dossier", dossier, folder)
        elif command.endswith("/ListCheckpoints"):
            seen.add("checkpoints")
            listed = json.loads(result.stdout)["checkpoints"]
            sizes = [verify_checkpoint(c["signedNote"], vkey).size for c in listed]
            assert sizes == sorted(set(sizes)) and sizes[-1] >= 1, sizes
            assert {"signedNote", "origin", "size", "rootHash"} <= set(listed[-1])
        else:
            pytest.fail(
                f"a mutual TLS buf curl call of docs/gateway.md this test does not know: {command}"
            )
    assert seen == {"list", "submit", "bundle", "dossier", "checkpoints"}, commands


def _court_verify_takes(what: str, message: dict[str, object], folder: Path) -> None:
    """The answer's field, written as a file, verifies with the operator's trust folder."""
    trust = folder / "trust"
    if not trust.exists():
        notary("trust", "export", "--pki", str(folder / "data" / "pki"), "--out", str(trust))
    path = folder / f"{what}.json"
    path.write_text(json.dumps(message))
    result = subprocess.run(
        [str(BIN / "court-verify"), what, str(path), "--trust", str(trust)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_buf_curl_call_of_the_doc_works(gateway: tuple[str, Path]) -> None:
    address, pki = gateway
    commands = [c for c in doc_commands() if TLS_FILES not in c]
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
            # The rule, in plain text, in buf's output, as the doc shows it.
            message = f"submission.digest: {RULE}"
            assert error["message"] == message
            assert f'"message": "{message}"' in DOC.read_text()
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


# --- Node.js grpc-js ----------------------------------------------------------------------


def test_grpc_js_client_gets_a_receipt_and_reads_the_rule(gateway: tuple[str, Path]) -> None:
    address, pki = gateway
    node = shutil.which("node")
    assert node, "node is not on PATH: the project needs Node.js (see README.md)"
    assert (ROOT / "node_modules" / "@grpc" / "grpc-js").is_dir(), "run `make setup` (npm ci)"
    result = subprocess.run(
        [node, str(NODE_CLIENT), address], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    vkey = (pki / "log.vkey").read_text().strip()
    assert out["log_verifier_key"] == vkey
    receipt = out["receipt"]
    checkpoint = verify_checkpoint(receipt["signed_note"], vkey)
    assert checkpoint.size == int(receipt["tree_size"]) > int(receipt["leaf_index"])
    error = out["error"]
    assert (error["code"], error["code_name"]) == (3, "INVALID_ARGUMENT")
    assert error["details"] == f"submission.digest: {RULE}"
    assert error["violations"] == [["submission.digest", RULE]]
    # The stream: each message answered in order, a message of several submissions by
    # `results` (one per item, in order, an item's error with its BadRequest relative
    # to the item), one of a single submission by `request_id` and `result`, and a
    # message of too many submissions by one `error` naming `submissions`.
    stream = out["stream"]
    assert stream["status"] == "OK", stream
    several, single, over = stream["answers"]
    first, short, third = several["results"]
    assert [first[0], short[0], third[0]] == stream["sent"]
    assert first[1] == third[1] == "receipt" and int(third[2]) == int(first[2]) + 1
    assert short[1:] == ["error", 3, f"digest: {RULE}", [["digest", RULE]]]
    assert single["result"][1] == "receipt" and int(single["result"][2]) == int(third[2]) + 1
    assert over["result"][:3] == ["", "error", 3]
    assert over["result"][3].startswith("submissions: must hold 1 to 1,000 items")
    assert over["result"][4][0][0] == "submissions"

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
* `buf curl` paging through ListCheckpoints as an auditor does, past 1,000
  checkpoints: a page_size over 1,000 is served as 1,000, 0 as 100, and a
  refusal's BadRequest decodes from buf curl's base64 with `buf convert`, as
  docs/gateway.md shows.
* A Node.js WatchCases subscriber that pauses its stream (`stream.pause()`)
  past `[stream] stalled_write_seconds`: the gateway ends it, and reconnecting
  with the last cursor it read gives every later event once.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from court.verify.checkpoint import verify_checkpoint
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc as ev_grpc
from tests.support.gateway_proc import (
    GatewayProcess,
    identity_in,
    make_pki,
    notary,
    write_config,
)
from tests.support.grpc_client import submission
from tests.support.node_clients import run_node_client
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
NODE_CLIENT = "grpc_js_client.js"
NODE_WATCH_CLIENT = "watch_resume_client.js"
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


def decode_details(stderr: str, folder: Path) -> list[dict[str, str]]:
    """The field violations of the BadRequest in a `buf curl` error (its standard
    error), decoded by docs/gateway.md's lines, run as written on the error saved in
    ``folder``."""
    saved = folder / "error.json"
    saved.write_text(stderr)
    block = re.search(r"<!-- decode-details -->\n```sh\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block, "docs/gateway.md no longer shows how to decode an error's details"
    decoded = subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + block.group(1).replace("error.json", str(saved))],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr
    violations: list[dict[str, str]] = json.loads(decoded.stdout)["fieldViolations"]
    return violations


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
            # The BadRequest, decoded as the doc shows (its base64 needs its padding back).
            violations = decode_details(result.stderr, pki.parent)
            assert violations == [{"field": "submission.digest", "description": RULE}]
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
    assert (ROOT / "node_modules" / "@grpc" / "grpc-js").is_dir(), "run `make setup` (npm ci)"
    out, _ = run_node_client(NODE_CLIENT, address)
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


# --- Paging through ListCheckpoints with buf curl ------------------------------------------

LIST_CHECKPOINTS = f"{DOC_TLS_ADDRESS}/evidence_gateway.v1.LogService/ListCheckpoints"


def _list_checkpoints(address: str, folder: Path, request: dict[str, object]) -> dict[str, object]:
    command = (
        f"{BUF} curl --protocol grpc {TLS_FILES} -d '{json.dumps(request)}' {LIST_CHECKPOINTS}"
    )
    result = run(command, address, cwd=folder)
    assert result.returncode == 0, (request, result.stderr)
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def _sizes(page: dict[str, object]) -> list[int]:
    # proto3 JSON leaves a zero out: the empty log's checkpoint has no "size".
    checkpoints = page.get("checkpoints", [])
    assert isinstance(checkpoints, list)
    return [int(c.get("size", "0")) for c in checkpoints]


def _all_pages(address: str, folder: Path, page_size: int) -> list[list[int]]:
    pages: list[list[int]] = []
    token = ""
    while True:
        page = _list_checkpoints(
            address, folder, {"from_size": 0, "page_size": page_size, "page_token": token}
        )
        pages.append(_sizes(page))
        token = str(page.get("nextPageToken", ""))
        if not token:
            return pages
        assert len(pages) < 100, "ListCheckpoints kept giving a next_page_token"


def test_buf_curl_pages_through_more_than_1000_checkpoints(
    mtls_gateway: tuple[str, Path],
) -> None:
    """An auditor's `buf curl`: a page_size of 5,000 is served as 1,000 (not refused), 0
    as 100; following next_page_token lists every checkpoint once, in ascending size,
    whatever the page size; a page_token of another query is INVALID_ARGUMENT whose
    BadRequest, base64 in buf curl's output, decodes with `buf convert`."""
    address, folder = mtls_gateway
    institutions = folder / "data" / "institutions"
    credentials = identity_in(institutions, "dev-bank").credentials(
        folder / "data" / "pki" / "root-ca.pem"
    )
    with grpc.secure_channel(address, credentials) as channel:
        stub = ev_grpc.EvidenceServiceStub(channel)
        for n in range(1001):  # one commit, so one checkpoint, each
            request = ev.SubmitEvidenceRequest(submission=submission(f"audit-{n}"))
            stub.SubmitEvidence(request, timeout=30)

    large = _all_pages(address, folder, 5000)
    assert len(large[0]) == 1000 and len(large) >= 2, [len(p) for p in large]
    everything = [size for page in large for size in page]
    assert everything == sorted(set(everything)) and everything[0] == 0
    assert len(everything) > 1001
    default = _all_pages(address, folder, 0)
    assert [len(p) for p in default[:-1]] == [100] * (len(default) - 1)
    assert [size for page in default for size in page] == everything

    token = _list_checkpoints(address, folder, {"page_size": 1})["nextPageToken"]
    command = (
        f"{BUF} curl --protocol grpc {TLS_FILES}"
        f" -d '{json.dumps({'from_size': 5, 'page_token': token})}' {LIST_CHECKPOINTS}"
    )
    refused = run(command, address, cwd=folder)
    assert refused.returncode != 0
    error = json.loads(refused.stderr)
    assert error["code"] == "invalid_argument"
    assert error["message"].startswith("page_token: "), error
    [detail] = error["details"]
    assert detail["type"] == "google.rpc.BadRequest"
    violations = decode_details(refused.stderr, folder)
    assert [v["field"] for v in violations] == ["page_token"], violations
    assert error["message"] == f"page_token: {violations[0]['description']}"


# --- A Node.js WatchCases subscriber that stops reading --------------------------------------

#: The test gateway's [stream] stalled_write_seconds (30 by default).
STALL = 1.0


@pytest.fixture
def stalling_gateway(tmp_path: Path) -> Iterator[tuple[GatewayProcess, Path]]:
    """Mutual TLS, one call at a time per institution (so the lender's calls show
    whether its stream holds its slot), streams ended after ``STALL`` seconds unread;
    bank-w (lender) and court-w (court) registered."""
    make_pki(tmp_path / "data" / "pki")
    config = write_config(
        tmp_path,
        top={"max_calls_per_institution": 1},
        sections={"stream": {"stalled_write_seconds": STALL}},
    )
    process = GatewayProcess(config, tmp_path, mtls=True)
    process.start()
    try:
        for name, role in (("bank-w", "lender"), ("court-w", "court")):
            process.add_institution(name, role, tmp_path / "data" / "institutions")
        yield process, tmp_path / "data" / "institutions"
    finally:
        process.kill()


def test_grpc_js_watch_paused_past_the_stall_limit_is_ended_and_resumes_from_its_cursor(
    stalling_gateway: tuple[GatewayProcess, Path],
) -> None:
    """docs/cases.md's promise to a client that does not read: its stream is ended
    (RESOURCE_EXHAUSTED, saying to reconnect with the last cursor, with a RetryInfo)
    while it is paused, its call slot given back at once; on resuming it reads what was
    queued, then that status; a stream opened with the last cursor it read delivers
    every later event of the case once, in order, those recorded after the end too."""
    gateway, institutions = stalling_gateway
    seen, _ = run_node_client(
        NODE_WATCH_CLIENT,
        gateway.address.replace("127.0.0.1", "localhost"),
        str(gateway.pki / "root-ca.pem"),
        str(institutions),
        f"{STALL:g}",
    )
    assert seen["read_before_pause"] == [1, 2, 3, 4]
    # The premise: while open, the stream holds the lender's only call slot ...
    assert seen["list_while_open"]["name"] == "RESOURCE_EXHAUSTED", seen["list_while_open"]
    # ... and the gateway gave it back while the client was still paused.
    assert seen["list_while_paused"]["name"] == "OK", seen["list_while_paused"]
    first, second, last = seen["first"], seen["second"], seen["last"]
    ended = first["ended"]
    assert ended is not None, "the paused stream was not ended (15 s after resuming)"
    assert ended["name"] == "RESOURCE_EXHAUSTED", ended
    assert f"not read for {STALL:g} s (stream.stalled_write_seconds)" in ended["message"]
    assert "reconnect with the last cursor received" in ended["message"]
    assert ended["details"] == [
        {"type": "google.rpc.RetryInfo", "value": {"retry_delay": {"nanos": 100_000_000}}}
    ]
    assert first["ended_after_resume_ms"] < 2000  # queued behind the unread messages
    read = first["numbers"]
    assert read == list(range(1, len(read) + 1))
    assert len(read) < seen["last_while_paused"], "the paused stream lost nothing to resume"
    assert second["ended"] is None, second["ended"]
    assert second["numbers"] == list(range(len(read) + 1, last + 1))

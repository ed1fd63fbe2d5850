"""Bundles and dossiers fetched by non-Python clients, verified by `court-verify`.

A real `gateway serve` over mutual TLS anchors on a real anvil node; the
operator exports the trust folder (`notary trust export --chain-id
--contract`) and registers a lender and a court with `notary institution add`.

* A bank's Node.js client (@grpc/grpc-js + @grpc/proto-loader,
  tests/integration/node/bundle_client.js) fetches an anchored bundle, the
  loan's dossier and every checkpoint, and writes the files as
  docs/bundles.md says; `court-verify bundle|dossier --rpc` takes them. The
  same bundle written with a plain `JSON.stringify` is refused (exit 2) with a
  message naming the Timestamp field and the RFC 3339 form.
* A court's technician runs docs/bundles.md's `buf curl` lines: the answer
  itself is refused with a message saying to take its `bundle` field; the
  file the doc's second line makes verifies.
* A judge's clerk, with that file and the trust folder, makes the PDF
  certificate; page 1 says VALID and names the loan.
* An operator runs `court-verify audit-log` with the exported folder (valid)
  and with another log's folder (the signatures are the failed check).
* A court verifies the bank's dossier after the log grew: with `--rpc` the
  summary, the JSON and the certificate say how far the chain's latest anchor
  is past the dossier's checkpoint.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
import pytest

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from tests.support.anchored_gateway import CHAIN_ID, anchoring_gateway
from tests.support.anvil import Anvil
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, notary
from tests.support.grpc_client import submission
from tests.support.node_clients import run_node_client
from tests.support.procs import BIN

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = "bundle_client.js"
BUNDLES_DOC = ROOT / "docs" / "bundles.md"
DOCUMENT = b"loan contract 0042, signed 2026-11-30"
NodeOut = tuple[Path, dict[str, object]]  # the Node client's folder and printed summary


@dataclass
class Site:
    folder: Path  # the gateway's folder: data/pki, data/institutions as `make run` has them
    gateway: GatewayProcess
    rpc_url: str
    trust: Path

    def tls(self, name: str) -> list[str]:
        ids = self.folder / "data" / "institutions"
        return [
            "--gateway", self.gateway.address,
            "--ca", str(self.gateway.pki / "root-ca.pem"),
            "--cert", str(ids / f"{name}.pem"),
            "--key", str(ids / f"{name}.key"),
        ]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("bundle-clients")
    with Anvil() as chain:
        anchored = anchoring_gateway(folder, chain, interval_seconds=0.2, min_new_entries=1)
        gateway = anchored.process
        gateway.start()
        try:
            ids = folder / "data" / "institutions"
            gateway.add_institution("dev-bank", "lender", ids)
            gateway.add_institution("court-a", "court", ids)
            trust = folder / "trust"
            notary(
                "trust", "export", "--pki", str(gateway.pki), "--out", str(trust),
                "--chain-id", str(CHAIN_ID), "--contract", anchored.contract,
            )  # fmt: skip
            yield Site(folder, gateway, chain.rpc_url, trust)
        finally:
            assert gateway.stop() == 0, gateway.log_text()


def court_verify(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "court-verify"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def node_files(site: Site, tmp_path_factory: pytest.TempPathFactory) -> NodeOut:
    out = tmp_path_factory.mktemp("node-out")
    document = out / "contract.txt"
    document.write_bytes(DOCUMENT)
    ids = site.folder / "data" / "institutions"
    seen, _ = run_node_client(
        NODE_CLIENT,
        site.gateway.address,
        str(site.gateway.pki / "root-ca.pem"),
        str(ids / "dev-bank.pem"),
        str(ids / "dev-bank.key"),
        str(document),
        str(out),
    )
    return out, seen


# --- a bank's Node.js client ---------------------------------------------------------------


def test_node_client_files_verify_with_court_verify(site: Site, node_files: NodeOut) -> None:
    out, summary = node_files
    bundle = court_verify(
        "bundle", out / "bundle.json", "--file", out / "contract.txt",
        "--trust", site.trust, "--rpc", site.rpc_url,
    )  # fmt: skip
    assert bundle.returncode == 0, bundle.stdout + bundle.stderr
    assert re.search(r"^PASS  Anchor confirmations ", bundle.stdout, re.M), bundle.stdout
    entry_ids = summary["entry_ids"]
    assert isinstance(entry_ids, list)
    assert bundle.stdout.splitlines()[-1].startswith(f"VALID: entry {entry_ids[0]} ")
    dossier = court_verify(
        "dossier", out / "dossier.json", "--trust", site.trust, "--rpc", site.rpc_url
    )
    assert dossier.returncode == 0, dossier.stdout + dossier.stderr
    assert f"loan {summary['loan_ref']} of dev-bank: all 2 records" in dossier.stdout
    # ListCheckpoints, two a page: every size from the empty log's on (its `size`
    # is at the default, absent from proto-loader's object: null here).
    sizes = summary["checkpoint_sizes"]
    assert isinstance(sizes, list) and sizes[0] is None
    numbers = [0, *map(int, sizes[1:])]
    assert numbers == sorted(numbers) and numbers[-1] >= 2, sizes


def test_plain_json_stringify_of_an_anchored_bundle_is_refused_naming_the_timestamp(
    site: Site, node_files: NodeOut
) -> None:
    out, _ = node_files
    plain = json.loads((out / "bundle-plain.json").read_text())
    assert set(plain["anchor"]["anchor"]["confirmedAt"]) == {"seconds", "nanos"}
    result = court_verify("bundle", out / "bundle-plain.json", "--trust", site.trust)
    assert result.returncode == 2 and result.stdout == ""
    assert "confirmedAt" in result.stderr and "RFC 3339" in result.stderr, result.stderr


# --- a court's technician with buf curl ---------------------------------------------------


def _doc_buf_curl_lines() -> str:
    text = BUNDLES_DOC.read_text()
    found = re.search(r"<!-- buf-curl-bundle -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found, "docs/bundles.md lost its buf curl recipe"
    return found.group(1).replace("\\\n", " ")


def test_the_docs_buf_curl_lines_make_a_bundle_court_verify_takes(
    site: Site, node_files: NodeOut
) -> None:
    """Run as written from the gateway's folder (data/pki, data/institutions), but for
    the address and the entry id."""
    _, summary = node_files
    entry_ids = summary["entry_ids"]
    assert isinstance(entry_ids, list)
    script = _doc_buf_curl_lines()
    assert script.count("https://127.0.0.1:50051") == 1 and "ENTRY_ID" in script, script
    script = (
        script.replace("https://127.0.0.1:50051", f"https://{site.gateway.address}")
        .replace("ENTRY_ID", entry_ids[0])
        .replace("node_modules/.bin/buf", str(ROOT / "node_modules" / ".bin" / "buf"))
    )
    ran = subprocess.run(
        ["bash", "-ec", script], cwd=site.folder, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    answer = court_verify("bundle", site.folder / "answer.json", "--trust", site.trust)
    assert answer.returncode == 2 and "GetEvidenceBundleResponse" in answer.stderr
    assert "jq .bundle" in answer.stderr, answer.stderr
    (site.folder / "contract.txt").write_bytes(DOCUMENT)
    result = court_verify(
        "bundle", site.folder / "bundle.json", "--file", site.folder / "contract.txt",
        "--trust", site.trust, "--rpc", site.rpc_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# --- a judge's clerk -------------------------------------------------------------------------


def test_the_clerk_gets_a_pdf_certificate_that_says_valid(
    site: Site, node_files: NodeOut, tmp_path: Path
) -> None:
    """README: `court-verify bundle bundle.json --file contract.pdf --trust trust/`, with
    `--report`."""
    out, summary = node_files
    shutil.copy(out / "bundle.json", tmp_path / "bundle.json")
    shutil.copytree(site.trust, tmp_path / "trust")
    (tmp_path / "contract.pdf").write_bytes(DOCUMENT)
    result = court_verify(
        "bundle", "bundle.json", "--file", "contract.pdf", "--trust", "trust/",
        "--report", "certificate.pdf", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    pdf = pypdfium2.PdfDocument(tmp_path / "certificate.pdf")
    try:
        first = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert "有效" in first and "VALID" in first
    assert str(summary["loan_ref"]) in first and "dev-bank" in first


# --- an operator -------------------------------------------------------------------------------


def test_audit_log_with_the_exported_trust_folder_and_with_another_logs(
    site: Site, node_files: NodeOut, tmp_path: Path
) -> None:
    good = court_verify("audit-log", *site.tls("court-a"), "--trust", site.trust)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].startswith("VALID: the log ")
    other_pki = tmp_path / "other-pki"
    make_pki(other_pki)
    other = tmp_path / "other-trust"
    notary("trust", "export", "--pki", str(other_pki), "--out", str(other))
    wrong = court_verify("audit-log", *site.tls("court-a"), "--trust", other)
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert wrong.stdout.splitlines()[-1] == "INVALID: Checkpoint signatures valid", wrong.stdout
    assert "listed no checkpoint" not in wrong.stdout


# --- a court with an old dossier ---------------------------------------------------------------


def test_an_old_dossier_says_how_far_the_log_grew_past_it(
    site: Site, node_files: NodeOut, tmp_path: Path
) -> None:
    """The chain's latest anchor, read by court-verify itself, shows the log grew past the
    dossier's checkpoint; the dossier stays VALID for what it proves."""
    out, _ = node_files
    before = court_verify(
        "dossier", out / "dossier.json", "--trust", site.trust, "--rpc", site.rpc_url, "--json"
    )
    assert before.returncode == 0, before.stdout + before.stderr
    size = json.loads(before.stdout)["dossier"]["checkpoint_size"]
    ids = site.folder / "data" / "institutions"
    with site.gateway.channel(identity=identity_in(ids, "dev-bank"), own_connection=True) as ch:
        stub = evidence_service_pb2_grpc.EvidenceServiceStub(ch)
        for i in range(3):
            stub.SubmitEvidence(
                ev.SubmitEvidenceRequest(submission=submission("L-LATER", data=b"later %d" % i)),
                timeout=30,
            )
    deadline = time.monotonic() + 60
    while True:
        result = court_verify(
            "dossier", out / "dossier.json", "--trust", site.trust, "--rpc", site.rpc_url, "--json"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        growth = json.loads(result.stdout)["dossier"]["log_growth"]
        if growth["latest_anchored_size"] >= size + 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert growth["checkpoint_size"] == size
    assert growth["entries_past_checkpoint"] == growth["latest_anchored_size"] - size >= 3
    text = court_verify(
        "dossier", out / "dossier.json", "--trust", site.trust, "--rpc", site.rpc_url,
        "--report", tmp_path / "certificate.html",
    )  # fmt: skip
    assert text.returncode == 0, text.stdout + text.stderr
    summary = text.stdout.splitlines()[-1]
    assert "the log has grown past the dossier's checkpoint" in summary, summary
    assert f"entries after the checkpoint's {size}" in summary, summary
    html = (tmp_path / "certificate.html").read_text(encoding="utf-8")
    assert "Latest anchored log size on chain" in html
    assert "past this dossier&#x27;s checkpoint" in html or "past this dossier's checkpoint" in html

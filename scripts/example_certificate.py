"""Write the example verification certificate of docs/ from real output (PDF, HTML, PNG).

    PYTHONPATH=. .venv/bin/python scripts/example_certificate.py [OUT_DIR]

Nothing in the certificate is made up: in a temporary folder the script makes a
development PKI (`notary pki init`), starts an anvil chain node
(node_modules/.bin/anvil, installed by `make setup`) with the EvidenceAnchor
contract, and a real `gateway serve` (development mode) anchoring on it. It
submits the records of one loan, one of them corrected by a later one, waits
until an anchor on chain covers them, fetches the loan's dossier with
`court-verify fetch`, exports the court's trust folder with `notary trust export`
and runs `court-verify dossier FILE --trust DIR --rpc URL --report OUT`, as a
court does. Page 1 of the PDF is rendered to PNG with pypdfium2 (a development
dependency). Everything it started is stopped, and the folder removed, before it
exits. OUT_DIR defaults to docs/examples.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence_gateway.v1 import common_pb2 as cm  # noqa: E402
from evidence_gateway.v1 import evidence_service_pb2 as ev  # noqa: E402
from evidence_gateway.v1 import evidence_service_pb2_grpc, log_service_pb2_grpc  # noqa: E402
from evidence_gateway.v1 import log_service_pb2 as lg  # noqa: E402
from gateway.anchor.chain import ChainClient  # noqa: E402
from gateway.anchor.keys import create_key_file  # noqa: E402
from notary.pki import load_log_verifier_key  # noqa: E402
from tests.support.anchoring import anchoring_config  # noqa: E402
from tests.support.anvil import Anvil, wait_for  # noqa: E402
from tests.support.gateway_proc import GatewayProcess, make_pki  # noqa: E402
from tests.support.grpc_client import timestamp  # noqa: E402
from tests.support.procs import BIN  # noqa: E402

LOAN = "HT-2024-0815"
#: The loan's records: (kind, the document's bytes, days after the loan began); the
#: second schedule corrects the first.
RECORDS = (
    (cm.EVIDENCE_KIND_LOAN_CONTRACT, b"loan contract HT-2024-0815, signed", 0),
    (cm.EVIDENCE_KIND_REPAYMENT_SCHEDULE, b"repayment schedule HT-2024-0815 v1", 0),
    (cm.EVIDENCE_KIND_REPAYMENT, b"repayment 1 of HT-2024-0815", 30),
    (cm.EVIDENCE_KIND_OVERDUE_NOTICE, b"overdue notice HT-2024-0815, instalment 2", 65),
    (cm.EVIDENCE_KIND_REPAYMENT_SCHEDULE, b"repayment schedule HT-2024-0815 v2", 70),
    (cm.EVIDENCE_KIND_REPAYMENT, b"repayment 2 of HT-2024-0815", 75),
)
CORRECTED = 1  # RECORDS[4] supersedes RECORDS[1]


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} ... failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def submit_loan(gateway: GatewayProcess) -> int:
    """Submit the loan's records one by one; the size of the last one's checkpoint."""
    began = datetime.now(UTC) - timedelta(days=80)
    ids: list[str] = []
    size = 0
    with gateway.channel() as channel:
        evidence = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        for kind, document, day in RECORDS:
            item = cm.EvidenceSubmission(
                request_id=str(uuid.uuid4()),
                loan_ref=LOAN,
                kind=kind,
                hash_algorithm=cm.HASH_ALGORITHM_SHA256,
                digest=hashlib.sha256(document).digest(),
                occurred_at=timestamp(began + timedelta(days=day)),
                supersedes=ids[CORRECTED] if len(ids) == 4 else "",
            )
            answer = evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=item), timeout=30)
            ids.append(answer.receipt.entry_id)
            size = answer.receipt.checkpoint.size
    return size


def wait_anchor(gateway: GatewayProcess, size: int) -> None:
    with gateway.channel() as channel:
        log = log_service_pb2_grpc.LogServiceStub(channel)

        def anchored() -> bool:
            try:
                log.GetAnchor(lg.GetAnchorRequest(tree_size=size), timeout=10)
            except Exception:  # NOT_FOUND until the worker's anchor is confirmed
                return False
            return True

        wait_for(anchored, timeout=60, what=f"an anchor covering size {size}")


def certificate(work: Path, out: Path) -> None:
    pki = work / "data" / "pki"
    make_pki(pki)
    with Anvil() as chain:
        key = work / "anchor" / "submitter.key"
        submitter = create_key_file(key)
        chain.set_balance(submitter, 10**20)
        admin = ChainClient(chain.rpc_url, account=chain.dev_accounts[0])
        contract = admin.deploy()
        admin.register_log(load_log_verifier_key(pki).line, submitter)
        gateway = GatewayProcess(anchoring_config(work, chain, contract, key), work)
        gateway.start()
        try:
            wait_anchor(gateway, submit_loan(gateway))
            dossier = work / f"{LOAN}.dossier.json"
            run(
                str(BIN / "court-verify"), "fetch", "--gateway", gateway.address,
                "--insecure-loopback", "--loan", LOAN, "--out", str(dossier),
            )  # fmt: skip
        finally:
            gateway.stop()
        trust = work / "trust"
        run(
            str(BIN / "notary"), "trust", "export", "--pki", str(pki), "--out", str(trust),
            "--chain-id", "31337", "--contract", contract,
        )  # fmt: skip
        for name in ("verification-certificate.pdf", "verification-certificate.html"):
            print(
                run(
                    str(BIN / "court-verify"), "dossier", str(dossier), "--trust", str(trust),
                    "--rpc", chain.rpc_url, "--report", str(out / name),
                ).splitlines()[-1]
            )  # fmt: skip


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="example-certificate-"))
    try:
        certificate(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pdf_path = out / "verification-certificate.pdf"
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        image = pdf[0].render(scale=1.6).to_pil()
        image.save(out / "verification-certificate-page1.png", optimize=True)
    finally:
        pdf.close()
    print(f"wrote {pdf_path}, its page 1 as PNG, and the HTML form")


if __name__ == "__main__":
    main()

"""Write the fuzz seed corpora (fuzz/corpus/TARGET/) from the project's real fixtures.

Run from the repository root: ``python scripts/make_fuzz_corpus.py``. It makes a
fresh P-256 PKI in a temporary folder, registers two loans' records with a real
:class:`gateway.ledger.Ledger` and its real token source (as the court bundle
tests do), and writes what that ledger produced: leaves, private records,
checkpoints, an evidence bundle, dossiers and a loan head proof. Beside them go
the fixtures under ``tests/fixtures`` (RFC 3161 requests, signed-note and
loan-map vectors), the requests the notary's client builds, the time-stamp
queries ``openssl ts -query`` makes, and the case event documents of the case
event tests. ``fuzz/trust/`` is the court's trust directory for that PKI (the
log's verifier key and the TSA root certificate, both public), so that the
seeds verify. Findings (``crash-*`` inputs)
added to a corpus by hand are kept: only this script's own file names are
rewritten.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from court.evidence.case_event import encode_case_event  # noqa: E402
from court.evidence.case_terms import EVENT_RULES, CaseEventType  # noqa: E402
from court.evidence.leaf import encode_leaf  # noqa: E402
from court.evidence.leaf_v2 import encode_private_record, encode_public_leaf  # noqa: E402
from evidence_gateway.v1 import bundle_pb2  # noqa: E402
from gateway.ledger import Ledger  # noqa: E402
from gateway.model import Receipt, Submission  # noqa: E402
from notary.client import build_request  # noqa: E402
from notary.pki import init_pki  # noqa: E402
from notary.tsa.config import DEFAULT_POLICY_OID  # noqa: E402
from tests.support.bundle_builder import (  # noqa: E402
    bundle_message,
    dossier_message,
    mapped_checkpoint,
    to_json,
    trust_dir,
)
from tests.support.leaf import RECORD, sample_leaf, sample_public_leaf  # noqa: E402
from tests.support.ledger_env import Env, sub, submit  # noqa: E402
from tests.unit.court.evidence.test_case_event import (  # noqa: E402
    FILING,
    RECOVERED,
    _valid_event,
)

CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"


def _write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def tsa_requests() -> None:
    for path in sorted((FIXTURES / "rfc3161-client").glob("*/*request.der")):
        _write("tsa_request", f"rfc3161-client-{path.parent.name}-{path.name}", path.read_bytes())
    for name in ("sha256", "sha384", "sha512"):
        digest = hashlib.new(name, b"fuzz seed").digest()
        _write("tsa_request", f"notary-client-{name}.der", build_request(digest, name, nonce=7))
    hex_digest = hashlib.sha256(b"fuzz seed").hexdigest()
    query = ["openssl", "ts", "-query", "-sha256", "-digest", hex_digest]
    _write("tsa_request", "openssl-no-nonce.der", _run([*query, "-no_nonce"]))
    policy = [*query, "-cert", "-tspolicy", DEFAULT_POLICY_OID]
    _write("tsa_request", "openssl-policy-cert.der", _run(policy))


def _run(command: list[str]) -> bytes:
    return subprocess.run(command, check=True, capture_output=True).stdout


def case_events() -> None:
    _write("case_event", "filing.der", encode_case_event(FILING))
    _write("case_event", "amount-recovered-event-7.der", encode_case_event(RECOVERED))
    for event in CaseEventType:
        if event is CaseEventType.FILED:
            continue
        rule = EVENT_RULES[event]
        kind = sorted(rule.bodies)[0]
        status = sorted(rule.from_statuses)[0]
        doc = _valid_event(event, kind, status)
        _write("case_event", f"{event.value}.der", encode_case_event(doc))


def loanmap_vectors() -> None:
    vectors = json.loads((FIXTURES / "loanmap" / "vectors.json").read_text())
    for n, case in enumerate(vectors["cases"]):
        for m, head in enumerate(case["heads"]):
            message = bundle_pb2.LoanHeadProof(
                loan_key=bytes.fromhex(head["loanKey"]),
                loan_sequence=head["loanSequence"],
                leaf_index=head["leafIndex"],
                leaf_hash=bytes.fromhex(head["leafHash"]),
                siblings=[base64.b64decode(s) for s in head["proof"]],
            )
            _write("loan_head_proof", f"vectors-{n}-{m}.pb", message.SerializeToString())


def static_leaves() -> None:
    _write("leaf", "sample-v1.der", encode_leaf(sample_leaf()))
    _write("leaf", "sample-v1-first.der", encode_leaf(sample_leaf(loan_sequence=1,
        previous_leaf_hash=None, supersedes=None, metadata=())))  # fmt: skip
    _write("leaf", "sample-v2.der", encode_public_leaf(sample_public_leaf()))
    _write("record_opening", "sample.bin", encode_private_record(RECORD))
    notes = json.loads((FIXTURES / "note" / "vectors.json").read_text())
    for name in ("peter_neumann", "sumdb_checkpoint"):
        _write("checkpoint", f"note-vectors-{name}.txt", notes[name]["signed_note"].encode())


def ledger_output(folder: Path) -> None:
    pki = folder / "pki"
    init_pki(pki, key_type="p256")
    shutil.rmtree(ROOT / "fuzz" / "trust", ignore_errors=True)
    trust_dir(pki, ROOT / "fuzz" / "trust")
    env = Env(pki, folder)
    ledger = env.open()
    try:
        loan1: list[Receipt] = []
        loan2: list[Receipt] = []
        for i in range(1, 5):
            loan1.append(_one(ledger, sub(f"a{i}", loan="L-1", data=f"one {i}".encode())))
            if i % 2 == 0:
                loan2.append(_one(ledger, sub(f"b{i}", loan="L-2", data=f"two {i}".encode())))
            _write("checkpoint", f"ledger-size-{ledger.size}.txt", ledger.checkpoint().encode())
        fix = sub("a5", loan="L-1", data=b"one 2, corrected", supersedes=loan1[1].entry_id)
        loan1.append(_one(ledger, fix))
        note, _ = mapped_checkpoint(ledger, pki)
        _write("checkpoint", "ledger-mapped.txt", note.encode())
        for name, r in (("loan1-1", loan1[0]), ("loan1-5", loan1[-1]), ("loan2-1", loan2[0])):
            _write("leaf", f"ledger-{name}.der", r.leaf)
            assert r.opening is not None
            _write("record_opening", f"ledger-{name}.bin", r.opening.private_record)
        _write("bundle", "ledger-bundle.json", to_json(bundle_message(ledger, loan1[1], pki)))
        anchored = bundle_message(ledger, loan1[2], pki, anchored_size=4)
        _write("bundle", "ledger-bundle-anchored.json", to_json(anchored))
        later = {loan1[1].entry_id: [loan1[-1].entry_id]}
        d1 = dossier_message(ledger, loan1, pki, superseded_by=later, anchored_size=ledger.size)
        _write("dossier", "ledger-dossier-loan1.json", to_json(d1))
        d2 = dossier_message(ledger, loan2, pki)
        _write("dossier", "ledger-dossier-loan2.json", to_json(d2))
        for n, d in enumerate((d1, d2), 1):
            data = d.loan_head.SerializeToString()
            _write("loan_head_proof", f"ledger-dossier-loan{n}.pb", data)
    finally:
        asyncio.run(ledger.close())


def _one(ledger: Ledger, submission: Submission) -> Receipt:
    result = submit(ledger, [submission])[0]
    assert isinstance(result, Receipt), result
    return result


def main() -> None:
    tsa_requests()
    case_events()
    loanmap_vectors()
    static_leaves()
    with tempfile.TemporaryDirectory() as folder:
        ledger_output(Path(folder))
    for target in sorted(p.name for p in CORPUS.iterdir()):
        files = list((CORPUS / target).iterdir())
        print(f"{target}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()

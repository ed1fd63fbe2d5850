"""`court-verify fetch` and `court-verify audit-log` against a real `gateway serve` over
mutual TLS, with institutions registered as an operator does it.

fetch: a lender fetches the bundle of its record (by entry id and by digest), a
court the dossier of a loan shared with it; a
court fetching a record of a loan not shared with it gets NOT_FOUND (exit 1), a
malformed entry id is the gateway's INVALID_ARGUMENT (exit 2), a wrong CA cannot
reach it (exit 1), and --insecure-loopback is refused for a non-loopback address.
audit-log: the honest log passes; then a checkpoint stored in the gateway's
database is replaced by one the log key signed (the test holds the PKI) whose
loan map root does not follow from its leaves, and audit-log names that check.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf import json_format

from court.verify.checkpoint import parse_checkpoint, verify_checkpoint
from court.verify.loanmap import MAP_LINE_PREFIX, format_map_line, map_root_of
from court.verify.log_audit import AUDIT_CHECKS, CHECK_MAP
from evidence_gateway.v1 import access_service_pb2 as ac
from evidence_gateway.v1 import bundle_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from gateway.log.checkpoint import sign_checkpoint
from notary.pki import load_log_signing_key, load_log_verifier_key
from tests.support.authz_matrix import Stubs
from tests.support.gateway_proc import GatewayProcess, identity_in, make_pki, write_config
from tests.support.grpc_client import submission, timestamp
from tests.support.procs import BIN

LENDER, COURT = "bank-f", "court-f"


@dataclass
class Site:
    gateway: GatewayProcess
    ids: Path
    lender: Stubs

    def tls(self, name: str) -> list[str]:
        return [
            "--gateway", self.gateway.address,
            "--ca", str(self.gateway.pki / "root-ca.pem"),
            "--cert", str(self.ids / f"{name}.pem"),
            "--key", str(self.ids / f"{name}.key"),
        ]  # fmt: skip

    def submit(self, loan: str, data: bytes) -> str:
        request = ev.SubmitEvidenceRequest(submission=submission(loan, data=data))
        entry_id: str = self.lender.evidence.SubmitEvidence(request, timeout=30).receipt.entry_id
        return entry_id


def trust_folder(site: Site, folder: Path) -> Path:
    """The court's trust folder, exported by the operator with `notary trust export`."""
    out = folder / "trust"
    exported = subprocess.run(
        [str(BIN / "notary"), "trust", "export", "--pki", str(site.gateway.pki), "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    return out


def court_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "court-verify"), *args], capture_output=True, text=True, timeout=120, check=False
    )


@contextlib.contextmanager
def site(folder: Path) -> Iterator[Site]:
    make_pki(folder / "data" / "pki")
    gateway = GatewayProcess(write_config(folder), folder, mtls=True)
    gateway.start()
    try:
        ids = folder / "ids"
        for name, role in ((LENDER, "lender"), (COURT, "court")):
            gateway.add_institution(name, role, ids)
        with gateway.channel(identity=identity_in(ids, LENDER), own_connection=True) as channel:
            yield Site(gateway, ids, Stubs.of(channel))
    finally:
        assert gateway.stop() == 0, gateway.log_text()


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("fetch")) as s:
        yield s


def test_a_lender_fetches_the_bundle_of_its_record(honest: Site, tmp_path: Path) -> None:
    entry = honest.submit("L-F1", b"loan contract F1")
    out = tmp_path / "bundle.json"
    result = court_verify("fetch", *honest.tls(LENDER), "--entry", entry, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"bundle of entry '{entry}'" in result.stdout
    bundle = json_format.Parse(out.read_text(), bundle_pb2.EvidenceBundle())
    assert bundle.media_type == "application/vnd.court-evidence.bundle.v1+json"
    assert bundle.record.entry_id == entry
    verify_checkpoint(bundle.checkpoint.signed_note, load_log_verifier_key(honest.gateway.pki).line)
    assert json.loads(out.read_text())["record"]["entryId"] == entry  # protobuf JSON mapping

    # The fetched file verifies offline with the operator's trust folder alone.
    trust = trust_folder(honest, tmp_path)
    document = tmp_path / "contract-f1.pdf"
    document.write_bytes(b"loan contract F1")
    verified = court_verify("bundle", str(out), "--file", str(document), "--trust", str(trust))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert re.search(r"^PASS +Inclusion proof valid", verified.stdout, re.M), verified.stdout
    document.write_bytes(b"loan contract F2")
    forged = court_verify("bundle", str(out), "--file", str(document), "--trust", str(trust))
    assert forged.returncode == 1, forged.stdout + forged.stderr
    assert re.search(r"^FAIL +Imprint matches", forged.stdout, re.M), forged.stdout

    digest = hashlib.sha256(b"loan contract F1").hexdigest()
    by_digest = tmp_path / "by-digest.json"
    again = court_verify("fetch", *honest.tls(LENDER), "--digest", digest, "--out", str(by_digest))
    assert again.returncode == 0, again.stderr
    assert json.loads(by_digest.read_text())["record"]["entryId"] == entry


def test_a_court_fetches_the_dossier_of_a_shared_loan(honest: Site, tmp_path: Path) -> None:
    entries = [honest.submit("L-F3", b"dossier record %d" % i) for i in range(3)]
    honest.lender.access.ShareLoan(
        ac.ShareLoanRequest(
            request_id="share-L-F3",
            grantee=COURT,
            loans=ac.LoanSelection(loan_refs=["L-F3"]),
            expires_at=timestamp(datetime.now(UTC) + timedelta(days=7)),
        ),
        timeout=30,
    )
    out = tmp_path / "dossier.json"
    result = court_verify(
        "fetch", *honest.tls(COURT), "--loan", "L-F3", "--owner", LENDER, "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    dossier = json_format.Parse(out.read_text(), bundle_pb2.Dossier())
    assert f"dossier of loan 'L-F3': {len(dossier.records)} records" in result.stdout
    assert dossier.media_type == "application/vnd.court-evidence.dossier.v1+json"
    ids = [r.entry_id for r in dossier.records]  # the share is a record of the loan too
    assert [i for i in ids if i in entries] == entries
    assert map_root_of(dossier.checkpoint.signed_note) is not None

    # The dossier the gateway made verifies offline: complete by the checkpoint's loan map.
    trust = trust_folder(honest, tmp_path)
    verified = court_verify("dossier", str(out), "--trust", str(trust), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["Loan head proof valid"] == "passed", report
    assert statuses["Loan records chained without gaps"] == "passed", report
    # The last record left out: the map still names it as the loan's head.
    cut = json.loads(out.read_text())
    cut["records"] = cut["records"][:-1]
    shortened = tmp_path / "shortened.json"
    shortened.write_text(json.dumps(cut))
    refused = court_verify("dossier", str(shortened), "--trust", str(trust))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert re.search(r"^FAIL +Loan head is last record", refused.stdout, re.M), refused.stdout


def test_a_record_not_shared_with_the_court_is_not_found(honest: Site, tmp_path: Path) -> None:
    entry = honest.submit("L-F2", b"not shared")
    out = tmp_path / "bundle.json"
    result = court_verify("fetch", *honest.tls(COURT), "--entry", entry, "--out", str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"the gateway at {honest.gateway.address} answered NOT_FOUND" in result.stderr
    assert not out.exists()


def test_a_malformed_entry_id_is_an_input_error(honest: Site, tmp_path: Path) -> None:
    result = court_verify(
        "fetch", *honest.tls(LENDER), "--entry", "not an id\x1b[31m", "--out", str(tmp_path / "x")
    )
    assert result.returncode == 2, result.stderr
    assert "answered INVALID_ARGUMENT" in result.stderr
    assert "\x1b" not in result.stderr  # the gateway's text is printed escaped


def test_a_wrong_ca_or_plaintext_to_a_remote_address_fails(honest: Site, tmp_path: Path) -> None:
    other = tmp_path / "other-pki"
    make_pki(other)
    tls = honest.tls(LENDER)
    tls[tls.index("--ca") + 1] = str(other / "root-ca.pem")
    wrong = court_verify("fetch", *tls, "--entry", "x", "--out", str(tmp_path / "x"))
    assert wrong.returncode == 1
    address = honest.gateway.address
    assert f"the TLS handshake with the gateway at {address} failed; check that --ca" in (
        wrong.stderr
    )
    assert "Handshake failed" not in wrong.stderr  # gRPC's own log line (GRPC_VERBOSITY)
    remote = court_verify(
        "fetch", "--gateway", "192.0.2.1:50051", "--insecure-loopback", "--entry", "x",
        "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert remote.returncode == 2
    assert "refusing plaintext to '192.0.2.1:50051'" in remote.stderr
    no_key = court_verify(
        "fetch", *honest.tls(LENDER)[:6], "--entry", "x", "--out", str(tmp_path / "x")
    )
    assert no_key.returncode == 2 and "give --key" in no_key.stderr


def _submit_batches(s: Site) -> None:
    for i in range(6):
        s.submit(f"L-A{i % 3}", b"audit record %d" % i)


def test_audit_log_passes_an_honest_log(honest: Site) -> None:
    _submit_batches(honest)
    result = court_verify(
        "audit-log", *honest.tls(COURT), "--log-key", str(honest.gateway.pki / "log.vkey"),
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["outcome"] == "valid"
    assert [c["name"] for c in report["checks"]] == list(AUDIT_CHECKS)
    assert all(c["status"] == "passed" for c in report["checks"]), report
    (loan_map,) = [c for c in report["checks"] if c["name"] == CHECK_MAP]
    assert "map roots equal the replayed map's" in loan_map["detail"]


def test_audit_log_from_beyond_the_latest_checkpoint_is_nothing_new(honest: Site) -> None:
    # An incremental audit after the latest checkpoint: not a tampered log (exit 0).
    _submit_batches(honest)
    key = ["--log-key", str(honest.gateway.pki / "log.vkey")]
    full = court_verify("audit-log", *honest.tls(COURT), *key)
    assert full.returncode == 0, full.stdout + full.stderr
    match = re.search(r"replayed to size (\d+)", full.stdout)
    assert match, full.stdout
    latest = int(match[1])
    result = court_verify("audit-log", *honest.tls(COURT), *key, "--from", str(latest + 1))
    assert result.returncode == 0, result.stdout + result.stderr
    reason = f"no checkpoint of size ≥ {latest + 1}; the latest is {latest}"
    assert f"----  Checkpoints listed           {reason}" in result.stdout, result.stdout
    assert "PASS  Checkpoint signatures valid" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith(f"NOTHING NEW: {reason}")
    same = court_verify("audit-log", *honest.tls(COURT), *key, "--from", str(latest))
    assert same.returncode == 0 and "VALID: the log" in same.stdout, same.stdout


def test_audit_log_catches_a_signed_checkpoint_with_a_wrong_map_root(tmp_path: Path) -> None:
    with site(tmp_path) as s:
        _submit_batches(s)
        trust = tmp_path / "trust"
        trust.mkdir()
        (trust / "log.vkey").write_text((s.gateway.pki / "log.vkey").read_text())
        assert court_verify("audit-log", *s.tls(COURT), "--trust", str(trust)).returncode == 0
        s.gateway.stop()
        db = sqlite3.connect(tmp_path / "data" / "gateway.sqlite3")
        try:
            sizes = [size for (size,) in db.execute("SELECT size FROM checkpoints ORDER BY size")]
            size = sizes[len(sizes) // 2]
            (note,) = db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
            held = parse_checkpoint(note)
            wrong = hashlib.sha256(b"not the map of these leaves").digest()
            lines = [e for e in held.extensions if not e.startswith(MAP_LINE_PREFIX)]
            key = load_log_signing_key(s.gateway.pki)
            forged = sign_checkpoint(
                held.origin,
                size,
                held.root_hash,
                key,
                held.origin,
                [*lines, format_map_line(wrong)],
            )
            with db:
                db.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (forged, size))
        finally:
            db.close()
        s.gateway.start()  # on a new port
        result = court_verify("audit-log", *s.tls(COURT), "--trust", str(trust))
        assert result.returncode == 1, result.stdout + result.stderr
        assert re.search(rf"^FAIL +{CHECK_MAP} +checkpoint of size {size} carries map root "
                         rf"{wrong.hex()}", result.stdout, re.M), result.stdout  # fmt: skip
        assert result.stdout.rstrip().endswith(f"INVALID: {CHECK_MAP}")
        assert re.search(r"^PASS +Checkpoint signatures valid", result.stdout, re.M)

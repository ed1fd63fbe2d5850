"""A court checks a receipt against the chain itself: `gateway serve` anchoring on a real anvil.

The gateway runs its anchoring worker against an anvil node with the
EvidenceAnchor contract deployed and the log registered; a lender archives a
receipt, and the anchor file (``LogService.GetAnchor`` for the receipt's
checkpoint). A court then runs ``court-verify receipt ... --anchor FILE --rpc
URL --contract ADDRESS``, which reads the contract from the node with
``eth_call``, never asking the gateway. The gateway's database is then
rewritten behind its back (the anchored checkpoint re-signed over another
root, as an operator holding the log key could): the chain check catches it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from court.verify.anchor import (
    ANCHOR_CHECKS,
    CHECK_ANCHOR_CONFIRMATIONS,
    CHECK_ANCHOR_FOUND,
    CHECK_ANCHOR_ROOT,
)
from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency
from evidence_gateway.v1 import (
    common_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2_grpc,
)
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.anchor.chain import ChainClient, log_id_of
from gateway.log.checkpoint import sign_checkpoint
from notary.pki import load_log_signing_key, load_log_verifier_key
from tests.support.anchoring import CHAIN, anchoring_gateway_on
from tests.support.anvil import Anvil, wait_for
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission
from tests.support.procs import BIN


@dataclass
class Setup:
    folder: Path
    pki: Path
    chain: Anvil
    contract: str
    vkey: str
    proc: GatewayProcess
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub
    log: log_service_pb2_grpc.LogServiceStub
    reader: ChainClient


@contextlib.contextmanager
def _serving(proc: GatewayProcess) -> Iterator[grpc.Channel]:
    proc.start()
    channel: grpc.Channel = proc.channel()
    try:
        yield channel
    finally:
        channel.close()
        assert proc.stop() == 0, proc.log_text()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    pki = tmp_path / "data" / "pki"
    make_pki(pki)
    vkey = load_log_verifier_key(pki).line
    with Anvil() as chain:
        proc, contract = anchoring_gateway_on(chain, tmp_path, vkey)
        with _serving(proc) as channel:
            yield Setup(
                folder=tmp_path,
                pki=pki,
                chain=chain,
                contract=contract,
                vkey=vkey,
                proc=proc,
                evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel),
                log=log_service_pb2_grpc.LogServiceStub(channel),
                reader=ChainClient(chain.rpc_url, contract),
            )


def _submit(s: Setup, *documents: bytes) -> list[common_pb2.Receipt]:
    loan = f"loan-{uuid.uuid4().hex[:12]}"
    request = ev.BatchSubmitEvidenceRequest(
        submissions=[submission(loan, digest=hashlib.sha256(d).digest()) for d in documents]
    )
    results = s.evidence.BatchSubmitEvidence(request, timeout=30).results
    return [r.receipt for r in results]


def _anchor_of(s: Setup, size: int) -> lg.GetAnchorResponse:
    """GetAnchor for a checkpoint of ``size``, once the worker's anchor of it is confirmed."""
    request = lg.GetAnchorRequest(tree_size=size, from_tree_size=size)
    answer: list[lg.GetAnchorResponse] = []

    def anchored() -> bool:
        try:
            answer.append(s.log.GetAnchor(request, timeout=10))
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
            return False
        return True

    wait_for(anchored, timeout=60, what=f"a confirmed anchor covering size {size}")
    return answer[-1]


def _court_verify(
    s: Setup,
    receipt: common_pb2.Receipt,
    document: bytes,
    anchor: lg.GetAnchorResponse,
    *extra: str,
) -> subprocess.CompletedProcess[str]:
    receipt_file = s.folder / "receipt.pb"
    receipt_file.write_bytes(receipt.SerializeToString())
    anchor_file = s.folder / "anchor.pb"
    anchor_file.write_bytes(anchor.SerializeToString())
    return subprocess.run(
        [
            str(BIN / "court-verify"),
            "receipt",
            str(receipt_file),
            "--digest",
            hashlib.sha256(document).hexdigest(),
            "--ca",
            str(s.pki / "root-ca.pem"),
            "--log-key",
            str(s.pki / "log.vkey"),
            "--anchor",
            str(anchor_file),
            "--rpc",
            s.chain.rpc_url,
            "--contract",
            s.contract,
            "--chain-id",
            "31337",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _line(out: str, check: str) -> str:
    return next(line for line in out.splitlines() if check in line)


def test_a_receipt_verifies_against_the_chain(setup: Setup) -> None:
    document = b"a repayment reminder, anchored"
    (receipt,) = _submit(setup, document)
    anchor = _anchor_of(setup, receipt.checkpoint.size)
    assert anchor.anchor.chain_name == CHAIN and anchor.anchor.contract == setup.contract
    on_chain = setup.reader.anchor_at(log_id_of(setup.vkey), anchor.anchor.anchor_number)
    assert (on_chain.tree_size, on_chain.root_hash) == (
        anchor.anchor.tree_size,
        anchor.anchor.root_hash,
    )
    assert on_chain.block_number == anchor.anchor.block_number

    result = _court_verify(setup, receipt, document, anchor)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ANCHOR_CHECKS:
        assert _line(result.stdout, name).startswith("PASS"), result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("VALID") and "anchored on chain" in last, last

    assert "chain id 31337" in _line(result.stdout, CHECK_ANCHOR_FOUND), result.stdout

    # More confirmations than the chain has: not yet (inconclusive), and says so.
    strict = _court_verify(setup, receipt, document, anchor, "--confirmations", "1000")
    assert strict.returncode == 1, strict.stdout
    last = strict.stdout.strip().splitlines()[-1]
    assert last.startswith("INCONCLUSIVE") and CHECK_ANCHOR_CONFIRMATIONS in last, last

    # A file of another chain than --chain-id: an input error naming both chain ids.
    other = lg.GetAnchorResponse()
    other.CopyFrom(anchor)
    other.anchor.chain_id = 20200
    wrong = _court_verify(setup, receipt, document, other)
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert "chain id 20200" in wrong.stderr and "--chain-id 31337" in wrong.stderr, wrong.stderr


def test_get_anchor_for_a_size_and_a_leaf_with_the_proof_from_a_held_checkpoint(
    setup: Setup,
) -> None:
    (first,) = _submit(setup, b"first document")
    one = _anchor_of(setup, first.checkpoint.size)
    later = _submit(setup, b"second document", b"third document")
    size = later[-1].checkpoint.size
    _anchor_of(setup, size)

    # The leaf of the second document: the first anchor covering it, with the proof
    # from the first receipt's checkpoint.
    got = setup.log.GetAnchor(
        lg.GetAnchorRequest(leaf_index=later[0].leaf_index, from_tree_size=first.checkpoint.size)
    )
    assert got.anchor.tree_size > later[0].leaf_index
    assert got.anchor.anchor_number > one.anchor.anchor_number
    chain_anchor = setup.reader.first_anchor_covering(
        log_id_of(setup.vkey), later[0].leaf_index + 1
    )
    assert chain_anchor is not None
    assert (chain_anchor.number, chain_anchor.root_hash) == (
        got.anchor.anchor_number,
        got.anchor.root_hash,
    )
    proof = got.consistency_proof
    assert (proof.from_size, proof.to_size) == (first.checkpoint.size, got.anchor.tree_size)
    verify_consistency(  # against the root read from the chain; raises if wrong
        proof.from_size,
        proof.to_size,
        list(proof.hashes),
        first.checkpoint.root_hash,
        chain_anchor.root_hash,
    )
    anchored = verify_checkpoint(got.anchor.checkpoint.signed_note, setup.vkey)
    assert anchored.root_hash == chain_anchor.root_hash
    assert hashlib.sha256(got.anchor.checkpoint.signed_note.encode()).digest() == (
        chain_anchor.checkpoint_hash
    )

    # By tree size: the first receipt's own anchor.
    again = setup.log.GetAnchor(lg.GetAnchorRequest(tree_size=first.checkpoint.size))
    assert again.anchor == one.anchor
    assert not again.HasField("consistency_proof")


def _rewrite_anchored_root(s: Setup, size: int) -> bytes:
    """Re-sign the stored anchor's checkpoint of ``size`` over another root.

    Only the anchors table changes: the gateway refuses to start on a store
    whose tree does not match its latest checkpoint, so a rewritten history
    shows where it serves the anchored checkpoint from.
    """
    key = load_log_signing_key(s.pki)
    origin = load_log_verifier_key(s.pki).origin
    root = hashlib.sha256(b"a history the gateway rewrote").digest()
    note = sign_checkpoint(origin, size, root, key, origin)
    db = sqlite3.connect(s.folder / "data" / "gateway.sqlite3")
    try:
        with db:
            changed = db.execute(
                "UPDATE anchors SET root_hash = ?, checkpoint_note = ?, checkpoint_hash = ? "
                "WHERE tree_size = ?",
                (root, note, hashlib.sha256(note.encode()).digest(), size),
            ).rowcount
    finally:
        db.close()
    assert changed >= 1
    return root


def test_a_root_changed_in_the_database_after_anchoring_is_caught_by_the_chain_check(
    setup: Setup,
) -> None:
    document = b"a settlement agreement"
    (receipt,) = _submit(setup, document)
    size = receipt.checkpoint.size
    honest = _anchor_of(setup, size)
    assert honest.anchor.tree_size == size  # the checkpoint of this commit was anchored
    assert _court_verify(setup, receipt, document, honest).returncode == 0

    assert setup.proc.stop() == 0, setup.proc.log_text()
    root = _rewrite_anchored_root(setup, size)
    write_config(setup.folder)  # served again without anchoring: nothing re-anchors it
    setup.proc.start()
    with setup.proc.channel() as channel:
        rewritten = log_service_pb2_grpc.LogServiceStub(channel).GetAnchor(
            lg.GetAnchorRequest(tree_size=size, from_tree_size=size)
        )
    assert rewritten.anchor.root_hash == root  # the gateway now serves the rewritten root
    verify_checkpoint(rewritten.anchor.checkpoint.signed_note, setup.vkey)  # properly signed

    result = _court_verify(setup, receipt, document, rewritten)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = _line(result.stdout, CHECK_ANCHOR_ROOT)
    assert failed.startswith("FAIL") and root.hex() in failed, result.stdout
    assert CHECK_ANCHOR_ROOT in result.stdout.strip().splitlines()[-1]


def test_an_honest_anchor_file_of_a_later_anchor_is_not_judged_invalid(setup: Setup) -> None:
    """A lender saved GetAnchor(tree_size=LATER, from_tree_size=RECEIPT): the gateway answers
    a later, genuine anchor with the proof from the receipt's checkpoint, and court-verify
    accepts the file (its own hint allows an anchored size beyond the receipt's). The chain
    holds that anchor; the court must not report the honest gateway's file as INVALID (it
    compares it with the *first* anchor covering the receipt instead of the one the file
    names)."""
    document = b"a loan contract, anchored before a later one"
    (receipt,) = _submit(setup, document)
    size = receipt.checkpoint.size
    _anchor_of(setup, size)
    (later,) = _submit(setup, b"a later record")
    later_size = later.checkpoint.size
    _anchor_of(setup, later_size)
    honest = setup.log.GetAnchor(
        lg.GetAnchorRequest(tree_size=later_size, from_tree_size=size), timeout=10
    )
    assert honest.anchor.tree_size > size
    on_chain = setup.reader.anchor_at(log_id_of(setup.vkey), honest.anchor.anchor_number)
    assert (on_chain.tree_size, on_chain.root_hash) == (
        honest.anchor.tree_size,
        honest.anchor.root_hash,
    )  # the file's anchor is on the chain, as the file says

    result = _court_verify(setup, receipt, document, honest)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert not last.startswith("INVALID"), result.stdout + result.stderr


def test_get_anchor_for_a_chain_the_gateway_does_not_anchor_on_names_the_field(
    setup: Setup,
) -> None:
    """A chain name the gateway has never heard of (a typo, or docs/anchoring.md's
    "consortium" against a gateway whose chain is called otherwise) is the caller's
    mistake: it must not get NOT_FOUND "retry later", which never comes true."""
    (receipt,) = _submit(setup, b"a record on the configured chain")
    size = receipt.checkpoint.size
    _anchor_of(setup, size)
    for name in ("consortium", "bad name!"):
        with pytest.raises(grpc.RpcError) as info:
            setup.log.GetAnchor(lg.GetAnchorRequest(tree_size=size, chain=name), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert str(info.value.details()).startswith("chain:"), info.value.details()


ROOT = Path(__file__).resolve().parents[2]
ANCHORING_DOC = ROOT / "docs" / "anchoring.md"
BUF_PATH = ROOT / "node_modules" / ".bin" / "buf"
DOC_TLS = (
    "--cacert data/pki/root-ca.pem --cert data/institutions/dev-bank.pem "
    "--key data/institutions/dev-bank.key"
)


def test_the_docs_buf_curl_and_buf_convert_lines_make_an_anchor_file_court_verify_takes(
    setup: Setup, tmp_path: Path
) -> None:
    """docs/anchoring.md's `buf curl ... GetAnchor > anchor.json` then `buf convert ...`,
    run as written but for the address, the size and plaintext (this gateway is the
    development one): the file is the gateway's answer and the receipt verifies with it."""
    document = b"a record fetched with buf curl"
    (receipt,) = _submit(setup, document)
    size = receipt.checkpoint.size
    expected = _anchor_of(setup, size)
    [block] = [
        b
        for b in re.findall(r"```sh\n(.*?)```", ANCHORING_DOC.read_text(), re.DOTALL)
        if "LogService/GetAnchor" in b
    ]
    script = block.replace("\\\n", " ")
    assert script.count(DOC_TLS) == 1 and script.count("https://127.0.0.1:50051") == 1, script
    assert '"tree_size": "3", "from_tree_size": "3"' in script, script
    script = (
        script.replace(DOC_TLS, "--http2-prior-knowledge")
        .replace("https://127.0.0.1:50051", f"http://{setup.proc.address}")
        .replace('"3"', f'"{size}"')
        .replace("node_modules/.bin/buf", str(BUF_PATH))
    )
    script = script.replace(" protos ", f" {ROOT / 'protos'} ")
    ran = subprocess.run(
        ["bash", "-ec", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    saved = lg.GetAnchorResponse.FromString((tmp_path / "anchor.pb").read_bytes())
    assert saved == expected
    result = _court_verify(setup, receipt, document, saved)
    assert result.returncode == 0, result.stdout + result.stderr

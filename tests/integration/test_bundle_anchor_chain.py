"""Bundles and dossiers checked against a real chain: `gateway serve` anchoring on anvil.

The gateway anchors its log in the EvidenceAnchor contract on an anvil node
(`[anchor]` on, at least two new entries per anchor, so a record can be in a
checkpoint older than the first anchor covering it). A lender's records are
fetched with `court-verify fetch` as a bundle (at a checkpoint older, equal to
and newer than that anchor) and as the loan's dossier; the operator exports
the court's trust folder with `notary trust export ... --chain-id --contract`;
`court-verify bundle|dossier --trust DIR --rpc URL` reads the contract with
`eth_call` and passes every chain check. Then the attacks, each caught by its
named check: the file's anchor edited to name another anchor or to claim
another root, chain.json pointing at another deployment of the same contract
whose registered log key is another, and a node of another chain.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.verify.anchor import (
    CHECK_ANCHOR_FOUND,
    CHECK_ANCHOR_ROOT,
    CHECK_CONTRACT_CODE,
    CHECK_LOG_KEY_PINNED,
)
from court.verify.anchored import ANCHOR_STEPS, CHECK_ANCHORED_CHECKPOINT
from court.verify.checkpoint import parse_checkpoint
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc, log_service_pb2_grpc
from evidence_gateway.v1 import log_service_pb2 as lg
from gateway.anchor.chain import ChainClient
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from notary.pki import load_log_signing_key, load_log_verifier_key
from tests.support.anchoring import anchoring_gateway_on
from tests.support.anvil import Anvil, wait_for
from tests.support.gateway_proc import GatewayProcess, make_pki
from tests.support.grpc_client import submission
from tests.support.procs import BIN

CHAIN_ID = 31337
#: The chain checks a bundle or dossier runs with --rpc, all of which must pass.
CHAIN_CHECKS = ANCHOR_STEPS
assert set(CHAIN_CHECKS) >= {
    "Contract code is EvidenceAnchor",
    "Log key pinned on chain",
    "Anchor found on chain",
    "Anchored root matches checkpoint",
    "Consistency to anchored checkpoint",
    "Anchor confirmations",
}


@dataclass
class Site:
    folder: Path
    pki: Path
    chain: Anvil
    contract: str
    gateway: GatewayProcess
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub
    log: log_service_pb2_grpc.LogServiceStub
    trust: Path

    def submit(self, loan: str, document: bytes) -> tuple[str, int, int]:
        """(entry id, leaf index, size of the checkpoint of its commit)."""
        request = ev.SubmitEvidenceRequest(submission=submission(loan, data=document))
        receipt = self.evidence.SubmitEvidence(request, timeout=30).receipt
        return receipt.entry_id, receipt.leaf_index, receipt.checkpoint.size

    def anchor_covering(self, size: int) -> lg.Anchor | None:
        try:
            return self.log.GetAnchor(lg.GetAnchorRequest(tree_size=size), timeout=10).anchor
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
            return None

    def wait_anchor(self, size: int) -> lg.Anchor:
        found: list[lg.Anchor] = []

        def anchored() -> bool:
            anchor = self.anchor_covering(size)
            found[:] = [anchor] if anchor is not None else []
            return bool(found)

        wait_for(anchored, timeout=60, what=f"a confirmed anchor covering size {size}")
        return found[0]

    def fetch(self, out: Path, *what: str) -> dict[str, Any]:
        result = run(
            "fetch", "--gateway", self.gateway.address, "--insecure-loopback", *what,
            "--out", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        loaded: dict[str, Any] = json.loads(out.read_text())
        return loaded


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "court-verify"), *args], capture_output=True, text=True, timeout=120, check=False
    )


def export_trust(pki: Path, out: Path, contract: str) -> Path:
    """The court's trust folder as the operator exports it (`notary trust export`)."""
    exported = subprocess.run(
        [str(BIN / "notary"), "trust", "export", "--pki", str(pki), "--out", str(out),
         "--chain-id", str(CHAIN_ID), "--contract", contract],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert json.loads((out / "chain.json").read_text())["contract"].lower() == contract.lower()
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("bundle-chain")
    pki = folder / "data" / "pki"
    make_pki(pki)
    vkey = load_log_verifier_key(pki).line
    with Anvil() as chain:
        gateway, contract = anchoring_gateway_on(chain, folder, vkey, min_new_entries=2)
        gateway.start()
        try:
            with contextlib.closing(gateway.channel()) as channel:
                yield Site(
                    folder=folder,
                    pki=pki,
                    chain=chain,
                    contract=contract,
                    gateway=gateway,
                    evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel),
                    log=log_service_pb2_grpc.LogServiceStub(channel),
                    trust=export_trust(pki, folder / "trust", contract),
                )
        finally:
            assert gateway.stop() == 0, gateway.log_text()


@dataclass
class Loan:
    """Records whose checkpoints stand in every order to the anchors covering them.

    ``early`` (loan W) is covered by anchor ``early_anchor``; ``a`` and ``b``
    (loan L) by the next anchor, of size ``b_size`` at least, which is larger than
    ``a_size``, the checkpoint of ``a``'s commit.
    """

    early: str
    early_anchor: lg.Anchor
    a: str
    a_size: int
    b: str
    b_size: int
    later_anchor: lg.Anchor
    documents: dict[str, bytes]


@pytest.fixture(scope="module")
def loan(site: Site) -> Loan:
    documents: dict[str, bytes] = {}

    def submit(ref: str, document: bytes) -> tuple[str, int, int]:
        entry, index, size = site.submit(ref, document)
        documents[entry] = document
        return entry, index, size

    submit("W-1", b"warm-up loan contract")
    early, _, early_size = submit("W-1", b"warm-up repayment schedule")
    early_anchor = site.wait_anchor(early_size)
    a, a_index, a_size = submit("L-1", b"loan contract L-1")
    time.sleep(1.5)  # many anchoring periods: one new entry is not anchored alone
    assert site.anchor_covering(a_size) is None, "an anchor covers a lone new record"
    b, _, b_size = submit("L-1", b"repayment of L-1")
    later_anchor = site.wait_anchor(b_size)
    assert later_anchor.tree_size >= b_size > a_size > a_index
    assert later_anchor.anchor_number == early_anchor.anchor_number + 1
    assert early_anchor.tree_size < a_size
    return Loan(early, early_anchor, a, a_size, b, b_size, later_anchor, documents)


def _status(out: str, check: str) -> str:
    lines = [
        line
        for line in out.splitlines()
        if re.match(rf"^(PASS|FAIL|----) +{re.escape(check)}\b", line)
    ]
    assert len(lines) == 1, (check, out)
    return lines[0].split()[0]


def _all_chain_checks_pass(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CHAIN_CHECKS:
        assert _status(result.stdout, name) == "PASS", (name, result.stdout)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("VALID") and "anchored on chain as anchor" in last, last


def _verify_bundle(
    site: Site, loan: Loan, path: Path, entry: str, trust: Path | None = None, rpc: str = ""
) -> subprocess.CompletedProcess[str]:
    document = path.with_suffix(".doc")
    document.write_bytes(loan.documents[entry])
    return run(
        "bundle", str(path), "--file", str(document), "--trust", str(trust or site.trust),
        "--rpc", rpc or site.chain.rpc_url,
    )  # fmt: skip


def _bundle(site: Site, tmp_path: Path, entry: str, tree_size: int, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    site.fetch(path, "--entry", entry, "--tree-size", str(tree_size))
    return path


def test_bundles_older_equal_and_newer_than_the_anchor_verify_on_chain(
    site: Site, loan: Loan, tmp_path: Path
) -> None:
    cases = {
        # the bundle's checkpoint is older than the anchor: consistency checkpoint -> anchored
        "older": (loan.a, loan.a_size, loan.later_anchor),
        # the checkpoint the anchor holds
        "equal": (loan.b, loan.later_anchor.tree_size, loan.later_anchor),
        # newer than the anchor: consistency anchored -> checkpoint
        "newer": (loan.early, loan.b_size, loan.early_anchor),
    }
    for name, (entry, size, anchor) in cases.items():
        path = _bundle(site, tmp_path, entry, size, name)
        bundle = json.loads(path.read_text())
        assert int(bundle["checkpoint"]["size"]) == size
        got = bundle["anchor"]["anchor"]
        assert int(got.get("anchorNumber", "0")) == anchor.anchor_number, name
        assert int(got["treeSize"]) == anchor.tree_size, name
        proof = bundle["anchor"].get("consistencyProof", {})
        low, high = sorted((size, anchor.tree_size))
        if low != high:
            assert (int(proof["fromSize"]), int(proof["toSize"])) == (low, high), name
        result = _verify_bundle(site, loan, path, entry)
        _all_chain_checks_pass(result)
        assert f"anchor {anchor.anchor_number} (size {anchor.tree_size})" in result.stdout, name
        assert f"chain id {CHAIN_ID}" in result.stdout, name


def test_a_dossier_verifies_on_chain(site: Site, loan: Loan, tmp_path: Path) -> None:
    path = tmp_path / "dossier.json"
    dossier = site.fetch(path, "--loan", "L-1")
    assert [r["entryId"] for r in dossier["records"]] == [loan.a, loan.b]
    result = run("dossier", str(path), "--trust", str(site.trust), "--rpc", site.chain.rpc_url)
    _all_chain_checks_pass(result)
    assert _status(result.stdout, "Loan head is last record") == "PASS", result.stdout

    # At the checkpoint of the loan's first record, older than the anchor covering it.
    older = tmp_path / "dossier-older.json"
    site.fetch(older, "--loan", "L-1", "--tree-size", str(loan.a_size))
    result = run("dossier", str(older), "--trust", str(site.trust), "--rpc", site.chain.rpc_url)
    _all_chain_checks_pass(result)


def _edited(path: Path, out: Path, edit: Any) -> Path:
    data = json.loads(path.read_text())
    edit(data["anchor"]["anchor"])
    out.write_text(json.dumps(data))
    return out


def _fails_on(result: subprocess.CompletedProcess[str], check: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert _status(result.stdout, check) == "FAIL", (check, result.stdout)
    assert result.stdout.strip().splitlines()[-1].startswith("INVALID"), result.stdout


def test_an_anchor_section_claiming_another_anchor_fails(
    site: Site, loan: Loan, tmp_path: Path
) -> None:
    equal = _bundle(site, tmp_path, loan.b, loan.later_anchor.tree_size, "b")
    newer = _bundle(site, tmp_path, loan.early, loan.b_size, "early")

    # An earlier anchor, which does not cover the anchored checkpoint.
    def earlier(anchor: dict[str, Any]) -> None:
        anchor["anchorNumber"] = str(loan.early_anchor.anchor_number)

    result = _verify_bundle(site, loan, _edited(equal, tmp_path / "n0.json", earlier), loan.b)
    _fails_on(result, CHECK_ANCHOR_FOUND)

    # A later anchor, of another checkpoint than the one the file holds.
    def later(anchor: dict[str, Any]) -> None:
        anchor["anchorNumber"] = str(loan.later_anchor.anchor_number)

    result = _verify_bundle(site, loan, _edited(newer, tmp_path / "n1.json", later), loan.early)
    _fails_on(result, CHECK_ANCHOR_ROOT)

    # The anchored checkpoint re-signed by the log key over another root (an operator
    # rewriting what it anchored): the chain holds the true root.
    key = load_log_signing_key(site.pki)

    def resigned(anchor: dict[str, Any]) -> None:
        held = parse_checkpoint(anchor["checkpoint"]["signedNote"])
        root = bytes(32)
        anchor["checkpoint"]["signedNote"] = sign_checkpoint(
            held.origin, held.size, root, key, held.origin, list(held.extensions)
        )

    result = _verify_bundle(site, loan, _edited(equal, tmp_path / "root.json", resigned), loan.b)
    _fails_on(result, CHECK_ANCHOR_ROOT)
    assert ("0" * 64) in result.stdout

    # The root line edited without the log key: the note's signature fails.
    def unsigned(anchor: dict[str, Any]) -> None:
        lines = anchor["checkpoint"]["signedNote"].split("\n")
        lines[2] = "A" * 43 + "="
        anchor["checkpoint"]["signedNote"] = "\n".join(lines)

    result = _verify_bundle(site, loan, _edited(equal, tmp_path / "raw.json", unsigned), loan.b)
    _fails_on(result, CHECK_ANCHORED_CHECKPOINT)


def test_chain_json_naming_another_deployment_fails_on_the_log_key(
    site: Site, loan: Loan, tmp_path: Path
) -> None:
    """Another EvidenceAnchor (the same code) deployed by another key, where the log
    registered is another log key's: the code check passes, the log key check fails."""
    other_key = make_verifier_key(
        "look-alike.example/log", Ed25519PrivateKey.generate().public_key()
    )
    deployer = ChainClient(site.chain.rpc_url, account=site.chain.dev_accounts[1])
    other = deployer.deploy()
    assert other.lower() != site.contract.lower()
    deployer.register_log(other_key, site.chain.dev_accounts[1].address)
    trust = export_trust(site.pki, tmp_path / "trust", other)
    bundle = _bundle(site, tmp_path, loan.b, loan.later_anchor.tree_size, "b")

    def named(anchor: dict[str, Any]) -> None:  # the file names it too
        anchor["contract"] = other

    edited = _edited(bundle, tmp_path / "other.json", named)
    result = _verify_bundle(site, loan, edited, loan.b, trust=trust)
    _fails_on(result, CHECK_LOG_KEY_PINNED)
    assert _status(result.stdout, CHECK_CONTRACT_CODE) == "PASS", result.stdout


def test_a_node_of_another_chain_is_refused(site: Site, loan: Loan, tmp_path: Path) -> None:
    """The operator's own chain (id 4242) where the same deployer key at the same nonce
    put the contract at the same address, with the log registered: court-verify asks the
    node its chain id first, and refuses it as an input error naming both ids."""
    bundle = _bundle(site, tmp_path, loan.b, loan.later_anchor.tree_size, "b")
    with Anvil(chain_id=4242) as private:
        admin = ChainClient(private.rpc_url, account=private.dev_accounts[0])
        assert admin.deploy().lower() == site.contract.lower()
        admin.register_log(load_log_verifier_key(site.pki).line, private.dev_accounts[0].address)
        result = _verify_bundle(site, loan, bundle, loan.b, rpc=private.rpc_url)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "chain id 4242, not 31337" in result.stderr, result.stderr
        dossier = tmp_path / "dossier.json"
        site.fetch(dossier, "--loan", "L-1")
        result = run("dossier", str(dossier), "--trust", str(site.trust), "--rpc", private.rpc_url)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "chain id 4242, not 31337" in result.stderr, result.stderr


def test_what_the_file_says_of_the_anchor_must_be_the_chain_s(
    site: Site, loan: Loan, tmp_path: Path
) -> None:
    """The certificate shows the anchor's chain, contract, block and size: a file that
    claims others than the trust folder's chain and the chain's anchor is refused."""
    bundle = _bundle(site, tmp_path, loan.b, loan.later_anchor.tree_size, "b")
    edits: dict[str, tuple[str, str]] = {
        "contract": ("0x" + "de" * 20, "not 0x"),
        "chainId": ("1", "chain id 1"),
        "blockNumber": ("999999", "not 999999 as the file says"),
        "treeSize": ("77", "not 77 as the file says"),
    }
    for field, (value, said) in edits.items():

        def claim(anchor: dict[str, Any], field: str = field, value: str = value) -> None:
            anchor[field] = value

        result = _verify_bundle(
            site, loan, _edited(bundle, tmp_path / f"{field}.json", claim), loan.b
        )
        if field in ("contract", "chainId"):  # another chain than the trust folder's
            assert result.returncode == 2, result.stdout + result.stderr
            assert said in result.stderr and "(chain.json)" in result.stderr, result.stderr
        else:
            _fails_on(result, CHECK_ANCHOR_FOUND)
            assert said in result.stdout, result.stdout

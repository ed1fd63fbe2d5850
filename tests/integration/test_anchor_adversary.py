"""Review of issue 9 (adversary): a gateway that forks its log, against courts reading a real anvil.

docs/anchoring.md promises that "a gateway that rewrote its history, or
showed different logs to different parties, is caught". These tests play the
gateway's operator, who holds the log key and the submitter key and publishes
the contract address, and show three ways two courts both get "passed" on
every anchor check for two logs that contradict each other:

* the fork is anchored *between* anchors: each court checks its checkpoint
  only against the first anchor covering it, never against the chain's later
  anchors, so two forks anchored in turn both verify, for ever;
* the contract at the published address is not ``EvidenceAnchor`` but a
  look-alike whose admin may rewrite anchors: the court reads whatever code is
  there through the same ABI;
* the court is handed a node of another chain (the operator's own anvil,
  where the same deployer key at the same nonce gave the same contract
  address): the court never asks the node which chain it is.

Each court here runs what ``court-verify receipt --anchor --rpc --contract``
runs: :func:`court.chainrpc.read_chain_view` then
:func:`court.verify.anchor.check_anchor`, with the anchored checkpoint and the
consistency proof the gateway hands out.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.chainrpc import ChainRpc, ChainRpcError, read_chain_view
from court.verify import anchor as A
from court.verify.checkpoint import verify_checkpoint
from court.verify.result import Checklist, CheckStatus
from gateway.anchor.chain import ChainClient
from gateway.anchor.ethlibs import keccak
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from tests.support.anvil import Anvil, wait_for
from tests.support.merkle_reference import mth
from tests.support.merkle_reference import proof as consistency_proof

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "gateway.example/log"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
VKEY = make_verifier_key(ORIGIN, KEY.public_key())
LOG_ID = A.log_id_of(VKEY)

# Two histories of the same log (same key): the one court A is shown, and the one court
# B is shown. They differ from the first entry on: neither is a prefix of the other.
FORK_A = [b"loan contract %d, as signed" % i for i in range(64)]
FORK_B = [b"loan contract %d, rewritten" % i for i in range(64)]


def _note(entries: list[bytes], size: int) -> str:
    return sign_checkpoint(ORIGIN, size, mth(entries[:size]), KEY, ORIGIN)


def _anchor(client: ChainClient, entries: list[bytes], size: int) -> None:
    note = _note(entries, size)
    sent = client.send_anchor(LOG_ID, size, mth(entries[:size]), A.checkpoint_hash_of(note))
    assert client.wait_receipt(sent.tx_hash).success


def _register(anvil: Anvil, address: str | None = None) -> tuple[ChainClient, ChainClient]:
    """(admin, submitter) clients of a contract with the log registered (deployed when
    ``address`` is None)."""
    admin = ChainClient(anvil.rpc_url, address, account=anvil.dev_accounts[0])
    if address is None:
        address = admin.deploy()
    submitter = anvil.new_account()
    admin.register_log(VKEY, submitter.address)
    return admin, ChainClient(anvil.rpc_url, address, submitter)


def _court(
    rpc_url: str, contract: str, entries: list[bytes], held: int, **chain: Any
) -> dict[str, CheckStatus]:
    """A court holding the checkpoint of size ``held`` of ``entries`` (from its receipt)
    checks it against the chain, with what the gateway's GetAnchor hands out for it."""
    view = read_chain_view(ChainRpc(rpc_url), contract, VKEY, held, **chain)
    assert view.anchor is not None
    anchored = view.anchor.tree_size
    checks = Checklist()
    A.check_anchor(
        checks,
        held=verify_checkpoint(_note(entries, held), VKEY),
        log_verifier_key=VKEY,
        view=view,
        anchored_note=_note(entries, anchored),
        consistency_proof=consistency_proof(held, entries[:anchored]),
        confirmations=1,
    )
    return dict(checks.verdict().statuses())


def _all_passed(statuses: dict[str, CheckStatus]) -> bool:
    return set(statuses) == set(A.ANCHOR_CHECKS) and set(statuses.values()) == {CheckStatus.PASSED}


# ------------------------------------------------------------------ fork between anchors


def test_a_log_forked_between_two_anchors_is_caught(anvil: Anvil) -> None:
    """The operator anchors its two histories in turn (sizes 10, 20, 30, 40: the contract
    only asks for a larger size, it cannot ask for consistency). Court A holds a
    checkpoint of history A of size 25, court B one of history B of size 35: each finds
    "its" anchor (30 and 40), and every check passes for both, so two courts hold
    contradictory records of the same log, each with a VALID anchor check, and keep
    doing so as long as the operator goes on anchoring both.

    Caught when the court also checks its checkpoint against the chain's *latest*
    anchor of the log (``latestAnchor``, one more ``eth_call``; GetAnchor hands out the
    consistency proof to it): only one history can extend to the latest root. A
    monitor replaying the chain's anchors with the consistency proofs the gateway
    already stores (from each anchor to the next) catches it for everybody."""
    _, submitter = _register(anvil)
    assert submitter.address is not None
    for entries, size in ((FORK_A, 10), (FORK_B, 20), (FORK_A, 30), (FORK_B, 40)):
        _anchor(submitter, entries, size)

    court_a = _court(anvil.rpc_url, submitter.address, FORK_A, 25)
    court_b = _court(anvil.rpc_url, submitter.address, FORK_B, 35)

    assert not (_all_passed(court_a) and _all_passed(court_b)), (
        "two contradictory histories of one log both pass every anchor check: "
        f"court A {court_a}, court B {court_b}"
    )


# ------------------------------------------------------------------ a look-alike contract

_REWRITE = """
    /// @notice Not in EvidenceAnchor: the admin rewrites an anchor in place.
    function rewrite(bytes32 logId, uint256 number, bytes32 rootHash, bytes32 checkpointHash)
        external
        onlyAdmin
    {
        anchors[logId][number].rootHash = rootHash;
        anchors[logId][number].checkpointHash = checkpointHash;
    }

    function anchorCount("""


def _look_alike(tmp_path: Path) -> bytes:
    """Creation code of EvidenceAnchor plus an admin-only ``rewrite``: same ABI for every
    function a court calls, compiled with the project's pinned solc-js and settings."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "compile_contracts", ROOT / "scripts" / "compile_contracts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compile_contracts", module)
    spec.loader.exec_module(module)
    source = (ROOT / "contracts" / "EvidenceAnchor.sol").read_text(encoding="utf-8")
    assert source.count("    function anchorCount(") == 1
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "EvidenceAnchor.sol").write_text(
        source.replace("    function anchorCount(", _REWRITE, 1), encoding="utf-8"
    )
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    try:
        artifact = module.compile_artifact(tmp_path)
    finally:
        (tmp_path / "node_modules").unlink()
        shutil.rmtree(tmp_path / "contracts")
    return bytes.fromhex(str(artifact["bytecode"]).removeprefix("0x"))


def _transact(anvil: Anvil, to: str | None, data: bytes) -> dict[str, Any]:
    """A transaction from anvil's first development account (unlocked on anvil)."""
    tx: dict[str, Any] = {"from": anvil.dev_accounts[0].address, "data": "0x" + data.hex()}
    if to is not None:
        tx["to"] = to
    tx_hash = anvil.rpc("eth_sendTransaction", tx)
    found: list[dict[str, Any]] = []

    def mined() -> bool:
        found[:] = [r for r in [anvil.rpc("eth_getTransactionReceipt", tx_hash)] if r]
        return bool(found)

    wait_for(mined, what=f"transaction {tx_hash} mined")
    assert found[0]["status"] == "0x1", found[0]
    return found[0]


def test_a_contract_that_is_not_evidence_anchor_is_refused(anvil: Anvil, tmp_path: Path) -> None:
    """The operator publishes the address of a contract that answers like EvidenceAnchor
    but lets its admin rewrite anchors (a look-alike, or an upgradeable proxy). Court A
    verifies history A; the operator then rewrites anchor 0 to history B, and court B's
    contradictory checkpoint passes every check (court A's now fails: the operator
    chooses, per court, what the "append-only" chain says).

    The court never looks at the code at ``--contract``. The artifact is compiled without
    a metadata hash, so EvidenceAnchor's runtime code is one fixed byte string:
    ``court`` can pin its SHA-256 (a unit test keeping it equal to the artifact's
    ``deployedBytecode``) and compare ``eth_getCode`` with it before reading."""
    receipt = _transact(anvil, None, _look_alike(tmp_path))
    contract = str(receipt["contractAddress"])
    _, submitter = _register(anvil, contract)
    _anchor(submitter, FORK_A, 10)
    assert submitter.anchor_at(LOG_ID, 0).root_hash == mth(FORK_A[:10])

    selector = keccak(text="rewrite(bytes32,uint256,bytes32,bytes32)")[:4]
    forged = mth(FORK_B[:10]), A.checkpoint_hash_of(_note(FORK_B, 10))
    _transact(anvil, contract, selector + LOG_ID + (0).to_bytes(32, "big") + forged[0] + forged[1])
    assert submitter.anchor_at(LOG_ID, 0).root_hash == mth(FORK_B[:10]), "rewritten"

    try:
        court_b = _court(anvil.rpc_url, contract, FORK_B, 7)
    except ChainRpcError as exc:
        assert "code" in str(exc) or "EvidenceAnchor" in str(exc), str(exc)
        return
    pytest.fail(
        "the look-alike's rewritten anchor was read as the chain's word: court B "
        f"{'passes every check' if _all_passed(court_b) else court_b}"
    )


# ------------------------------------------------------------------ another chain


def test_a_node_of_another_chain_is_refused(anvil: Anvil) -> None:
    """The contract is published for the consortium chain (chain id 31337 here). The
    operator runs a chain of its own (chain id 4242) where the same deployer key, at
    the same nonce, put a contract at the *same address*, registers the log there and
    anchors history B. A court handed that node's URL (by the lender, or the gateway's
    documentation) reads history B and every check passes: ``court-verify`` neither
    asks the node for ``eth_chainId`` nor takes the chain id the operator published
    (``--chain-id``), and its report does not even say which chain it read.

    Suggested: ``--chain-id`` (required with ``--rpc``), compared with the node's
    ``eth_chainId`` before anything is read (``read_chain_view(..., chain_id=N)``), and
    the chain id printed in the report."""
    _, public = _register(anvil)
    assert public.address is not None
    _anchor(public, FORK_A, 10)
    with Anvil(chain_id=4242) as private:
        _, own = _register(private)
        assert own.address == public.address, "same deployer, same nonce, same address"
        _anchor(own, FORK_B, 10)
        assert ChainRpc(private.rpc_url).chain_id() == 4242

        with pytest.raises(ChainRpcError, match="chain id"):
            _court(private.rpc_url, public.address, FORK_B, 7, chain_id=31337)

"""The court reads the anchor contract itself (court.chainrpc, no web3) from a real anvil,
where the gateway's chain client anchored real signed checkpoints, and checks a held one."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.chainrpc import ChainRpc, ChainRpcError, read_chain_view
from court.verify import anchor as A
from court.verify.checkpoint import verify_checkpoint
from court.verify.result import Checklist, CheckStatus
from gateway.anchor.chain import ChainClient
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from tests.support.anvil import Anvil
from tests.support.merkle_reference import mth
from tests.support.merkle_reference import proof as consistency_proof

ORIGIN = "gateway.example/log"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
VKEY = make_verifier_key(ORIGIN, KEY.public_key())
ENTRIES = [b"entry %d" % i for i in range(64)]
DOC = Path(__file__).resolve().parents[2] / "docs" / "anchoring.md"


def _note(size: int) -> str:
    return sign_checkpoint(ORIGIN, size, mth(ENTRIES[:size]), KEY, ORIGIN)


def _anchored(anvil: Anvil, sizes: list[int]) -> ChainClient:
    admin = ChainClient(anvil.rpc_url, account=anvil.dev_accounts[0])
    address = admin.deploy()
    submitter = anvil.new_account()
    admin.register_log(VKEY, submitter.address)
    client = ChainClient(anvil.rpc_url, address, submitter)
    log_id = A.log_id_of(VKEY)
    previous = 0
    for size in sizes:
        note = _note(size)
        proof = consistency_proof(previous, ENTRIES[:size]) if previous else []
        root = mth(ENTRIES[:size])
        sent = client.send_anchor(log_id, size, root, A.checkpoint_hash_of(note), proof)
        assert client.wait_receipt(sent.tx_hash).success
        previous = size
    return client


def _check(view: A.ChainView, held_size: int, k: int) -> dict[str, CheckStatus]:
    checks = Checklist()
    anchor = view.anchor
    size = anchor.tree_size if anchor else held_size
    A.check_anchor(
        checks,
        held=verify_checkpoint(_note(held_size), VKEY),
        log_verifier_key=VKEY,
        view=view,
        anchored_note=_note(size) if anchor else None,
        consistency_proof=consistency_proof(held_size, ENTRIES[:size]) if anchor else [],
        confirmations=k,
    )
    return dict(checks.verdict().statuses())


def test_a_held_checkpoint_verifies_against_the_chain(anvil: Anvil) -> None:
    client = _anchored(anvil, [10, 30])
    assert client.address is not None
    rpc = ChainRpc(anvil.rpc_url)
    assert rpc.chain_id() == client.chain_id()
    view = read_chain_view(rpc, client.address, VKEY, 7)
    assert view.pinned_key == VKEY
    assert view.anchor is not None and view.anchor.number == 0 and view.anchor.tree_size == 10
    assert view.head == client.head()
    assert set(_check(view, 7, 1).values()) == {CheckStatus.PASSED}
    assert _check(view, 7, 10)[A.CHECK_ANCHOR_CONFIRMATIONS] is CheckStatus.NOT_RUN  # not yet
    anvil.mine(10)
    view = read_chain_view(rpc, client.address, VKEY, 7)
    assert set(_check(view, 7, 10).values()) == {CheckStatus.PASSED}

    later = read_chain_view(rpc, client.address, VKEY, 11)
    assert later.anchor is not None and later.anchor.number == 1
    assert set(_check(later, 11, 1).values()) == {CheckStatus.PASSED}

    # The anchor an anchor file names, read by its number: the later one covers size 7 too.
    named = read_chain_view(rpc, client.address, VKEY, 7, 1)
    assert (named.anchor, named.named, named.count) == (later.anchor, 1, 2)
    beyond = read_chain_view(rpc, client.address, VKEY, 7, 5)
    assert (beyond.anchor, beyond.count) == (None, 2)


def test_court_decoders_read_what_the_client_reads(anvil: Anvil) -> None:
    client = _anchored(anvil, [3, 9])
    assert client.address is not None
    rpc = ChainRpc(anvil.rpc_url)
    log_id = A.log_id_of(VKEY)
    for number in (0, 1):
        court_view = A.decode_anchor_at(
            rpc.eth_call(client.address, A.encode_anchor_at(log_id, number)), number
        )
        mine = client.anchor_at(log_id, number)
        assert court_view == mine  # one type: the gateway client reuses the court's
    latest = A.decode_latest_anchor(rpc.eth_call(client.address, A.encode_latest_anchor(log_id)))
    assert latest.number == 1 and latest.tree_size == 9
    block_hash = rpc.block_hash(latest.block_number)
    assert block_hash == client.block_hash(latest.block_number)


def test_not_anchored_yet_is_inconclusive_not_invalid(anvil: Anvil) -> None:
    client = _anchored(anvil, [10])
    assert client.address is not None
    view = read_chain_view(ChainRpc(anvil.rpc_url), client.address, VKEY, 11)
    assert view.anchor is None
    statuses = _check(view, 11, 1)
    assert statuses[A.CHECK_ANCHOR_FOUND] is CheckStatus.NOT_RUN
    assert CheckStatus.FAILED not in statuses.values()


def test_another_log_or_a_wrong_address_is_reported(anvil: Anvil) -> None:
    client = _anchored(anvil, [10])
    assert client.address is not None
    rpc = ChainRpc(anvil.rpc_url)
    other = make_verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    view = read_chain_view(rpc, client.address, other, 5)
    assert view.pinned_key == "" and view.anchor is None
    with pytest.raises(ChainRpcError, match="is --contract the address"):
        read_chain_view(rpc, "0x" + "12" * 20, VKEY, 5)


def test_the_docs_curl_eth_call_reads_the_first_anchor_covering_a_size(
    anvil: Anvil, tmp_path: Path
) -> None:
    """docs/anchoring.md's three shell lines (log id from log.vkey, eth_call with curl), as
    written but for the node, the contract and the size: the answer decodes, word by word
    as the doc's table says, to what the court's reader reads."""
    client = _anchored(anvil, [4, 9])
    assert client.address is not None
    (tmp_path / "log.vkey").write_text(VKEY + "\n")
    [block] = [
        b
        for b in re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.DOTALL)
        if "eth_call" in b and "curl" in b
    ]
    first, rest = block.split("\n", 1)
    assert first.startswith("RPC=") and " CONTRACT=" in first and " SIZE=" in first, first
    script = f"RPC={anvil.rpc_url} CONTRACT={client.address} SIZE=5\n{rest}"
    ran = subprocess.run(
        ["bash", "-ec", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)["result"]
    assert re.fullmatch(r"0x[0-9a-f]{448}", result), result
    words = [int(result[2 + 64 * i : 2 + 64 * (i + 1)], 16) for i in range(7)]
    found = read_chain_view(ChainRpc(anvil.rpc_url), client.address, VKEY, 5).anchor
    assert found is not None and found.tree_size == 9
    assert A.decode_first_anchor_covering(bytes.fromhex(result[2:])) == found
    assert words[:3] == [1, found.number, 9] and words[6] == found.block_number
    assert words[3].to_bytes(32, "big") == found.root_hash

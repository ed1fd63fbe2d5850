"""The court reads the anchor contract itself (court.chainrpc, no web3) from a real anvil,
where the gateway's chain client anchored real signed checkpoints, and checks a held one."""

from __future__ import annotations

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
    assert _check(view, 7, 10)[A.CHECK_ANCHOR_CONFIRMATIONS] is CheckStatus.FAILED
    anvil.mine(10)
    view = read_chain_view(rpc, client.address, VKEY, 7)
    assert set(_check(view, 7, 10).values()) == {CheckStatus.PASSED}

    later = read_chain_view(rpc, client.address, VKEY, 11)
    assert later.anchor is not None and later.anchor.number == 1
    assert set(_check(later, 11, 1).values()) == {CheckStatus.PASSED}


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
        assert court_view == A.OnChainAnchor(**vars(mine))
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

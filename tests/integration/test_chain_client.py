"""The chain client against a real anvil: deploy, register, anchor, read, and every refusal.

Each test starts its own anvil on a free port (tests/support/anvil.py). The
anchored roots are those of one real Merkle tree (tests/support/merkle_reference.py),
each anchor after the first with the consistency proof from the previous one,
which the contract verifies (tests/integration/test_anchor_consistency.py tests
that check in depth).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.anchor.chain import (
    ChainClient,
    ChainError,
    ChainUnavailable,
    ContractRefused,
    TransactionRejected,
    log_id_of,
)
from gateway.anchor.ethlibs import LocalAccount
from tests.support.anvil import Anvil
from tests.support.merkle_reference import mth
from tests.support.merkle_reference import proof as reference_proof

VKEY = "gateway.example/log+0a1b2c3d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh"
LOG_ID = log_id_of(VKEY)
ENTRIES = [b"entry %d" % i for i in range(10_000)]


@dataclass
class Deployed:
    chain: Anvil
    admin: ChainClient
    submitter: ChainClient
    submitter_account: LocalAccount


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with Anvil() as chain:
        admin_account, submitter_account = chain.dev_accounts[0], chain.new_account()
        admin = ChainClient(chain.rpc_url, account=admin_account)
        address = admin.deploy()
        admin.register_log(VKEY, submitter_account.address)
        submitter = ChainClient(chain.rpc_url, address, submitter_account)
        yield Deployed(chain, admin, submitter, submitter_account)


@functools.cache
def _root(n: int) -> bytes:
    """The root of the log's first ``n`` entries."""
    return mth(ENTRIES[:n])


def _note(n: int) -> bytes:
    """Stands for the SHA-256 of the signed checkpoint note of size ``n``."""
    return hashlib.sha256(b"note %d" % n).digest()


def _proof(previous: int, n: int) -> list[bytes]:
    """The consistency proof from the anchor of size ``previous`` (0: none) to ``n``."""
    return reference_proof(previous, ENTRIES[:n]) if previous else []


def _anchor(client: ChainClient, size: int) -> int:
    latest = client.latest_anchor(LOG_ID)
    proof = _proof(0 if latest is None else latest.tree_size, size)
    sent = client.send_anchor(LOG_ID, size, _root(size), _note(size), proof)
    state = client.wait_receipt(sent.tx_hash)
    assert state.success
    assert state.anchor_number is not None
    return state.anchor_number


def test_log_id_is_sha256_of_the_verifier_key() -> None:
    assert hashlib.sha256(VKEY.encode()).digest() == LOG_ID


def test_registered_log_pins_key_and_submitter(deployed: Deployed) -> None:
    assert deployed.admin.submitter_of(LOG_ID) == deployed.submitter_account.address
    assert deployed.admin.verifier_key_of(LOG_ID) == VKEY
    assert deployed.admin.anchor_count(LOG_ID) == 0
    assert deployed.admin.latest_anchor(LOG_ID) is None
    assert deployed.admin.first_anchor_covering(LOG_ID, 1) is None
    unknown = log_id_of("other/log+00000000+AA")
    assert deployed.admin.submitter_of(unknown) == "0x" + "00" * 20
    assert deployed.admin.verifier_key_of(unknown) == ""


def test_anchors_land_numbered_and_are_found_by_size(deployed: Deployed) -> None:
    client = deployed.submitter
    sizes = [3, 10, 11, 500, 10_000]
    assert [_anchor(client, s) for s in sizes] == [0, 1, 2, 3, 4]
    assert client.anchor_count(LOG_ID) == 5
    latest = client.latest_anchor(LOG_ID)
    assert latest is not None
    assert (latest.number, latest.tree_size, latest.root_hash) == (4, 10_000, _root(10_000))
    assert latest.checkpoint_hash == _note(10_000)
    block = deployed.chain.rpc("eth_getBlockByNumber", hex(latest.block_number), False)
    assert latest.block_time == int(block["timestamp"], 16)
    for size, number in [(1, 0), (3, 0), (4, 1), (10, 1), (11, 2), (12, 3), (10_000, 4)]:
        found = client.first_anchor_covering(LOG_ID, size)
        assert found is not None and found.number == number, size
        assert found == client.anchor_at(LOG_ID, number)
    assert client.first_anchor_covering(LOG_ID, 10_001) is None
    with pytest.raises(ContractRefused) as caught:
        client.anchor_at(LOG_ID, 5)
    assert caught.value.reason == "NoAnchor"


def test_size_must_grow(deployed: Deployed) -> None:
    _anchor(deployed.submitter, 10)
    for size in (10, 9, 0):
        with pytest.raises(ContractRefused) as caught:
            deployed.submitter.send_anchor(LOG_ID, size, _root(size), _note(size), [])
        assert caught.value.reason == "SizeNotIncreasing"
        assert caught.value.error_args == (10, size)
    assert deployed.submitter.anchor_count(LOG_ID) == 1


def test_only_the_registered_submitter_may_anchor(deployed: Deployed) -> None:
    stranger = ChainClient(
        deployed.chain.rpc_url, deployed.submitter.address, deployed.chain.new_account()
    )
    nonce = stranger.nonce()
    with pytest.raises(ContractRefused) as caught:
        stranger.send_anchor(LOG_ID, 10, _root(10), _note(10), [])
    assert caught.value.reason == "NotSubmitter"
    assert "NotSubmitter" in caught.value.message
    assert stranger.nonce(pending=True) == nonce  # nothing was sent
    # the admin is no submitter either
    with pytest.raises(ContractRefused, match="NotSubmitter"):
        deployed.admin.send_anchor(LOG_ID, 10, _root(10), _note(10), [])
    assert deployed.submitter.anchor_count(LOG_ID) == 0


def test_the_contract_refuses_even_a_transaction_sent_without_simulation(
    deployed: Deployed,
) -> None:
    """A refused anchor that reaches the chain anyway fails there and appends nothing."""
    stranger_account = deployed.chain.new_account()
    contract = deployed.submitter._require_contract()
    data = contract.encode_abi("anchor", args=[LOG_ID, 10, _root(10), _note(10), []])
    tx = {
        "chainId": deployed.admin.chain_id(),
        "nonce": 0,
        "gas": 200_000,
        "gasPrice": 10**10,
        "to": deployed.submitter.address,
        "data": data,
        "value": 0,
    }
    raw = stranger_account.sign_transaction(tx).raw_transaction
    tx_hash = deployed.chain.rpc("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    state = deployed.submitter.wait_receipt(bytes.fromhex(tx_hash[2:]))
    assert state.success is False
    assert state.anchor_number is None
    assert deployed.submitter.anchor_count(LOG_ID) == 0


def test_an_unknown_log_cannot_be_anchored(deployed: Deployed) -> None:
    with pytest.raises(ContractRefused) as caught:
        deployed.submitter.send_anchor(log_id_of("x/y+00000000+AA"), 1, _root(1), _note(1), [])
    assert caught.value.reason == "UnknownLog"


def test_only_the_admin_registers_and_changes_submitters(deployed: Deployed) -> None:
    with pytest.raises(ContractRefused, match="NotAdmin"):
        deployed.submitter.register_log(
            "other/log+00000000+AA", deployed.chain.new_account().address
        )
    with pytest.raises(ContractRefused, match="AlreadyRegistered"):
        deployed.admin.register_log(VKEY, deployed.admin._require_account().address)
    with pytest.raises(ContractRefused, match="EmptyKey"):
        deployed.admin.register_log("", deployed.submitter_account.address)
    with pytest.raises(ContractRefused, match="ZeroSubmitter"):
        deployed.admin.register_log("a/b+00000000+AA", "0x" + "00" * 20)
    newcomer = deployed.chain.new_account()
    with pytest.raises(ContractRefused, match="NotAdmin"):
        deployed.submitter.set_submitter(LOG_ID, newcomer.address)
    deployed.admin.set_submitter(LOG_ID, newcomer.address)
    assert deployed.admin.submitter_of(LOG_ID) == newcomer.address
    with pytest.raises(ContractRefused, match="NotSubmitter"):
        deployed.submitter.send_anchor(LOG_ID, 1, _root(1), _note(1), [])
    _anchor(ChainClient(deployed.chain.rpc_url, deployed.submitter.address, newcomer), 1)


def test_chain_down_is_unavailable_then_back_with_its_state(deployed: Deployed) -> None:
    _anchor(deployed.submitter, 7)
    head = deployed.submitter.head()
    deployed.chain.stop()
    for call in (
        deployed.submitter.head,
        lambda: deployed.submitter.latest_anchor(LOG_ID),
        lambda: deployed.submitter.send_anchor(LOG_ID, 8, _root(8), _note(8), _proof(7, 8)),
    ):
        with pytest.raises(ChainUnavailable, match="unreachable"):
            call()
    deployed.chain.start()
    assert deployed.submitter.head() == head
    latest = deployed.submitter.latest_anchor(LOG_ID)
    assert latest is not None and latest.tree_size == 7
    assert _anchor(deployed.submitter, 8) == 1


def test_a_reorg_drops_a_mined_anchor_and_tx_state_says_so(deployed: Deployed) -> None:
    _anchor(deployed.submitter, 5)
    sent = deployed.submitter.send_anchor(LOG_ID, 9, _root(9), _note(9), _proof(5, 9))
    mined = deployed.submitter.wait_receipt(sent.tx_hash)
    assert mined.block_hash == deployed.submitter.block_hash(mined.block_number or 0)
    deployed.chain.reorg(1)
    state = deployed.submitter.tx_state(sent.tx_hash)
    assert not state.found and not state.mined
    assert deployed.submitter.block_hash(mined.block_number or 0) != mined.block_hash
    latest = deployed.submitter.latest_anchor(LOG_ID)
    assert latest is not None and latest.tree_size == 5
    # resubmitting the same anchor lands it again
    again = deployed.submitter.send_anchor(
        LOG_ID, 9, _root(9), _note(9), _proof(5, 9), nonce=sent.nonce
    )
    assert deployed.submitter.wait_receipt(again.tx_hash).anchor_number == 1


def test_pending_anchor_replaced_by_the_same_nonce_at_a_higher_price(deployed: Deployed) -> None:
    deployed.chain.set_automine(False)
    client = deployed.submitter
    first = client.send_anchor(LOG_ID, 4, _root(4), _note(4), [])
    state = client.tx_state(first.tx_hash)
    assert state.found and not state.mined
    assert client.nonce(pending=True) == first.nonce + 1 and client.nonce() == first.nonce
    with pytest.raises(TransactionRejected, match=r"underpriced|replacement"):
        client.send_anchor(
            LOG_ID, 6, _root(6), _note(6), [], nonce=first.nonce, gas_price=first.gas_price
        )
    second = client.send_anchor(
        LOG_ID, 6, _root(6), _note(6), [], nonce=first.nonce, gas_price=first.gas_price * 2
    )
    assert second.nonce == first.nonce and second.tx_hash != first.tx_hash
    deployed.chain.mine(1)
    assert client.tx_state(second.tx_hash).anchor_number == 0
    assert not client.tx_state(first.tx_hash).found
    latest = client.latest_anchor(LOG_ID)
    assert latest is not None and latest.tree_size == 6


def test_a_used_nonce_is_rejected(deployed: Deployed) -> None:
    sent = deployed.submitter.send_anchor(LOG_ID, 4, _root(4), _note(4), [])
    deployed.submitter.wait_receipt(sent.tx_hash)
    with pytest.raises(TransactionRejected, match="nonce"):
        deployed.submitter.send_anchor(
            LOG_ID, 5, _root(5), _note(5), _proof(4, 5), nonce=sent.nonce
        )


def test_clear_errors_without_a_contract_key_or_http_url(anvil: Anvil) -> None:
    reader = ChainClient(anvil.rpc_url)
    assert reader.chain_id() == 31337
    with pytest.raises(ChainError, match="no contract address"):
        reader.anchor_count(LOG_ID)
    with pytest.raises(ChainError, match="no submitter key"):
        reader.deploy()
    with pytest.raises(ChainError, match="http:// or https://"):
        ChainClient("file:///etc/passwd")
    with pytest.raises(ChainError, match="20-byte hex address"):
        ChainClient(anvil.rpc_url, "0x1234")


def test_an_address_without_the_contract_is_an_error_not_a_zero(anvil: Anvil) -> None:
    """eth_call to an address with no code returns empty data: not an anchor count of 0."""
    reader = ChainClient(anvil.rpc_url, "0x" + "11" * 20)
    with pytest.raises(ChainError):
        reader.anchor_count(LOG_ID)

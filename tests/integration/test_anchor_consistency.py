"""The contract's consistency check on a real anvil, against the project's Python verifier.

``EvidenceAnchor.anchor`` verifies the RFC 9162 consistency proof from the
log's previous anchor to the new one, so the anchors of a log are versions of
one append-only tree. Its verifier (``verifyConsistency``, the same code
``anchor`` runs, called here with ``eth_call``) is compared with
:func:`court.verify.merkle.verify_consistency` on the transparency-dev
vectors, on proofs made by the naive reference tree
(tests/support/merkle_reference.py) for many random (m, n) pairs, and on
those proofs tampered with: both must give the same answer every time. Then
the anchors themselves: a log anchored with its proofs lands, and an anchor
that does not extend the previous one (another history, a tampered proof, no
proof, a proof on the first anchor, an overlong proof) is refused, by the
client's simulation and by the contract on chain.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import random
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from court.verify.merkle import ProofError, verify_consistency
from gateway.anchor.chain import ChainClient, ContractRefused, log_id_of
from gateway.anchor.contract import load_artifact
from gateway.anchor.ethlibs import LocalAccount, Web3, keccak, web3_exceptions
from tests.support.anvil import Anvil
from tests.support.merkle_reference import mth
from tests.support.merkle_reference import proof as reference_proof

TESTDATA = Path(__file__).resolve().parents[1] / "fixtures" / "merkle" / "testdata"
VECTORS = sorted((TESTDATA / "consistency").rglob("*.json"))
ENTRIES = [b"entry %d" % i for i in range(600)]
VKEY = "consistency.example/log+0a1b2c3d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh"
LOG_ID = log_id_of(VKEY)
MAX_PROOF_LENGTH = 128
_BATCH = 500  # eth_calls per JSON-RPC batch

Args = tuple[int, int, bytes, bytes, Sequence[bytes]]


@dataclass
class Deployed:
    chain: Anvil
    admin: ChainClient
    submitter: ChainClient
    account: LocalAccount
    contract: Any  # web3 contract object, for eth_call of the view

    def verify(
        self, size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
    ) -> bool:
        """The contract's verdict (``verifyConsistency``, one eth_call)."""
        return self.verify_many([(size1, size2, root1, root2, proof)])[0]

    def verify_many(self, calls: Sequence[Args]) -> list[bool]:
        """The contract's verdicts, by eth_calls sent in JSON-RPC batches."""
        verdicts: list[bool] = []
        for start in range(0, len(calls), _BATCH):
            batch = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_call",
                    "params": [{"to": self.admin.address, "data": self._encode(args)}, "latest"],
                }
                for i, args in enumerate(calls[start : start + _BATCH])
            ]
            request = urllib.request.Request(
                self.chain.rpc_url,
                data=json.dumps(batch).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                answers = sorted(json.loads(response.read()), key=lambda a: a["id"])
            assert [a["id"] for a in answers] == list(range(len(batch)))
            for answer in answers:
                assert "error" not in answer, answer["error"]
                word = bytes.fromhex(answer["result"].removeprefix("0x"))
                assert word in (bytes(32), bytes(31) + b"\x01"), answer
                verdicts.append(word[-1] == 1)
        return verdicts

    def _encode(self, args: Args) -> str:
        size1, size2, root1, root2, proof = args
        data = self.contract.encode_abi(
            "verifyConsistency", args=[size1, size2, root1, root2, list(proof)]
        )
        return str(data)


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    """One anvil for the module: the view is pure, the anchor tests use logs of their own."""
    with Anvil() as chain:
        admin = ChainClient(chain.rpc_url, account=chain.dev_accounts[0])
        address = admin.deploy()
        w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
        contract = w3.eth.contract(address=address, abi=load_artifact().abi)
        account = chain.new_account()
        submitter = ChainClient(chain.rpc_url, address, account)
        yield Deployed(chain, admin, submitter, account, contract)


def _python(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """The Python verifier's verdict (court.verify.merkle)."""
    try:
        verify_consistency(size1, size2, list(proof), root1, root2)
    except ProofError:
        return False
    return True


@functools.cache
def _root(size: int) -> bytes:
    return mth(ENTRIES[:size])


# ------------------------------------------------------------------ the verifier


def _as_bytes32(value: bytes) -> bytes:
    """A vector's hash that is not 32 bytes cannot travel as bytes32: its SHA-256 does."""
    return value if len(value) == 32 else hashlib.sha256(value).digest()


def test_the_transparency_dev_vectors(deployed: Deployed) -> None:
    """Every consistency vector: those whose hashes are all 32 bytes must give their
    expected verdict on chain; in the others, each hash of another length (garbage,
    a short "wrong root") is replaced by its SHA-256 and the contract must agree with
    the Python verifier on the result (which refuses every one of them)."""
    assert len(VECTORS) == 98
    as_is = valid = 0
    for path in VECTORS:
        v = json.loads(path.read_text(encoding="utf-8"))
        if not (0 <= v["size1"] < 2**64 and 0 <= v["size2"] < 2**64):
            continue  # uint64 in the ABI: such sizes cannot be sent (none in the set)
        raw = [base64.b64decode(h) for h in [v["root1"], v["root2"], *(v["proof"] or [])]]
        root1, root2, *proof = [_as_bytes32(h) for h in raw]
        args = (v["size1"], v["size2"], root1, root2, proof)
        on_chain = deployed.verify(*args)
        assert on_chain is _python(*args), path.relative_to(TESTDATA)
        if all(len(h) == 32 for h in raw):
            as_is += 1
            assert on_chain is (not v["wantErr"]), path.relative_to(TESTDATA)
            valid += on_chain
    assert (as_is, valid) == (71, 5)  # the sixth valid vector compares two short roots


def _tampered(rng: random.Random, m: int, n: int, proof: list[bytes]) -> Iterator[tuple[str, Args]]:
    """Variants of a valid (m, n, proof) that must not verify (the Python verifier is
    the judge of each)."""
    root1, root2 = _root(m), _root(n)
    if proof:
        i = rng.randrange(len(proof))
        bit = rng.randrange(256)
        flipped = bytearray(proof[i])
        flipped[bit // 8] ^= 1 << (bit % 8)
        yield "bit flipped", (m, n, root1, root2, [*proof[:i], bytes(flipped), *proof[i + 1 :]])
        yield "last hash dropped", (m, n, root1, root2, proof[:-1])
        yield "first hash dropped", (m, n, root1, root2, proof[1:])
    if len(proof) > 1:
        j = rng.randrange(len(proof) - 1)
        swapped = [*proof[:j], proof[j + 1], proof[j], *proof[j + 2 :]]
        yield "two hashes swapped", (m, n, root1, root2, swapped)
    yield "hash appended", (m, n, root1, root2, [*proof, hashlib.sha256(b"x").digest()])
    yield "other old root", (m, n, _root(m - 1) if m > 1 else _root(2), root2, proof)
    yield "other new root", (m, n, root1, _root(n + 1), proof)
    yield "old size + 1", (m + 1, n, _root(m + 1), root2, proof)
    if m > 1:
        yield "old size - 1", (m - 1, n, _root(m - 1), root2, proof)
    yield "new size + 1", (m, n + 1, root1, _root(n + 1), proof)
    yield "roots exchanged", (m, n, root2, root1, proof)


def test_random_pairs_and_tampered_proofs_agree_with_the_python_verifier(
    deployed: Deployed,
) -> None:
    rng = random.Random(20260901)
    pairs = {(m, n) for n in range(1, 9) for m in range(1, n + 1)}  # all small pairs
    pairs |= {(2**k, n) for k in range(9) for n in (2**k + 1, 2**k + 3, 512, 513)}  # borders
    while len(pairs) < 300:
        n = rng.randint(2, len(ENTRIES))
        pairs.add((rng.randint(1, n), n))
    valid: list[Args] = []
    tampered: list[tuple[str, Args]] = []
    for m, n in sorted(pairs):
        proof = reference_proof(m, ENTRIES[:n]) if m < n else []
        valid.append((m, n, _root(m), _root(n), proof))
        tampered += _tampered(rng, m, n, proof)
    assert all(deployed.verify_many(valid))
    expected = [_python(*args) for _, args in tampered]
    verdicts = deployed.verify_many([args for _, args in tampered])
    pairs_of = zip(tampered, verdicts, expected, strict=True)
    wrong = [(what, args[:2]) for (what, args), v, e in pairs_of if v != e]
    assert wrong == []
    assert len(valid) >= 300
    assert expected.count(False) > 5 * len(valid)  # most variants fail (not all: e.g. m+1=n)


def test_large_sizes_and_degenerate_inputs_agree(deployed: Deployed) -> None:
    """64-bit sizes, size 0, shrinking sizes and equal sizes: same verdict as Python."""
    rng = random.Random(7)
    top = 2**64 - 1
    sizes = [(1, top), (top - 1, top), (2**63, top), (2**32, 2**40 + 5), (0, 0), (0, 5)]
    sizes += [(5, 4), (top, top), (1, 1), (2**40, 2**40)]
    calls: list[Args] = []
    for size1, size2 in sizes:
        for length in (0, 1, 2, 63, 64, 65):
            proof = [rng.randbytes(32) for _ in range(length)]
            root1 = rng.randbytes(32)
            for root2 in (rng.randbytes(32), root1):
                calls.append((size1, size2, root1, root2, proof))
    assert deployed.verify_many(calls) == [_python(*args) for args in calls]
    assert deployed.verify(1, 1, b"\x07" * 32, b"\x07" * 32, [])  # equal sizes and roots
    assert not deployed.verify(0, 0, b"\x07" * 32, b"\x07" * 32, [])  # not from size 0


def test_the_view_refuses_an_overlong_proof(deployed: Deployed) -> None:
    proof = [b"\x01" * 32] * (MAX_PROOF_LENGTH + 1)
    assert deployed.contract.functions.MAX_PROOF_LENGTH().call() == MAX_PROOF_LENGTH
    call = deployed.contract.functions.verifyConsistency(5, 9, _root(5), _root(9), proof)
    with pytest.raises(web3_exceptions.ContractCustomError) as caught:
        call.call()
    selector = keccak(text="ProofTooLong(uint256,uint256)")[:4]
    length, limit = (MAX_PROOF_LENGTH + 1).to_bytes(32, "big"), MAX_PROOF_LENGTH.to_bytes(32, "big")
    assert caught.value.data == "0x" + (selector + length + limit).hex()


# ------------------------------------------------------------------ anchors


_LOGS = itertools.count()


@pytest.fixture
def log(deployed: Deployed) -> Iterator[bytes]:
    """A fresh log registered on the module's contract, with the module's submitter."""
    vkey = f"{VKEY}{next(_LOGS)}"
    deployed.admin.register_log(vkey, deployed.account.address)
    yield log_id_of(vkey)


def _send(
    client: ChainClient,
    log_id: bytes,
    size: int,
    root: bytes,
    proof: Sequence[bytes],
) -> int:
    sent = client.send_anchor(log_id, size, root, hashlib.sha256(root).digest(), proof)
    state = client.wait_receipt(sent.tx_hash)
    assert state.success and state.anchor_number is not None
    return state.anchor_number


def _refused(call: Callable[[], object]) -> ContractRefused:
    with pytest.raises(ContractRefused) as caught:
        call()
    return caught.value


def test_a_log_anchored_with_its_proofs_lands(deployed: Deployed, log: bytes) -> None:
    client = deployed.submitter
    previous = 0
    for number, size in enumerate([1, 2, 3, 8, 9, 100, 257, 599]):
        proof = reference_proof(previous, ENTRIES[:size]) if previous else []
        assert _send(client, log, size, _root(size), proof) == number
        previous = size
    latest = client.latest_anchor(log)
    assert latest is not None and (latest.tree_size, latest.root_hash) == (599, _root(599))


def test_an_anchor_that_does_not_extend_the_previous_is_refused(
    deployed: Deployed, log: bytes
) -> None:
    client = deployed.submitter
    other = [b"other %d" % i for i in range(40)]
    # the first anchor takes no proof
    first = _refused(lambda: client.send_anchor(log, 10, _root(10), _root(10), [_root(3)]))
    assert first.reason == "InconsistentAnchor"
    _send(client, log, 10, _root(10), [])
    attempts: dict[str, tuple[int, bytes, list[bytes]]] = {
        "another history": (20, mth(other[:20]), reference_proof(10, other[:20])),
        "a proof from another size": (20, _root(20), reference_proof(9, ENTRIES[:20])),
        "no proof": (20, _root(20), []),
        "the right proof, another root": (20, mth(other[:20]), reference_proof(10, ENTRIES[:20])),
    }
    for what, (size, root, proof) in attempts.items():
        with pytest.raises(ContractRefused) as caught:
            client.send_anchor(log, size, root, root, proof)
        assert caught.value.reason == "InconsistentAnchor", what
    too_long = _refused(lambda: client.send_anchor(log, 20, _root(20), _root(20), [_root(1)] * 129))
    assert (too_long.reason, too_long.error_args) == ("ProofTooLong", (129, MAX_PROOF_LENGTH))
    assert client.anchor_count(log) == 1
    _send(client, log, 20, _root(20), reference_proof(10, ENTRIES[:20]))
    assert client.anchor_count(log) == 2


def test_the_contract_reverts_an_inconsistent_anchor_sent_without_simulation(
    deployed: Deployed, log: bytes
) -> None:
    client = deployed.submitter
    _send(client, log, 10, _root(10), [])
    other = [b"other %d" % i for i in range(20)]
    data = deployed.contract.encode_abi(
        "anchor", args=[log, 20, mth(other), mth(other), reference_proof(10, other)]
    )
    tx = {
        "chainId": client.chain_id(),
        "nonce": client.nonce(pending=True),
        "gas": 300_000,
        "gasPrice": client.gas_price(),
        "to": client.address,
        "data": data,
        "value": 0,
    }
    raw = deployed.account.sign_transaction(tx).raw_transaction
    tx_hash = deployed.chain.rpc("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    state = client.wait_receipt(bytes.fromhex(tx_hash[2:]))
    assert state.success is False and state.anchor_number is None
    assert client.anchor_count(log) == 1
    latest = client.latest_anchor(log)
    assert latest is not None and latest.root_hash == _root(10)

"""`make bench` for anchoring: gas per anchor transaction at 10, 10,000 and 1,000,000 entries.

One anchor covers every entry since the previous one, so its cost does not
grow with the entries of a period. It carries the RFC 9162 consistency proof
from the previous anchor, which the contract verifies (one or two SHA-256
precompile calls per proof hash, 32 calldata bytes each): the cost grows with
the proof's length, at most ceil(log2(size)) + 1 hashes (65 for 64-bit sizes),
so with the log's size, logarithmically.

This runs a real anvil (node_modules/.bin/anvil), deploys ``EvidenceAnchor``,
registers a log with a real Ed25519 verifier key, grows one Merkle tree
(:class:`gateway.log.tree.CompactTree`, leaf hashes of distinct entries) to
each size, keeping the nodes the proofs need, signs its checkpoint, and sends
the anchor through the gateway's chain client with the consistency proof the
gateway makes (:func:`gateway.log.tree.consistency_proof`); the gas figures
are the receipts' ``gasUsed``.

Printed per size: gas used, the proof's length, its calldata part (EIP-2028:
4 gas per zero byte, 16 per other byte) and the rest (21,000 base +
execution). The first anchor of a log is printed apart: it has no proof, and
also creates the log's anchor list (a storage slot set from zero), once.

Sizes: ``BENCH_ANCHOR_SIZES=10,10000,1000000`` (default).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.verify.anchor import checkpoint_hash_of, log_id_of
from court.verify.rfc6962 import leaf_hash
from gateway.anchor.chain import ChainClient
from gateway.anchor.contract import load_artifact
from gateway.anchor.ethlibs import Web3
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from gateway.log.tree import (
    CompactTree,
    MemoryNodeStore,
    NodeID,
    consistency_plan,
    consistency_proof,
)
from tests.support.anvil import Anvil

DEFAULT_SIZES = (10, 10_000, 1_000_000)
ORIGIN = "bench.example/log"
_CHUNK = 100_000


@dataclass(frozen=True)
class GasFigure:
    tree_size: int
    anchor_number: int
    gas_used: int
    calldata_gas: int
    proof_length: int  # hashes in the consistency proof from the previous anchor

    @property
    def other_gas(self) -> int:
        """Base cost and execution: what does not depend on the bytes sent."""
        return self.gas_used - self.calldata_gas


def calldata_gas(data: bytes) -> int:
    """EIP-2028 calldata cost."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def _grow(tree: CompactTree, size: int, keep: set[NodeID], store: MemoryNodeStore) -> None:
    """Grow ``tree`` to ``size`` leaves, storing the nodes in ``keep`` (not all of a
    million-leaf tree: only what the proofs read)."""
    while tree.size < size:
        end = min(size, tree.size + _CHUNK)
        nodes = tree.append_leaves(leaf_hash(b"bench entry %d" % i) for i in range(tree.size, end))
        store.put_nodes(n for n in nodes if (n[0], n[1]) in keep)


def measure(chain: Anvil, sizes: Sequence[int]) -> tuple[GasFigure, list[GasFigure]]:
    """The first anchor of a new log (size 1), then one anchor at each of ``sizes``."""
    key = Ed25519PrivateKey.generate()
    vkey = make_verifier_key(ORIGIN, key.public_key())
    admin = ChainClient(chain.rpc_url, account=chain.dev_accounts[0])
    address = admin.deploy()
    submitter = chain.new_account()
    admin.register_log(vkey, submitter.address)
    client = ChainClient(chain.rpc_url, address, submitter)
    log_id = log_id_of(vkey)
    tree = CompactTree()
    store = MemoryNodeStore()
    chain_of_sizes = [1, *sizes]
    keep = {
        node
        for old, new in itertools.pairwise(chain_of_sizes)
        for node in consistency_plan(old, new).ids
    }

    def anchor(size: int) -> GasFigure:
        previous = tree.size
        _grow(tree, size, keep, store)
        root = tree.root()
        note = sign_checkpoint(ORIGIN, size, root, key, ORIGIN)
        proof = consistency_proof(store, previous, size) if previous else []
        sent = client.send_anchor(log_id, size, root, checkpoint_hash_of(note), proof)
        state = client.wait_receipt(sent.tx_hash)
        tx = chain.rpc("eth_getTransactionByHash", "0x" + sent.tx_hash.hex())
        data = bytes.fromhex(tx["input"].removeprefix("0x"))  # the calldata charged for
        assert state.success and state.gas_used is not None and state.anchor_number is not None
        onchain = client.anchor_at(log_id, state.anchor_number)
        assert (onchain.tree_size, onchain.root_hash) == (size, root)
        return GasFigure(size, state.anchor_number, state.gas_used, calldata_gas(data), len(proof))

    first = anchor(1)
    return first, [anchor(size) for size in sizes]


#: The longest consistency proof between 64-bit sizes (65 hashes): from 2^64 - 3 to 2^64 - 1.
LONGEST = (2**64 - 3, 2**64 - 1, 65)


def verification_gas(chain: Anvil, address: str, size1: int, size2: int, length: int) -> int:
    """``eth_estimateGas`` of ``verifyConsistency`` (the check ``anchor`` runs) with a proof
    of ``length`` arbitrary hashes: every hash is processed when the length is the one
    (size1, size2) requires; the roots then differ, which costs the same. Includes the
    21,000 base and the calldata."""
    proof = [hashlib.sha256(b"bench proof hash %d" % i).digest() for i in range(length)]
    roots = hashlib.sha256(b"root 1").digest(), hashlib.sha256(b"root 2").digest()
    contract = Web3().eth.contract(abi=load_artifact().abi)
    data = contract.encode_abi("verifyConsistency", args=[size1, size2, *roots, proof])
    return int(chain.rpc("eth_estimateGas", {"to": address, "data": data}), 16)


def _sizes() -> list[int]:
    text = os.environ.get("BENCH_ANCHOR_SIZES", "")
    if not text.strip():
        return list(DEFAULT_SIZES)
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main() -> None:
    sizes = _sizes()
    with Anvil() as chain:
        first, figures = measure(chain, sizes)
        address = ChainClient(chain.rpc_url, account=chain.dev_accounts[0]).deploy()
        longest = verification_gas(chain, address, *LONGEST)
        last, before = figures[-1], (figures[-2].tree_size if len(figures) > 1 else 1)
        like_last = verification_gas(chain, address, before, last.tree_size, last.proof_length)
    print("anchoring gas: one EvidenceAnchor.anchor transaction per period (anvil, paris code)")
    print(
        f"  first anchor of a log (no proof; creates its list): {first.gas_used:>9,} gas "
        f"(calldata {first.calldata_gas:,}, base + execution {first.other_gas:,})"
    )
    previous = first.tree_size
    for f in figures:
        print(
            f"  {f.tree_size:>12,} entries: anchor #{f.anchor_number}  {f.gas_used:>9,} gas, "
            f"proof of {f.proof_length} hashes from size {previous:,} "
            f"(calldata {f.calldata_gas:,}, base + execution {f.other_gas:,})"
        )
        previous = f.tree_size
    print(
        "  the cost does not depend on how many entries an anchor covers; it grows with the "
        "proof's length, at most ceil(log2(size)) + 1 hashes (65 for 64-bit sizes)"
    )
    print(
        f"  longest proof (65 hashes, {LONGEST[0]:,} -> {LONGEST[1]:,}): verifyConsistency "
        f"{longest:,} gas against {like_last:,} for the last proof above "
        f"({last.proof_length} hashes): an anchor with it about "
        f"{last.gas_used + longest - like_last:,} gas"
    )


if __name__ == "__main__":
    main()

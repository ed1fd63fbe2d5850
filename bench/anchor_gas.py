"""`make bench` for anchoring: gas per anchor transaction at 10, 10,000 and 1,000,000 entries.

One anchor covers every entry since the previous one, so its cost must not
grow with the log. This runs a real anvil (node_modules/.bin/anvil), deploys
``EvidenceAnchor``, registers a log with a real Ed25519 verifier key, grows
one Merkle tree (:class:`gateway.log.tree.CompactTree`, leaf hashes of
distinct entries) to each size, signs its checkpoint, and sends the anchor
through the gateway's chain client; the gas figures are the receipts'
``gasUsed``.

Printed per size: gas used, its calldata part (EIP-2028: 4 gas per zero byte,
16 per other byte, which moves by a few gas with the bytes of the size and the
hashes) and the rest (21,000 base + execution), which is the same at every
size. The first anchor of a log is printed apart: it also creates the log's
anchor list (a storage slot set from zero), once.

Sizes: ``BENCH_ANCHOR_SIZES=10,10000,1000000`` (default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.verify.anchor import checkpoint_hash_of, log_id_of
from court.verify.rfc6962 import leaf_hash
from gateway.anchor.chain import ChainClient
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from gateway.log.tree import CompactTree
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

    @property
    def other_gas(self) -> int:
        """Base cost and execution: what does not depend on the bytes sent."""
        return self.gas_used - self.calldata_gas


def calldata_gas(data: bytes) -> int:
    """EIP-2028 calldata cost."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def _grow(tree: CompactTree, size: int) -> None:
    while tree.size < size:
        end = min(size, tree.size + _CHUNK)
        tree.append_leaves(leaf_hash(b"bench entry %d" % i) for i in range(tree.size, end))


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

    def anchor(size: int) -> GasFigure:
        _grow(tree, size)
        root = tree.root()
        note = sign_checkpoint(ORIGIN, size, root, key, ORIGIN)
        args = [log_id, size, root, checkpoint_hash_of(note)]
        sent = client.send_anchor(*args)
        state = client.wait_receipt(sent.tx_hash)
        tx = chain.rpc("eth_getTransactionByHash", "0x" + sent.tx_hash.hex())
        data = bytes.fromhex(tx["input"].removeprefix("0x"))  # the calldata charged for
        assert state.success and state.gas_used is not None and state.anchor_number is not None
        onchain = client.anchor_at(log_id, state.anchor_number)
        assert (onchain.tree_size, onchain.root_hash) == (size, root)
        return GasFigure(size, state.anchor_number, state.gas_used, calldata_gas(data))

    first = anchor(1)
    return first, [anchor(size) for size in sizes]


def _sizes() -> list[int]:
    text = os.environ.get("BENCH_ANCHOR_SIZES", "")
    if not text.strip():
        return list(DEFAULT_SIZES)
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main() -> None:
    sizes = _sizes()
    with Anvil() as chain:
        first, figures = measure(chain, sizes)
    print("anchoring gas: one EvidenceAnchor.anchor transaction per period (anvil, paris code)")
    print(
        f"  first anchor of a log (creates its list): {first.gas_used:>9,} gas "
        f"(calldata {first.calldata_gas:,}, base + execution {first.other_gas:,})"
    )
    for f in figures:
        print(
            f"  {f.tree_size:>12,} entries: anchor #{f.anchor_number}  {f.gas_used:>9,} gas "
            f"(calldata {f.calldata_gas:,}, base + execution {f.other_gas:,})"
        )
    others = {f.other_gas for f in figures}
    spread = max(f.gas_used for f in figures) - min(f.gas_used for f in figures)
    verdict = "constant" if len(others) == 1 else "NOT constant"
    print(
        f"  base + execution {verdict} across sizes; total varies by {spread} gas "
        "(calldata bytes only)"
    )


if __name__ == "__main__":
    main()

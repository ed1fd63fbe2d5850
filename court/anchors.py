"""The anchor of a receipt's checkpoint: the gateway's anchor file and the chain node's word.

`court-verify receipt RECEIPT ... --anchor FILE --rpc URL --contract ADDRESS`
reads FILE, one serialized ``evidence_gateway.v1.GetAnchorResponse`` (binary
protobuf, what ``LogService.GetAnchor`` answers for the receipt's checkpoint
with ``tree_size`` and ``from_tree_size`` both its size), then asks the chain
node at URL itself what the contract at ADDRESS holds
(:func:`court.chainrpc.read_chain_view`): the anchor the file names
(``anchorAt(logId, anchor.anchor_number)``), on the chain ``--chain-id``
names (the node's ``eth_chainId`` and the file's ``chain_id`` must both be
it) and in the contract ``--contract`` names (the file's too). The checks are
:func:`court.verify.anchor.check_anchor`'s, run by
:func:`court.verify.receipt.verify_receipt`: the file counts only as far as it
verifies against the chain.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf.message import DecodeError

from court.chainrpc import ChainRpc, ChainRpcError, parse_address, read_chain_view
from court.errors import CourtError
from court.files import InputError, json_hint, read_file
from court.report.escape import escape_text
from court.verify.checkpoint import parse_checkpoint
from court.verify.receipt import AnchorEvidence
from evidence_gateway.v1 import common_pb2, log_service_pb2

__all__ = ["MAX_ANCHOR_FILE_BYTES", "anchor_evidence", "read_anchor_file"]

#: An anchor file holds one checkpoint note and at most 64 proof hashes: a few KiB.
MAX_ANCHOR_FILE_BYTES = 64 * 1024
_MAX_PROOF_HASHES = 64


def _fetch_hint(size: int) -> str:
    return (
        f"save LogService.GetAnchor(tree_size={size}, from_tree_size={size}) for the "
        "receipt's checkpoint (docs/anchoring.md)"
    )


#: What to do with the Anchor message alone saved instead of the whole response.
_ANCHOR_ALONE = (
    "; it looks like an evidence_gateway.v1.Anchor alone (response.anchor): save the whole "
    "GetAnchorResponse (response.SerializeToString()), which also holds the consistency proof"
)


def _hint(data: bytes) -> str:
    """Advice for the two usual ways an anchor file is saved wrong, or nothing."""
    from_json = json_hint(
        data, "evidence_gateway.v1.GetAnchorResponse", "anchor", "docs/anchoring.md"
    )
    if from_json:
        return from_json
    alone = common_pb2.Anchor()
    try:
        alone.ParseFromString(data)
    except DecodeError:
        return ""
    return _ANCHOR_ALONE if alone.checkpoint.signed_note and alone.tree_size else ""


def read_anchor_file(path: Path, size: int) -> log_service_pb2.GetAnchorResponse:
    """The GetAnchorResponse in ``path``, checked to be the anchor of a checkpoint of ``size``
    (with the consistency proof from it)."""
    data = read_file(path, "--anchor file")
    if len(data) > MAX_ANCHOR_FILE_BYTES:
        raise InputError(
            f"--anchor file {path} is {len(data)} bytes; an anchor file is at most "
            f"{MAX_ANCHOR_FILE_BYTES}"
        )
    response = log_service_pb2.GetAnchorResponse()
    try:
        response.ParseFromString(data)
    except DecodeError as exc:
        raise InputError(
            f"--anchor file {path} is not a serialized evidence_gateway.v1.GetAnchorResponse: "
            f"{exc}{_hint(data)}"
        ) from exc
    if not response.anchor.checkpoint.signed_note:
        raise InputError(
            f"--anchor file {path} is not a serialized evidence_gateway.v1.GetAnchorResponse "
            f"(no anchor.checkpoint.signed_note){_hint(data)}"
        )
    anchored = response.anchor.tree_size
    proof = response.consistency_proof
    if len(proof.hashes) > _MAX_PROOF_HASHES:
        raise InputError(
            f"--anchor file {path} holds {len(proof.hashes)} proof hashes; at most "
            f"{_MAX_PROOF_HASHES}"
        )
    if anchored < size:
        raise InputError(
            f"--anchor file {path} is the anchor of size {anchored}, which does not cover the "
            f"receipt's checkpoint of size {size}: {_fetch_hint(size)}"
        )
    if anchored > size and not response.HasField("consistency_proof"):
        raise InputError(
            f"--anchor file {path} has no consistency proof from the receipt's checkpoint "
            f"(size {size}) to the anchored one (size {anchored}): {_fetch_hint(size)}"
        )
    if response.HasField("consistency_proof") and (proof.from_size, proof.to_size) != (
        size,
        anchored,
    ):
        raise InputError(
            f"--anchor file {path} proves size {proof.from_size} to {proof.to_size}, not the "
            f"receipt's size {size} to the anchored {anchored}: {_fetch_hint(size)}"
        )
    return response


def anchor_evidence(
    anchor_file: Path,
    rpc_url: str,
    contract: str,
    chain_id: int,
    confirmations: int,
    receipt: common_pb2.Receipt,
    log_verifier_key: str,
    timeout: float = 10.0,
) -> AnchorEvidence:
    """Read the anchor file, then the chain node, for the receipt's checkpoint.

    Raises :class:`InputError` for a bad file or option, or a chain node that
    cannot be asked or answers what the contract cannot have (the anchor was
    not checked: exit 2, not "invalid").
    """
    try:
        size = parse_checkpoint(receipt.checkpoint.signed_note).size
    except CourtError:
        size = receipt.checkpoint.size  # the receipt checks say what is wrong with the note
    try:
        address = parse_address(contract)
    except ChainRpcError as exc:
        raise InputError(f"--contract: {exc}") from exc
    try:
        rpc = ChainRpc(rpc_url, timeout=timeout)
    except ChainRpcError as exc:  # it names --rpc
        raise InputError(str(exc)) from exc
    response = read_anchor_file(anchor_file, size)
    named = response.anchor
    if named.contract and named.contract.lower() != address:
        raise InputError(
            f"the anchor file's anchor is in contract {escape_text(named.contract)}, not "
            f"--contract {address}: check the address the operator publishes"
        )
    if named.chain_id != chain_id:
        raise InputError(
            f"the anchor file's anchor is on chain id {named.chain_id} "
            f"({escape_text(repr(named.chain_name))}), not --chain-id {chain_id}: save the "
            "anchor of that chain (GetAnchor with its chain name)"
        )
    try:
        view = read_chain_view(
            rpc, address, log_verifier_key, size, named.anchor_number, chain_id=chain_id
        )
    except ChainRpcError as exc:
        raise InputError(f"the anchor could not be checked: {exc}") from exc
    proof = response.consistency_proof
    return AnchorEvidence(
        view=view,
        anchored_note=response.anchor.checkpoint.signed_note,
        consistency_proof=tuple(bytes(h) for h in proof.hashes),
        confirmations=confirmations,
    )

"""A minimal Ethereum JSON-RPC client for courts: read the anchor contract from any chain node.

Standard library only, so ``court`` stays installable alone. Only
the read methods a court needs: ``eth_chainId``, ``eth_blockNumber``,
``eth_getCode``, ``eth_call``, ``eth_getTransactionReceipt``, ``eth_getBlockByNumber``.

Bounded (the transport is :mod:`court.rpchttp`): http:// and https:// URLs
only, no redirects followed, every request ends within its time-out however
slowly the node answers, an answer larger than 1 MiB is refused, hex strings
are checked before they are decoded. Every problem raises
:class:`ChainRpcError` whose message quotes the node's text escaped and
shortened, and names the node by scheme, host and port only
(:func:`court.urls.public_url`: no password, API key or path).

:func:`read_chain_view` makes the reads of the anchor check
(:mod:`court.verify.anchor`): the chain id, the contract's code, the anchor a
gateway's file names (or the one covering a size), the pinned log key, the
chain head.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from typing import Any, Final

from court.errors import CourtError
from court.report.escape import escape_text
from court.rpchttp import (
    QUANTITY,
    RpcAnswerTooLarge,
    RpcHttpStatus,
    RpcTransportError,
    check_url,
    post,
)
from court.urls import public_url
from court.verify.anchor import (
    EVIDENCE_ANCHOR_CODE_SHA256,
    AnchorDataError,
    ChainView,
    OnChainAnchor,
    decode_anchor_at,
    decode_anchor_count,
    decode_first_anchor_covering,
    decode_verifier_key_of,
    encode_anchor_at,
    encode_anchor_count,
    encode_first_anchor_covering,
    encode_verifier_key_of,
    log_id_of,
)

__all__ = ["MAX_RESPONSE_BYTES", "ChainRpc", "ChainRpcError", "parse_address", "read_chain_view"]

MAX_RESPONSE_BYTES: Final = 1 << 20
_TEXT_LIMIT: Final = 200
_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX: Final = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


class ChainRpcError(CourtError):
    """The chain node could not be asked, or its answer is unusable."""


def _quote(value: object) -> str:
    text = escape_text(str(value))
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."


def parse_address(address: str) -> str:
    """A contract address: ``0x`` and 40 hex digits (the checksum case is not required)."""
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise ChainRpcError(
            f"contract address {_quote(address)} is not 0x followed by 40 hex digits"
        )
    return address.lower()


def _hex_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ChainRpcError(f"the node's {what} is not hex data: {_quote(value)}")
    return bytes.fromhex(value[2:])


def _quantity(value: object, what: str) -> int:
    if not isinstance(value, str) or not QUANTITY.fullmatch(value):
        raise ChainRpcError(f"the node's {what} is not a hex quantity: {_quote(value)}")
    return int(value, 16)


class ChainRpc:
    """JSON-RPC over HTTP(S) to one chain node."""

    def __init__(
        self, url: str, timeout: float = 10.0, max_response: int = MAX_RESPONSE_BYTES
    ) -> None:
        try:
            check_url(url)
        except RpcTransportError as exc:
            raise ChainRpcError(f"--rpc must be an http:// or https:// URL: {exc}") from None
        self.url = url
        self.timeout = timeout
        self.max_response = max_response
        self._ids = itertools.count(1)

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC request; its ``result`` (an ``error`` answer raises)."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        ).encode()
        node = public_url(self.url)
        try:
            raw = post(self.url, body, timeout=self.timeout, max_bytes=self.max_response)
        except RpcHttpStatus as exc:
            raise ChainRpcError(f"chain node {node} answered {exc} to {method}") from None
        except RpcAnswerTooLarge:
            raise ChainRpcError(
                f"the answer of {node} to {method} exceeds {self.max_response} bytes"
            ) from None
        except RpcTransportError as exc:
            raise ChainRpcError(
                f"cannot reach chain node {node} ({exc}); check --rpc and that the node runs"
            ) from None
        try:
            answer = json.loads(raw)
        except (ValueError, RecursionError):
            raise ChainRpcError(
                f"the answer of {node} to {method} is not JSON: {_quote(raw[:80])}"
            ) from None
        if not isinstance(answer, dict):
            raise ChainRpcError(f"the answer to {method} is not a JSON-RPC response")
        if answer.get("error") is not None:
            error = answer["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ChainRpcError(f"chain node error on {method}: {_quote(message)}")
        if "result" not in answer:
            raise ChainRpcError(f"the answer to {method} has no result")
        return answer["result"]

    def chain_id(self) -> int:
        return _quantity(self.call("eth_chainId", []), "chain id")

    def block_number(self) -> int:
        return _quantity(self.call("eth_blockNumber", []), "block number")

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (``eth_getCode``; empty: no contract)."""
        return _hex_bytes(self.call("eth_getCode", [parse_address(address), "latest"]), "code")

    def eth_call(self, to: str, data: bytes, block: str = "latest") -> bytes:
        params = [{"to": parse_address(to), "data": "0x" + data.hex()}, block]
        return _hex_bytes(self.call("eth_call", params), "eth_call result")

    def transaction_receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        """The receipt (JSON object as the node sent it), None if not mined or unknown."""
        result = self.call("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
        if result is not None and not isinstance(result, dict):
            raise ChainRpcError("the node's transaction receipt is not an object")
        return result

    def block_by_number(self, number: int) -> dict[str, Any] | None:
        """The block header (no transactions), None beyond the head."""
        result = self.call("eth_getBlockByNumber", [hex(number), False])
        if result is not None and not isinstance(result, dict):
            raise ChainRpcError("the node's block is not an object")
        return result

    def block_hash(self, number: int) -> bytes | None:
        block = self.block_by_number(number)
        return None if block is None else _hex_bytes(block.get("hash"), "block hash")


def read_chain_view(
    rpc: ChainRpc,
    contract: str,
    log_verifier_key: str,
    size: int,
    number: int | None = None,
    *,
    chain_id: int | None = None,
    latest: bool = False,
) -> ChainView:
    """Read, from the node, what the anchor check needs for a checkpoint of ``size``:
    the node's chain id (refused unless it is ``chain_id``, when given, before anything
    else is read), the code at ``contract`` (nothing more is read from code that is not
    EvidenceAnchor's), the pinned log key, anchor ``number`` (the one the gateway's
    anchor file names; ``None``: the first anchor covering ``size``) and the head.

    The head is read last, so the confirmations it gives are never more than
    the anchor had when it was read.
    """
    node_chain = rpc.chain_id()
    if chain_id is not None and node_chain != chain_id:
        raise ChainRpcError(
            f"the node at {_quote(rpc.url)} is of chain id {node_chain}, not {chain_id} "
            "(--chain-id, the chain the operator publishes): ask a node of that chain"
        )
    code = rpc.code(contract)
    if not code:
        raise ChainRpcError(
            f"no contract at {_quote(contract)} on this chain (chain id {node_chain}): is "
            "--contract the address of the EvidenceAnchor contract, and --rpc a node of its "
            "chain?"
        )
    code_sha256 = hashlib.sha256(code).digest()
    if code_sha256 != EVIDENCE_ANCHOR_CODE_SHA256:
        return ChainView(
            anchor=None,
            head=rpc.block_number(),
            pinned_key="",
            chain_id=node_chain,
            code_sha256=code_sha256,
        )
    log_id = log_id_of(log_verifier_key)
    count: int | None = None
    anchor: OnChainAnchor | None
    try:
        pinned = decode_verifier_key_of(rpc.eth_call(contract, encode_verifier_key_of(log_id)))
        if number is not None or latest:
            count = decode_anchor_count(rpc.eth_call(contract, encode_anchor_count(log_id)))
        if number is None:
            anchor = decode_first_anchor_covering(
                rpc.eth_call(contract, encode_first_anchor_covering(log_id, size))
            )
        else:
            anchor = None
            if number < (count or 0):
                anchor = decode_anchor_at(
                    rpc.eth_call(contract, encode_anchor_at(log_id, number)), number
                )
        last: OnChainAnchor | None = None
        if latest and count:
            last = decode_anchor_at(
                rpc.eth_call(contract, encode_anchor_at(log_id, count - 1)), count - 1
            )
    except AnchorDataError as exc:
        raise ChainRpcError(f"contract {_quote(contract)}: {exc}") from None
    return ChainView(
        anchor=anchor,
        head=rpc.block_number(),
        pinned_key=pinned,
        named=number,
        count=count,
        chain_id=node_chain,
        code_sha256=code_sha256,
        latest=last,
    )

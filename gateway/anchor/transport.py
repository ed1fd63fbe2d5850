"""The chain client's web3 provider: JSON-RPC through the bounded transport of ``court``.

web3.py's own ``HTTPProvider`` reads every answer whole (no size bound),
times out per socket read only (a node sending a byte now and then holds the
caller for ever), follows redirects (requests' default: the gateway's
requests, signed transactions included, go wherever a 3xx points) and logs
the URL whole. :class:`BoundedProvider` sends each request through
:func:`court.rpchttp.post` instead (one deadline per request, answers capped
at :data:`MAX_ANSWER_BYTES`, no redirects, the URL named by scheme, host and
port only), and decodes the answer itself:

* a deeply nested answer is an error of its own (:class:`BadAnswer`), not a
  bare ``RecursionError``;
* the result of a method that answers a quantity (``eth_blockNumber``,
  ``eth_gasPrice`` ...), and the quantities of a block, transaction or
  receipt, are ``0x`` and at most 64 hex digits (:data:`court.rpchttp.QUANTITY`).

CCIP read (EIP-3668: a contract that reverts with ``OffchainLookup`` makes
web3 fetch the URLs it names) is off: the client never fetches a URL that
the chain chose.

Errors are those of :mod:`court.rpchttp` (:class:`BadAnswer` is one of
them); :class:`gateway.anchor.chain.ChainClient` maps them to its own.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Final

from court.rpchttp import QUANTITY, RpcTransportError, check_url, post
from court.urls import public_url
from gateway.anchor.ethlibs import web3

__all__ = ["MAX_ANSWER_BYTES", "BadAnswer", "BoundedProvider"]

#: The largest answer taken from a node (the court's client takes as much).
MAX_ANSWER_BYTES: Final = 1 << 20

_QUANTITY_METHODS: Final = frozenset(
    {
        "eth_chainId",
        "eth_blockNumber",
        "eth_gasPrice",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_estimateGas",
    }
)
# The quantities of a block, transaction or receipt object that the client reads.
_QUANTITY_FIELDS: Final = frozenset(
    {
        "number",
        "blockNumber",
        "gasUsed",
        "cumulativeGasUsed",
        "status",
        "gasPrice",
        "effectiveGasPrice",
        "gas",
        "timestamp",
        "transactionIndex",
        "logIndex",
    }
)


class BadAnswer(RpcTransportError):
    """The node's answer is not a JSON-RPC response the client can use."""


def _check_quantities(method: str, result: Any) -> None:
    if method in _QUANTITY_METHODS:
        if not isinstance(result, str) or not QUANTITY.fullmatch(result):
            raise BadAnswer(f"the result of {method} is not a quantity of at most 256 bits")
        return
    objects = [result]
    if isinstance(result, dict) and isinstance(result.get("logs"), list):
        objects += result["logs"]
    for item in objects:
        if not isinstance(item, dict):
            continue
        for key in _QUANTITY_FIELDS.intersection(item):
            value = item[key]
            if value is not None and (not isinstance(value, str) or not QUANTITY.fullmatch(value)):
                raise BadAnswer(f"the {key} of the answer to {method} is not a quantity")


class BoundedProvider(web3.providers.JSONBaseProvider):
    """JSON-RPC over HTTP(S) to one node, bounded (see the module docstring).

    ``timeout`` is the deadline of each request as a whole; once ``abort`` (an
    event, :meth:`abort_on`) is set, requests end at once.
    """

    global_ccip_read_enabled = False

    def __init__(self, url: str, timeout: float) -> None:
        check_url(url)
        super().__init__()
        self.url = url
        self.timeout = timeout
        self.abort: threading.Event | None = None

    def __str__(self) -> str:
        return f"RPC connection {public_url(self.url)}"

    def abort_on(self, event: threading.Event | None) -> None:
        self.abort = event

    def make_request(self, method: Any, params: Any) -> Any:
        body = self.encode_rpc_request(method, params)
        raw = post(
            self.url, body, timeout=self.timeout, max_bytes=MAX_ANSWER_BYTES, abort=self.abort
        )
        try:
            answer = json.loads(raw)
        except RecursionError:
            raise BadAnswer(f"the answer to {method} is JSON nested too deeply") from None
        except ValueError:
            raise BadAnswer(f"the answer to {method} is not JSON") from None
        if not isinstance(answer, dict):
            raise BadAnswer(f"the answer to {method} is not a JSON-RPC response")
        if answer.get("error") is None and "result" in answer:
            _check_quantities(method, answer["result"])
        return answer

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            return "result" in self.make_request("web3_clientVersion", [])
        except RpcTransportError:
            if show_traceback:
                raise
            return False

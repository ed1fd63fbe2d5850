"""What the chain client (:mod:`gateway.anchor.chain`) raises and returns: its errors,
the anchors and transactions it reports, and how a node's text enters a message
(escaped and shortened). Re-exported by :mod:`gateway.anchor.chain`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from court.report.escape import escape_text
from gateway.errors import GatewayError

__all__ = [
    "ChainAnchor",
    "ChainError",
    "ChainUnavailable",
    "ContractRefused",
    "SentAnchor",
    "SignedAnchor",
    "TransactionRejected",
    "TxState",
    "node_text",
    "show_value",
]

_NODE_TEXT_LIMIT = 200  # characters of a node's error message quoted in ours


class ChainError(GatewayError):
    """Talking to the chain failed."""


class ChainUnavailable(ChainError):
    """The chain node could not be reached, or did not answer in time."""


class ContractRefused(ChainError):
    """The contract reverts the call; ``reason`` is its custom error's name
    (``NotSubmitter``, ``SizeNotIncreasing``, ...) or the node's revert text."""

    def __init__(self, reason: str, args: tuple[Any, ...] = ()) -> None:
        shown = ", ".join(show_value(a) for a in args)
        super().__init__(f"the anchor contract refused: {reason}({shown})")
        self.reason = reason
        self.error_args = args


class TransactionRejected(ChainError):
    """The node refused a signed transaction (nonce too low, replacement
    underpriced, insufficient funds ...); ``detail`` is its escaped message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"the chain node rejected the transaction: {detail}")
        self.detail = detail


@dataclass(frozen=True)
class ChainAnchor:
    """One anchor as the contract stores it."""

    number: int
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    block_time: int
    block_number: int


@dataclass(frozen=True)
class SentAnchor:
    """A signed anchor transaction the node accepted into its pool."""

    tx_hash: bytes
    nonce: int
    gas_price: int


@dataclass(frozen=True)
class SignedAnchor(SentAnchor):
    """A signed anchor transaction, not broadcast yet: ``raw`` is what
    :meth:`ChainClient.broadcast` sends (and sends again, byte for byte)."""

    raw: bytes


@dataclass(frozen=True)
class TxState:
    """What the node knows of a transaction now.

    ``found``: the node knows it (mined, or waiting in its pool); a mined one
    has ``block_number``, ``block_hash``, ``success`` and ``gas_used``;
    ``anchor_number`` is the number the contract gave it (from its
    ``Anchored`` event), when it was a successful anchor.
    """

    tx_hash: bytes
    found: bool
    block_number: int | None
    block_hash: bytes | None
    success: bool | None
    gas_used: int | None
    anchor_number: int | None

    @property
    def mined(self) -> bool:
        return self.block_number is not None


def show_value(value: object) -> str:
    """A value for a message: bytes in hex, anything else escaped and shortened."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return escape_text(str(value))[:_NODE_TEXT_LIMIT]


def node_text(value: object) -> str:
    """A node's message, escaped and shortened for ours."""
    text = escape_text(str(value))
    if len(text) > _NODE_TEXT_LIMIT:
        text = text[:_NODE_TEXT_LIMIT] + "..."
    return text

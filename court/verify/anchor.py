"""The anchor check: a checkpoint the court holds against the log's anchor on an EVM chain (pure).

The gateway anchors signed checkpoints of its log in the ``EvidenceAnchor``
contract (contracts/EvidenceAnchor.sol). A court reads the contract itself,
from any chain node it trusts, with ``eth_call`` (:mod:`court.chainrpc` does
the JSON-RPC); this module encodes those calls and decodes their answers by
hand (no web3 in ``court``), and runs the named checks:

* "Contract code is EvidenceAnchor": the SHA-256 of the code at the contract
  address (``eth_getCode``) is :data:`EVIDENCE_ANCHOR_CODE_SHA256`, the
  runtime code of ``contracts/EvidenceAnchor.sol`` as compiled (no metadata
  hash: one fixed byte string; a test ties the constant to the artifact). A
  look-alike that answers the same calls but lets someone rewrite anchors
  fails here, and nothing else is read from it;
* "Log key pinned on chain": ``verifierKeyOf(logId)`` is the log key the court
  verifies checkpoints with (``logId`` = SHA-256 of that key);
* "Anchor found on chain": the anchor the gateway's file names
  (``anchorAt(logId, number)``; without a number, ``firstAnchorCovering``) is
  on chain and covers the held checkpoint's size; none yet is *not run*
  (verify again after the next anchoring period), not a failure;
* "Anchored root matches checkpoint": the anchored checkpoint note supplied by
  the gateway is signed by the log key, and its size, root and SHA-256 are
  the ones on chain;
* "Consistency to anchored checkpoint": the consistency proof from the held
  checkpoint verifies against the root *read from the chain*, so a log that
  rewrote its history since the held checkpoint is caught. One anchor is
  enough: the contract accepts an anchor only with the consistency proof
  from the previous one, so the anchors of a log form one history, and a
  checkpoint consistent with one of them is consistent with all
  (docs/anchoring.md, "Why one anchor is enough");
* "Anchor confirmations": ``head - block + 1 >= K``; fewer yet is *not run*
  (verify again once the chain has grown), not a failure.

Every decoder checks the exact length and the zero padding of the ABI words
it reads, and bounds the strings it accepts, so a hostile node's answer is
rejected with a :class:`AnchorDataError` and never trusted in part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from court.errors import CourtError
from court.verify.checkpoint import Checkpoint, verify_checkpoint
from court.verify.merkle import verify_consistency
from court.verify.result import Checklist
from court.verify.steps import shown

__all__ = [
    "ANCHOR_CHECKS",
    "CHECK_ANCHOR_CONFIRMATIONS",
    "CHECK_ANCHOR_CONSISTENCY",
    "CHECK_ANCHOR_FOUND",
    "CHECK_ANCHOR_ROOT",
    "CHECK_CONTRACT_CODE",
    "CHECK_LOG_KEY_PINNED",
    "EVIDENCE_ANCHOR_CODE_SHA256",
    "MAX_VERIFIER_KEY_BYTES",
    "SELECTOR_ANCHOR_AT",
    "SELECTOR_ANCHOR_COUNT",
    "SELECTOR_FIRST_ANCHOR_COVERING",
    "SELECTOR_LATEST_ANCHOR",
    "SELECTOR_VERIFIER_KEY_OF",
    "AnchorDataError",
    "ChainView",
    "OnChainAnchor",
    "check_anchor",
    "checkpoint_hash_of",
    "decode_anchor_at",
    "decode_anchor_count",
    "decode_first_anchor_covering",
    "decode_latest_anchor",
    "decode_verifier_key_of",
    "encode_anchor_at",
    "encode_anchor_count",
    "encode_first_anchor_covering",
    "encode_latest_anchor",
    "encode_verifier_key_of",
    "log_id_of",
]

CHECK_CONTRACT_CODE: Final = "Contract code is EvidenceAnchor"
CHECK_LOG_KEY_PINNED: Final = "Log key pinned on chain"
CHECK_ANCHOR_FOUND: Final = "Anchor found on chain"
CHECK_ANCHOR_ROOT: Final = "Anchored root matches checkpoint"
CHECK_ANCHOR_CONSISTENCY: Final = "Consistency to anchored checkpoint"
CHECK_ANCHOR_CONFIRMATIONS: Final = "Anchor confirmations"
ANCHOR_CHECKS: Final = (
    CHECK_CONTRACT_CODE,
    CHECK_LOG_KEY_PINNED,
    CHECK_ANCHOR_FOUND,
    CHECK_ANCHOR_ROOT,
    CHECK_ANCHOR_CONSISTENCY,
    CHECK_ANCHOR_CONFIRMATIONS,
)
"""The checks :func:`check_anchor` records, in order; all are needed for VALID."""

# First four bytes of keccak256 of the signature (tests check them against the ABI).
SELECTOR_FIRST_ANCHOR_COVERING: Final = bytes.fromhex("2fe06fb3")  # (bytes32,uint64)
SELECTOR_ANCHOR_AT: Final = bytes.fromhex("9a7ce8ee")  # (bytes32,uint256)
SELECTOR_ANCHOR_COUNT: Final = bytes.fromhex("4cad6a99")  # (bytes32)
SELECTOR_LATEST_ANCHOR: Final = bytes.fromhex("b629d6fd")  # (bytes32)
SELECTOR_VERIFIER_KEY_OF: Final = bytes.fromhex("c928bbca")  # (bytes32)

#: SHA-256 of EvidenceAnchor's runtime code (the artifact's ``deployedBytecode``), what
#: ``eth_getCode`` answers at every deployment of it (no immutables, no metadata hash).
EVIDENCE_ANCHOR_CODE_SHA256: Final = bytes.fromhex(
    "21a9643482511c2f89c8ee8e5d22ca75a3a71a86f7568c25da351c965b321593"
)

MAX_VERIFIER_KEY_BYTES: Final = 4096
_WORD: Final = 32
_UINT64_MAX: Final = (1 << 64) - 1
_UINT256_MAX: Final = (1 << 256) - 1
_ANCHOR_WORDS: Final = 5  # treeSize, rootHash, checkpointHash, blockTime, blockNumber


class AnchorDataError(CourtError):
    """An answer of the chain node is not what the contract returns."""


def log_id_of(verifier_key: str) -> bytes:
    """The contract's name of a log: SHA-256 of its C2SP verifier key (UTF-8)."""
    return hashlib.sha256(verifier_key.encode("utf-8")).digest()


def checkpoint_hash_of(note: str) -> bytes:
    """What an anchor records of a checkpoint: SHA-256 of the signed note (UTF-8)."""
    return hashlib.sha256(note.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class OnChainAnchor:
    """One anchor as the contract returns it."""

    number: int
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    block_time: int
    block_number: int


@dataclass(frozen=True, slots=True)
class ChainView:
    """What the court read from a chain node itself.

    ``anchor``: the anchor the gateway's file names (``named``, read with
    ``anchorAt``), or without a name the first anchor covering the held size
    (None: not on chain yet); ``head``: the node's latest block number;
    ``pinned_key``: the contract's ``verifierKeyOf(logId)`` (empty: the log is
    not registered there); ``count``: how many anchors of the log the contract
    holds (read when ``named`` is, to say why it is not there yet);
    ``chain_id``: the node's ``eth_chainId`` when read; ``code_sha256``: SHA-256 of
    the code at the contract's address (None: not read); ``latest``: the log's
    latest anchor when asked for (read when ``count`` is, None: no anchor yet).
    """

    anchor: OnChainAnchor | None
    head: int
    pinned_key: str
    named: int | None = None
    count: int | None = None
    chain_id: int | None = None
    code_sha256: bytes | None = None
    latest: OnChainAnchor | None = None


# ------------------------------------------------------------------ encoding


def _word_bytes32(value: bytes) -> bytes:
    if not isinstance(value, bytes) or len(value) != _WORD:
        raise AnchorDataError("a log id is 32 bytes")
    return value


def _word_uint(value: int, limit: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise AnchorDataError(f"{value!r} is not an unsigned integer in range")
    return value.to_bytes(_WORD, "big")


def encode_first_anchor_covering(log_id: bytes, size: int) -> bytes:
    return SELECTOR_FIRST_ANCHOR_COVERING + _word_bytes32(log_id) + _word_uint(size, _UINT64_MAX)


def encode_anchor_at(log_id: bytes, number: int) -> bytes:
    return SELECTOR_ANCHOR_AT + _word_bytes32(log_id) + _word_uint(number, _UINT256_MAX)


def encode_anchor_count(log_id: bytes) -> bytes:
    return SELECTOR_ANCHOR_COUNT + _word_bytes32(log_id)


def encode_latest_anchor(log_id: bytes) -> bytes:
    return SELECTOR_LATEST_ANCHOR + _word_bytes32(log_id)


def encode_verifier_key_of(log_id: bytes) -> bytes:
    return SELECTOR_VERIFIER_KEY_OF + _word_bytes32(log_id)


# ------------------------------------------------------------------ decoding


def _words(data: bytes, count: int, what: str) -> list[bytes]:
    if not isinstance(data, bytes) or len(data) != count * _WORD:
        size = len(data) if isinstance(data, bytes) else "?"
        raise AnchorDataError(
            f"the answer to {what} is {size} bytes, not {count * _WORD}: "
            "is the contract address right?"
        )
    return [data[i : i + _WORD] for i in range(0, len(data), _WORD)]


def _uint(word: bytes, limit: int, what: str) -> int:
    value = int.from_bytes(word, "big")
    if value > limit:
        raise AnchorDataError(f"{what} out of range in the chain's answer")
    return value


def _bool(word: bytes, what: str) -> bool:
    value = int.from_bytes(word, "big")
    if value > 1:
        raise AnchorDataError(f"{what} is not a boolean in the chain's answer")
    return value == 1


def _anchor(number: int, words: Sequence[bytes], what: str) -> OnChainAnchor:
    return OnChainAnchor(
        number=number,
        tree_size=_uint(words[0], _UINT64_MAX, f"{what} treeSize"),
        root_hash=words[1],
        checkpoint_hash=words[2],
        block_time=_uint(words[3], _UINT64_MAX, f"{what} blockTime"),
        block_number=_uint(words[4], _UINT64_MAX, f"{what} blockNumber"),
    )


def decode_first_anchor_covering(data: bytes) -> OnChainAnchor | None:
    """``(bool found, uint256 number, Anchor)``; None when not found (all zero then)."""
    words = _words(data, 2 + _ANCHOR_WORDS, "firstAnchorCovering")
    found = _bool(words[0], "found")
    number = _uint(words[1], _UINT256_MAX, "number")
    if not found:
        if any(w != bytes(_WORD) for w in words[1:]):
            raise AnchorDataError("firstAnchorCovering: not found, yet an anchor is returned")
        return None
    return _anchor(number, words[2:], "firstAnchorCovering")


def decode_anchor_at(data: bytes, number: int) -> OnChainAnchor:
    """``Anchor`` of anchor ``number``."""
    return _anchor(number, _words(data, _ANCHOR_WORDS, "anchorAt"), "anchorAt")


def decode_anchor_count(data: bytes) -> int:
    """``uint256``: how many anchors the log has."""
    return _uint(_words(data, 1, "anchorCount")[0], _UINT256_MAX, "anchorCount")


def decode_latest_anchor(data: bytes) -> OnChainAnchor:
    """``(uint256 number, Anchor)``."""
    words = _words(data, 1 + _ANCHOR_WORDS, "latestAnchor")
    return _anchor(_uint(words[0], _UINT256_MAX, "number"), words[1:], "latestAnchor")


def decode_verifier_key_of(data: bytes) -> str:
    """``string``: offset 32, length, UTF-8 bytes, zero padding; at most 4096 bytes."""
    if not isinstance(data, bytes) or len(data) < 2 * _WORD or len(data) % _WORD:
        raise AnchorDataError("the answer to verifierKeyOf is not an ABI string")
    if _uint(data[:_WORD], _UINT64_MAX, "string offset") != _WORD:
        raise AnchorDataError("the answer to verifierKeyOf is not an ABI string")
    length = _uint(data[_WORD : 2 * _WORD], _UINT64_MAX, "string length")
    if length > MAX_VERIFIER_KEY_BYTES:
        raise AnchorDataError(
            f"the key pinned on chain is longer than {MAX_VERIFIER_KEY_BYTES} bytes"
        )
    padded = -(-length // _WORD) * _WORD
    if len(data) != 2 * _WORD + padded:
        raise AnchorDataError("the answer to verifierKeyOf has the wrong length")
    body = data[2 * _WORD :]
    if body[length:] != bytes(padded - length):
        raise AnchorDataError("the answer to verifierKeyOf is not zero-padded")
    try:
        return body[:length].decode("utf-8")
    except UnicodeDecodeError:
        raise AnchorDataError("the key pinned on chain is not UTF-8") from None


# ------------------------------------------------------------------ checks


def _code(checks: Checklist, view: ChainView) -> bool:
    """Record the contract code check; True when it passed."""
    if view.code_sha256 is None:
        checks.not_run(CHECK_CONTRACT_CODE, "the code at the contract address was not read")
        return False
    if view.code_sha256 != EVIDENCE_ANCHOR_CODE_SHA256:
        checks.failed(
            CHECK_CONTRACT_CODE,
            f"the code at the contract address has SHA-256 0x{view.code_sha256.hex()}, not "
            f"EvidenceAnchor's 0x{EVIDENCE_ANCHOR_CODE_SHA256.hex()}: what it answers is not "
            "an append-only anchor log (check the address the operator publishes)",
        )
        return False
    checks.passed(
        CHECK_CONTRACT_CODE,
        f"the code at the contract address is EvidenceAnchor's (SHA-256 "
        f"0x{EVIDENCE_ANCHOR_CODE_SHA256.hex()})",
    )
    return True


def _pinned(checks: Checklist, view: ChainView, log_verifier_key: str) -> None:
    if view.pinned_key == log_verifier_key:
        checks.passed(
            CHECK_LOG_KEY_PINNED, f"the contract pins log id 0x{log_id_of(log_verifier_key).hex()}"
        )
    elif not view.pinned_key:
        checks.failed(
            CHECK_LOG_KEY_PINNED,
            "the log is not registered on this contract: check the contract address",
        )
    else:
        checks.failed(
            CHECK_LOG_KEY_PINNED,
            f"the contract pins {shown(view.pinned_key)}, not the court's log key",
        )


def _anchored_root(
    checks: Checklist, anchor: OnChainAnchor, note: str | None, log_verifier_key: str
) -> None:
    if note is None:
        checks.not_run(
            CHECK_ANCHOR_ROOT, "no anchored checkpoint was supplied (the gateway's anchor file)"
        )
        return
    try:
        anchored = verify_checkpoint(note, log_verifier_key)
    except CourtError as exc:
        checks.failed(CHECK_ANCHOR_ROOT, f"the anchored checkpoint: {exc}")
        return
    note_hash = checkpoint_hash_of(note)
    problems = []
    if anchored.size != anchor.tree_size:
        problems.append(f"size {anchored.size} (chain: {anchor.tree_size})")
    if anchored.root_hash != anchor.root_hash:
        problems.append(f"root 0x{anchored.root_hash.hex()} (chain: 0x{anchor.root_hash.hex()})")
    if note_hash != anchor.checkpoint_hash:
        problems.append(f"SHA-256 0x{note_hash.hex()} (chain: 0x{anchor.checkpoint_hash.hex()})")
    if problems:
        checks.failed(
            CHECK_ANCHOR_ROOT,
            "the anchored checkpoint differs from the chain: " + "; ".join(problems),
        )
        return
    checks.passed(
        CHECK_ANCHOR_ROOT,
        f"anchor {anchor.number} holds size {anchor.tree_size}, root 0x{anchor.root_hash.hex()} "
        "and the SHA-256 of the log-signed checkpoint",
    )


def _consistency(
    checks: Checklist, held: Checkpoint, anchor: OnChainAnchor, proof: Sequence[bytes]
) -> None:
    try:
        verify_consistency(held.size, anchor.tree_size, proof, held.root_hash, anchor.root_hash)
    except CourtError as exc:
        checks.failed(
            CHECK_ANCHOR_CONSISTENCY,
            f"from size {held.size} to the anchored size {anchor.tree_size}: {exc}",
        )
        return
    checks.passed(
        CHECK_ANCHOR_CONSISTENCY,
        f"the anchored tree of size {anchor.tree_size} (root read from the chain) extends "
        f"the checkpoint of size {held.size}",
    )


def _confirmations(checks: Checklist, anchor: OnChainAnchor, head: int, confirmations: int) -> None:
    have = max(head - anchor.block_number + 1, 0)
    detail = (
        f"block {anchor.block_number}, chain head {head}: {have} confirmation(s), "
        f"{confirmations} required"
    )
    if have >= confirmations:
        checks.passed(CHECK_ANCHOR_CONFIRMATIONS, detail)
    else:  # confirmations come with time: not yet, not invalid
        checks.not_run(
            CHECK_ANCHOR_CONFIRMATIONS,
            f"not run: {detail}; verify again once the chain has {confirmations - have} "
            "more block(s)",
        )


def _not_found(checks: Checklist, view: ChainView, size: int) -> None:
    if view.named is not None:
        count = "?" if view.count is None else view.count
        detail = (
            f"anchor {view.named} that the anchor file names is not on this node's chain "
            f"(it holds {count} anchor(s) of the log) yet: verify again later, or with a node "
            "of the chain the file names"
        )
    else:
        detail = (
            f"no anchor on chain covers size {size} yet: verify again after the next "
            "anchoring period"
        )
    checks.not_run(CHECK_ANCHOR_FOUND, detail)
    for name in (CHECK_ANCHOR_ROOT, CHECK_ANCHOR_CONSISTENCY, CHECK_ANCHOR_CONFIRMATIONS):
        checks.not_run(name, f"not run: {detail}")


def check_anchor(
    checks: Checklist,
    *,
    held: Checkpoint,
    log_verifier_key: str,
    view: ChainView,
    anchored_note: str | None,
    consistency_proof: Sequence[bytes],
    confirmations: int,
) -> OnChainAnchor | None:
    """Record the :data:`ANCHOR_CHECKS` for the verified checkpoint ``held``.

    ``view`` is what the court read from the chain (the anchor the gateway's
    file names, or the first covering ``held.size``); ``anchored_note`` and
    ``consistency_proof`` come from the gateway (GetAnchor) and are trusted
    only as far as they verify against the chain. Returns the anchor when one
    covers ``held``.
    """
    if confirmations < 1:
        raise ValueError("confirmations must be at least 1")
    if not _code(checks, view):
        for name in ANCHOR_CHECKS[1:]:
            checks.not_run(name, "not run: the contract is not known to be EvidenceAnchor")
        return None
    _pinned(checks, view, log_verifier_key)
    dependants = (CHECK_ANCHOR_ROOT, CHECK_ANCHOR_CONSISTENCY, CHECK_ANCHOR_CONFIRMATIONS)
    anchor = view.anchor
    if anchor is None or (anchor.tree_size < held.size and view.named is None):
        _not_found(checks, view, held.size)
        return None
    if anchor.tree_size < held.size:  # the file named an anchor that does not cover it
        checks.failed(
            CHECK_ANCHOR_FOUND,
            f"anchor {anchor.number} on chain is of size {anchor.tree_size}, which does not "
            f"cover size {held.size}, unlike what the anchor file says",
        )
        for name in dependants:
            checks.not_run(name, f"not run: anchor {anchor.number} does not cover size {held.size}")
        return None
    on = "" if view.chain_id is None else f" of chain id {view.chain_id}"
    checks.passed(
        CHECK_ANCHOR_FOUND,
        f"anchor {anchor.number} (size {anchor.tree_size}) in block {anchor.block_number}{on}",
    )
    _anchored_root(checks, anchor, anchored_note, log_verifier_key)
    _consistency(checks, held, anchor, consistency_proof)
    _confirmations(checks, anchor, view.head, confirmations)
    return anchor

"""The anchor checks of a bundle or a dossier: its checkpoint against the anchored one (pure).

A bundle or dossier may carry the anchor on chain that covers its record (its
head): the anchored checkpoint and the consistency proof between it and the
file's checkpoint, the smaller size first. :func:`anchor_checks` records, by
name: "Anchored checkpoint signature valid" (the log key signed it),
"Consistency to anchored checkpoint" (offline: one log, and the anchored tree
holds the record), then, with the :class:`~court.verify.anchor.ChainView` the
court read itself, the other checks of :func:`court.verify.anchor.check_anchor`
for the anchored checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from court.errors import CourtError
from court.verify.anchor import (
    ANCHOR_CHECKS,
    CHECK_ANCHOR_CONSISTENCY,
    CHECK_ANCHOR_FOUND,
    ChainView,
    OnChainAnchor,
    check_anchor,
)
from court.verify.checkpoint import Checkpoint
from court.verify.merkle import verify_consistency
from court.verify.result import Checklist
from court.verify.steps import CHECK_CHECKPOINT, copy_check, signed_checkpoint

__all__ = ["ANCHOR_STEPS", "CHECK_ANCHORED_CHECKPOINT", "BundleAnchor", "anchor_checks"]

CHECK_ANCHORED_CHECKPOINT: Final = "Anchored checkpoint signature valid"
#: The anchor checks of a bundle or a dossier (:func:`anchor_checks`), in report order.
ANCHOR_STEPS: Final = (
    CHECK_ANCHORED_CHECKPOINT,
    CHECK_ANCHOR_CONSISTENCY,
    *(name for name in ANCHOR_CHECKS if name != CHECK_ANCHOR_CONSISTENCY),
)


@dataclass(frozen=True, slots=True)
class BundleAnchor:
    """The anchor the file names, with the consistency proof to its checkpoint."""

    chain_id: int
    chain_name: str
    contract: str
    anchor_number: int
    tree_size: int
    note: str
    transaction_hash: bytes
    block_number: int
    from_size: int
    to_size: int
    proof: tuple[bytes, ...]


def anchor_checks(
    checks: Checklist,
    *,
    held: Checkpoint | None,
    anchor: BundleAnchor | None,
    leaf_index: int,
    log_key: str,
    view: ChainView | None,
    confirmations: int = 1,
) -> tuple[Checkpoint | None, OnChainAnchor | None]:
    """Record :data:`ANCHOR_STEPS`: the anchored checkpoint against ``held`` and the
    record at ``leaf_index``, then (with ``view``) against the chain."""
    chain_steps = ANCHOR_STEPS[2:]
    if anchor is None:
        for name in ANCHOR_STEPS:
            checks.not_run(
                name, "the file carries no anchor (not anchored yet, or the log is not anchored)"
            )
        return None, None
    if held is None:
        checks.blocked(ANCHOR_STEPS, CHECK_CHECKPOINT)
        return None, None
    anchored = signed_checkpoint(
        checks,
        CHECK_ANCHORED_CHECKPOINT,
        anchor.note,
        log_key,
        (CHECK_ANCHOR_CONSISTENCY, *chain_steps),
    )
    if anchored is None:
        return None, None
    _offline_consistency(checks, held, anchored, anchor, leaf_index)
    if view is None:
        for name in chain_steps:
            checks.not_run(name, "the chain was not read (--rpc URL and chain.json)")
        return anchored, None
    on_chain = Checklist()
    found = check_anchor(
        on_chain,
        held=anchored,
        log_verifier_key=log_key,
        view=view,
        anchored_note=anchor.note,
        consistency_proof=(),
        confirmations=confirmations,
    )
    for check in on_chain.verdict():
        if check.name == CHECK_ANCHOR_FOUND and check.passed and found is not None:
            claim = _file_claim_differs(anchor, found)
            if claim is not None:
                checks.failed(CHECK_ANCHOR_FOUND, claim)
                continue
        if check.name != CHECK_ANCHOR_CONSISTENCY:
            copy_check(checks, check)
    return anchored, found


def _file_claim_differs(anchor: BundleAnchor, found: OnChainAnchor) -> str | None:
    """What the file says of the anchor (its tree size and block) that the chain does
    not, or None: a certificate shows these, so they must be the chain's."""
    if anchor.tree_size != found.tree_size:
        return (
            f"anchor {found.number} on chain is of size {found.tree_size}, not "
            f"{anchor.tree_size} as the file says"
        )
    if anchor.block_number != found.block_number:
        return (
            f"anchor {found.number} on chain is in block {found.block_number}, not "
            f"{anchor.block_number} as the file says"
        )
    return None


def _offline_consistency(
    checks: Checklist,
    held: Checkpoint,
    anchored: Checkpoint,
    anchor: BundleAnchor,
    leaf_index: int,
) -> None:
    if anchored.origin != held.origin:
        checks.failed(
            CHECK_ANCHOR_CONSISTENCY,
            f"the anchored checkpoint is of log {anchored.origin!r}, not {held.origin!r}",
        )
        return
    if leaf_index >= anchored.size:
        checks.failed(
            CHECK_ANCHOR_CONSISTENCY,
            f"the anchored tree of size {anchored.size} does not hold leaf {leaf_index}",
        )
        return
    small, large = sorted((held, anchored), key=lambda cp: cp.size)
    if (anchor.from_size, anchor.to_size) != (small.size, large.size) and small.size != large.size:
        checks.failed(
            CHECK_ANCHOR_CONSISTENCY,
            f"the file's proof is from size {anchor.from_size} to {anchor.to_size}, not from "
            f"{small.size} to {large.size}",
        )
        return
    try:
        verify_consistency(small.size, large.size, anchor.proof, small.root_hash, large.root_hash)
    except CourtError as exc:
        checks.failed(CHECK_ANCHOR_CONSISTENCY, f"from size {small.size} to {large.size}: {exc}")
        return
    checks.passed(
        CHECK_ANCHOR_CONSISTENCY,
        f"the anchored tree (size {anchored.size}) and the checkpoint's (size {held.size}) are "
        f"one log, and the anchored one holds leaf {leaf_index}",
    )

"""How far the log has grown past a dossier's checkpoint, by the chain's latest anchor (pure).

A dossier is complete only up to its checkpoint: a record the loan got after
it is not in the dossier, and nothing in the file can show that. With a chain
node of its choice (``--rpc``) the court reads the log's latest anchor itself
(:func:`court.chainrpc.read_chain_view` with ``latest``) and compares its tree
size with the dossier's. That is a statement, not a check: a dossier taken at
an older checkpoint is not wrong, only possibly stale, and whether the loan
has records among the later entries is not shown (ask the gateway for a
dossier at a later checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

from court.verify.anchor import ChainView, OnChainAnchor

__all__ = ["LogGrowth", "log_growth"]


@dataclass(frozen=True, slots=True)
class LogGrowth:
    """The dossier's checkpoint size against the log's latest anchor on chain
    (``latest`` None: the chain holds no anchor of the log yet)."""

    checkpoint_size: int
    latest: OnChainAnchor | None

    @property
    def latest_size(self) -> int | None:
        return None if self.latest is None else self.latest.tree_size

    @property
    def grown(self) -> int:
        """Entries the latest anchor covers past the checkpoint (0 when none)."""
        size = self.latest_size
        return 0 if size is None else max(0, size - self.checkpoint_size)

    def sentence(self) -> str:
        n = self.checkpoint_size
        a = self.latest
        if a is None:
            return (
                "the chain holds no anchor of this log yet: how far the log has grown past "
                f"the dossier's checkpoint (size {n}) is not known"
            )
        where = f"the chain's latest anchor (#{a.number}, block {a.block_number})"
        if self.grown:
            return (
                f"the log has grown past the dossier's checkpoint: {where} covers size "
                f"{a.tree_size}, {self.grown} entries after the checkpoint's {n}; records of "
                "this loan among them are not in this dossier (ask for a dossier at a later "
                "checkpoint)"
            )
        return f"{where} covers size {a.tree_size}, not past the dossier's checkpoint (size {n})"

    def as_json(self) -> dict[str, int | None]:
        a = self.latest
        return {
            "checkpoint_size": self.checkpoint_size,
            "latest_anchored_size": None if a is None else a.tree_size,
            "latest_anchor_number": None if a is None else a.number,
            "latest_anchor_block": None if a is None else a.block_number,
            "entries_past_checkpoint": self.grown,
        }


def log_growth(view: ChainView | None, checkpoint_size: int) -> LogGrowth | None:
    """The growth the view shows (None when the latest anchor was not read: no chain
    view, or code at the contract that is not EvidenceAnchor's)."""
    if view is None or view.count is None:
        return None
    return LogGrowth(checkpoint_size=checkpoint_size, latest=view.latest)

"""Audit of a whole log by replay (`court-verify audit-log`): pure, fed in log order.

The auditor is given every leaf from index 0 on (:meth:`LogAuditor.add_leaves`)
and, between them, each signed checkpoint to audit (:meth:`LogAuditor.checkpoint`),
once the leaves below its size were given. It keeps only the tree's right border
(:class:`court.verify.compact_range.RootBuilder`) and the replayed loan map
(:class:`court.verify.loanmap.LoanMap`, one head per loan): memory does not grow
with the number of leaves or checkpoints.

Named checks (each passes only if it held for every leaf or checkpoint; a
failure names the first leaf or checkpoint it failed on):

* ``Checkpoints listed``: at least one checkpoint, sizes ascending, one origin;
* ``Checkpoint signatures valid``: each note is signed by the log key;
* ``Leaves well-formed``: every leaf is a canonical leaf of version 1 or 2;
* ``Loan chains without gaps``: each version 2 leaf continues its loan (sequence
  one more than the loan's previous leaf, previous_leaf_hash naming it);
* ``Tree roots recomputed``: each checkpoint's root is the root of the replayed
  leaves below its size;
* ``Checkpoints consistent``: each checkpoint extends the previous one (the
  gateway's consistency proof verifies between their roots);
* ``Loan map roots recomputed``: each ``loan-map/v1`` root equals the replayed
  map's root at that size, and once a checkpoint carries the line every later
  one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from court.evidence.fields import LeafError
from court.evidence.leaf_v2 import decode_public_leaf
from court.verify.checkpoint import Checkpoint, CheckpointError, VerifierKey, verify_checkpoint
from court.verify.compact_range import RootBuilder
from court.verify.loanmap import LoanMap, LoanMapError, head_of_leaf, map_root_of
from court.verify.merkle import ProofError, verify_consistency
from court.verify.result import Checklist, Verdict
from court.verify.rfc6962 import leaf_hash

__all__ = [
    "AUDIT_CHECKS",
    "CHECK_CHAINS",
    "CHECK_CONSISTENT",
    "CHECK_LEAVES",
    "CHECK_LISTED",
    "CHECK_MAP",
    "CHECK_SIGNATURES",
    "CHECK_TREE",
    "LogAuditor",
]

CHECK_LISTED = "Checkpoints listed"
CHECK_SIGNATURES = "Checkpoint signatures valid"
CHECK_LEAVES = "Leaves well-formed"
CHECK_CHAINS = "Loan chains without gaps"
CHECK_TREE = "Tree roots recomputed"
CHECK_CONSISTENT = "Checkpoints consistent"
CHECK_MAP = "Loan map roots recomputed"
AUDIT_CHECKS = (
    CHECK_LISTED,
    CHECK_SIGNATURES,
    CHECK_LEAVES,
    CHECK_CHAINS,
    CHECK_TREE,
    CHECK_CONSISTENT,
    CHECK_MAP,
)


def _count(n: int, one: str, many: str = "") -> str:
    """``n`` things, singular or plural: "1 checkpoint", "2 checkpoints"."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass
class _Tally:
    """How one check went: how many times it held, and its first failure."""

    held: int = 0
    failure: str | None = None

    def ok(self) -> None:
        self.held += 1

    def fail(self, detail: str) -> None:
        if self.failure is None:
            self.failure = detail


@dataclass
class LogAuditor:
    """Replays a log and audits its checkpoints; :meth:`verdict` gives the named checks."""

    verifier_key: VerifierKey
    _tree: RootBuilder = field(default_factory=RootBuilder)
    _map: LoanMap = field(default_factory=LoanMap)
    _tallies: dict[str, _Tally] = field(default_factory=dict)
    _previous: Checkpoint | None = None
    _first: Checkpoint | None = None
    _map_since: int | None = None  # size of the first checkpoint with a map line
    _v2_leaves: int = 0
    _broken: bool = False  # the leaves cannot be replayed further
    _unsigned: int = 0  # checkpoints listed whose signature did not verify
    # (from size, latest size): no checkpoint of size >= from size exists (nothing_from)
    _nothing_from: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self._tallies = {name: _Tally() for name in AUDIT_CHECKS}

    @property
    def replayed(self) -> int:
        """The number of leaves replayed so far."""
        return self._tree.size

    @property
    def previous(self) -> Checkpoint | None:
        """The last checkpoint audited."""
        return self._previous

    def add_leaves(self, first_index: int, leaves: Sequence[bytes]) -> None:
        """The leaves at ``first_index``, ``first_index + 1``, ... (the next ones)."""
        if first_index != self._tree.size:
            self._tallies[CHECK_LEAVES].fail(
                f"leaves were served from index {first_index}, want {self._tree.size}"
            )
            self._broken = True
            return
        for leaf in leaves:
            self._add_leaf(self._tree.size, bytes(leaf))

    def _add_leaf(self, index: int, leaf: bytes) -> None:
        self._tree.append(leaf_hash(leaf))
        try:
            head = head_of_leaf(index, leaf)
        except LoanMapError as exc:
            self._tallies[CHECK_LEAVES].fail(str(exc))
            return
        self._tallies[CHECK_LEAVES].ok()
        if head is None:
            return
        self._v2_leaves += 1
        chains = self._tallies[CHECK_CHAINS]
        try:
            previous_hash = decode_public_leaf(leaf).previous_leaf_hash
        except LeafError as exc:  # head_of_leaf decoded it already
            chains.fail(f"leaf {index}: {exc}")
            return
        before = self._map.head(head.loan_key)
        want_sequence = 1 if before is None else before.loan_sequence + 1
        want_previous = None if before is None else before.leaf_hash
        if head.loan_sequence != want_sequence or previous_hash != want_previous:
            where = "none" if before is None else f"leaf {before.leaf_index}"
            chains.fail(
                f"leaf {index} has loan sequence {head.loan_sequence} and previous leaf hash "
                f"{previous_hash.hex() if previous_hash else '(none)'}, but its loan's previous "
                f"record is {where} (want sequence {want_sequence})"
            )
        else:
            chains.ok()
        self._map.update([head])

    def checkpoint(self, note: str, consistency_proof: Iterable[bytes] | None) -> None:
        """Audit the next checkpoint; the leaves below its size must have been added.

        ``consistency_proof``: the gateway's proof from the previous checkpoint's size
        to this one's (``None`` for the first checkpoint, or when sizes are equal).
        """
        listed = self._tallies[CHECK_LISTED]
        try:
            checkpoint = verify_checkpoint(note, self.verifier_key)
        except CheckpointError as exc:
            self._unsigned += 1
            self._tallies[CHECK_SIGNATURES].fail(f"{self._where()}: {exc}")
            return
        self._tallies[CHECK_SIGNATURES].ok()
        previous = self._previous
        if previous is not None and checkpoint.size < previous.size:
            listed.fail(f"checkpoint of size {checkpoint.size} listed after size {previous.size}")
            return
        listed.ok()
        self._check_tree(checkpoint)
        self._check_consistency(previous, checkpoint, consistency_proof)
        self._check_map(checkpoint)
        self._previous = checkpoint
        if self._first is None:
            self._first = checkpoint

    def nothing_from(self, from_size: int, latest: str) -> None:
        """No checkpoint of size ``from_size`` or more exists: ``latest``, the latest
        checkpoint, is smaller (an incremental audit with nothing new). Only its signature
        is checked; every other check is not run, with that reason.
        """
        try:
            checkpoint = verify_checkpoint(latest, self.verifier_key)
        except CheckpointError as exc:
            self._unsigned += 1
            self._tallies[CHECK_SIGNATURES].fail(f"the latest checkpoint: {exc}")
            return
        if checkpoint.size >= from_size:
            raise ValueError(
                f"the latest checkpoint's size {checkpoint.size} is not below {from_size}"
            )
        self._tallies[CHECK_SIGNATURES].ok()
        self._nothing_from = (from_size, checkpoint.size)

    def _where(self) -> str:
        if self._previous is None:
            return "the first checkpoint listed"
        return f"the checkpoint listed after size {self._previous.size}"

    def _check_tree(self, checkpoint: Checkpoint) -> None:
        tally = self._tallies[CHECK_TREE]
        if self._broken or self._tree.size != checkpoint.size:
            tally.fail(
                f"checkpoint of size {checkpoint.size}: {self._tree.size} leaves were replayed"
            )
            return
        root = self._tree.root()
        if root != checkpoint.root_hash:
            tally.fail(
                f"checkpoint of size {checkpoint.size} has root {checkpoint.root_hash.hex()}, "
                f"the leaves give {root.hex()}"
            )
        else:
            tally.ok()

    def _check_consistency(
        self, previous: Checkpoint | None, checkpoint: Checkpoint, proof: Iterable[bytes] | None
    ) -> None:
        tally = self._tallies[CHECK_CONSISTENT]
        if previous is None:
            return
        if previous.size == checkpoint.size or previous.size == 0:
            same = previous.size != checkpoint.size or previous.root_hash == checkpoint.root_hash
            if same:
                tally.ok()
            else:
                tally.fail(f"two checkpoints of size {checkpoint.size} with different roots")
            return
        try:
            verify_consistency(
                previous.size,
                checkpoint.size,
                list(proof or ()),
                previous.root_hash,
                checkpoint.root_hash,
            )
        except ProofError as exc:
            tally.fail(f"from size {previous.size} to {checkpoint.size}: {exc}")
            return
        tally.ok()

    def _check_map(self, checkpoint: Checkpoint) -> None:
        tally = self._tallies[CHECK_MAP]
        try:
            root = map_root_of(checkpoint)
        except LoanMapError as exc:
            tally.fail(f"checkpoint of size {checkpoint.size}: {exc}")
            return
        if root is None:
            if self._map_since is not None:
                tally.fail(
                    f"checkpoint of size {checkpoint.size} has no loan-map/v1 line, but the "
                    f"checkpoint of size {self._map_since} had one"
                )
            return
        if self._map_since is None:
            self._map_since = checkpoint.size
        if self._broken or self._tree.size != checkpoint.size:
            tally.fail(f"checkpoint of size {checkpoint.size}: the leaves could not be replayed")
            return
        replayed = self._map.root()
        if replayed != root:
            tally.fail(
                f"checkpoint of size {checkpoint.size} carries map root {root.hex()}, the "
                f"leaves below it give {replayed.hex()}"
            )
        else:
            tally.ok()

    def verdict(self) -> Verdict:
        """The named checks of everything audited so far."""
        checks = Checklist()
        first, last = self._first, self._previous
        span = (
            "no checkpoint"
            if first is None or last is None
            else f"sizes {first.size} to {last.size} of {last.origin!r}"
        )
        if self._nothing_from is not None and self._first is None:
            return self._nothing_verdict(*self._nothing_from)
        for name in AUDIT_CHECKS:
            tally = self._tallies[name]
            if tally.failure is not None:
                checks.failed(name, tally.failure)
            elif name == CHECK_LISTED and tally.held == 0 and self._unsigned:
                # Listed, but their sizes cannot be trusted: the signature check says why.
                checks.not_run(name, f"{self._unsigned} listed, none signed by the log key")
            elif name == CHECK_LISTED and tally.held == 0:
                checks.failed(name, "the gateway listed no checkpoint to audit")
            elif tally.held == 0:
                reason = {
                    CHECK_CHAINS: "no version 2 leaf in the replayed log",
                    CHECK_CONSISTENT: "fewer than two checkpoints",
                    CHECK_MAP: "no audited checkpoint carries a loan-map/v1 line",
                }.get(name, "nothing to check")
                checks.not_run(name, reason)
            else:
                checks.passed(name, self._passed(name, tally.held, span))
        return checks.verdict()

    def _passed(self, name: str, n: int, span: str) -> str:
        """The detail of a check that held ``n`` times."""
        equal = "equals" if n == 1 else "equal"
        if name == CHECK_LISTED:
            return f"{_count(n, 'checkpoint')}, {span}"
        if name == CHECK_SIGNATURES:
            return f"{_count(n, 'checkpoint')} signed by the log key"
        if name == CHECK_LEAVES:
            leaves = _count(n, "leaf", "leaves")
            return f"{leaves} replayed from index 0 ({self._v2_leaves} of version 2)"
        if name == CHECK_CHAINS:
            leaves = _count(n, "version 2 leaf", "version 2 leaves")
            return f"{leaves}, {_count(len(self._map), 'loan')}"
        if name == CHECK_TREE:
            return f"{_count(n, 'checkpoint root')} {equal} the replayed tree's"
        if name == CHECK_CONSISTENT:
            each = "" if n == 1 else " each"
            extend = "extends" if n == 1 else "extend"
            return f"{_count(n, 'checkpoint')}{each} {extend} the one before"
        since = "" if self._map_since is None else f" (the map line from size {self._map_since})"
        return f"{_count(n, 'checkpoint map root')} {equal} the replayed map's{since}"

    def _nothing_verdict(self, from_size: int, latest: int) -> Verdict:
        """The checks when there is no checkpoint of size ``from_size`` or more."""
        checks = Checklist()
        reason = f"no checkpoint of size ≥ {from_size}; the latest is {latest}"
        for name in AUDIT_CHECKS:
            if name == CHECK_SIGNATURES:
                checks.passed(
                    name, f"the latest checkpoint (size {latest}) is signed by the log key"
                )
            else:
                checks.not_run(name, reason)
        return checks.verdict()

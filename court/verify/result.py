"""Named checks and the verdict that holds them.

Every court-side verifier (time-stamp token, Merkle proofs, checkpoint, bundle)
reports its work the same way: an ordered list of checks, each with a
human-readable name, a status and a detail string saying what was found. A
court report prints them one by one; a caller that only wants a yes/no reads
:attr:`Verdict.ok`.

Statuses:

* ``passed``: the check ran and the evidence satisfied it;
* ``failed``: the check ran and the evidence did not satisfy it;
* ``not_run``: the check could not run because a check it depends on failed
  (the detail names that check), or it does not apply (for example no nonce
  was expected); the detail says which.

A verdict is ``ok`` when no check failed and at least one passed. A check is
marked ``not_run`` for a failed dependency only after that dependency was
recorded as ``failed``, so a verdict with a blocked check is never ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Check", "CheckStatus", "Checklist", "Verdict"]


class CheckStatus(StrEnum):
    """Outcome of one named check."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass(frozen=True, slots=True)
class Check:
    """One named check: what was checked, how it came out, and what was found."""

    name: str
    status: CheckStatus
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAILED

    def as_dict(self) -> dict[str, str]:
        """Plain mapping for JSON reports."""
        return {"name": self.name, "status": self.status.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The ordered checks of one verification. Check names are unique."""

    checks: tuple[Check, ...] = ()
    # The checks by name (a verdict is read by name many times: VerifyEvidence's ~30 checks).
    _by_name: dict[str, Check] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Check] = {}
        for check in self.checks:
            if check.name in by_name:
                raise ValueError(f"duplicate check name {check.name!r}")
            by_name[check.name] = check
        object.__setattr__(self, "_by_name", by_name)

    @property
    def ok(self) -> bool:
        """True when no check failed and at least one check passed."""
        return any(c.passed for c in self.checks) and not any(c.failed for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.failed)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if c.failed), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks)

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name

    def __getitem__(self, name: str) -> Check:
        return self._by_name[name]

    def statuses(self) -> Mapping[str, CheckStatus]:
        """Check name -> status, in check order."""
        return {c.name: c.status for c in self.checks}

    def as_dicts(self) -> list[dict[str, str]]:
        return [c.as_dict() for c in self.checks]


@dataclass(slots=True)
class Checklist:
    """Mutable recorder used while verifying; :meth:`verdict` freezes it.

    Recording the same name twice is a programming error and raises
    ``ValueError``.
    """

    _checks: list[Check] = field(default_factory=list)
    _by_name: dict[str, Check] = field(default_factory=dict)

    def _add(self, name: str, status: CheckStatus, detail: str) -> Check:
        if name in self._by_name:
            raise ValueError(f"check {name!r} recorded twice")
        check = Check(name, status, detail)
        self._checks.append(check)
        self._by_name[name] = check
        return check

    def passed(self, name: str, detail: str = "") -> Check:
        return self._add(name, CheckStatus.PASSED, detail)

    def failed(self, name: str, detail: str) -> Check:
        return self._add(name, CheckStatus.FAILED, detail)

    def not_run(self, name: str, detail: str) -> Check:
        return self._add(name, CheckStatus.NOT_RUN, detail)

    def record(self, name: str, ok: bool, detail: str) -> Check:
        """Record ``passed`` if ``ok`` else ``failed``."""
        return self._add(name, CheckStatus.PASSED if ok else CheckStatus.FAILED, detail)

    def blocked(self, names: Iterable[str], by: str) -> None:
        """Mark ``names`` not run because check ``by`` failed."""
        if not self.is_failed(by):
            raise ValueError(f"check {by!r} has not failed; cannot block on it")
        for name in names:
            self.not_run(name, f"not run: {by!r} failed")

    def get(self, name: str) -> Check | None:
        return self._by_name.get(name)

    def is_passed(self, name: str) -> bool:
        check = self.get(name)
        return check is not None and check.passed

    def is_failed(self, name: str) -> bool:
        check = self.get(name)
        return check is not None and check.failed

    def verdict(self) -> Verdict:
        return Verdict(tuple(self._checks))

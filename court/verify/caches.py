"""The bounded caches a long-lived verifier shares between its verifications (pure).

:func:`court.verify.record.verify_record` and
:func:`court.verify.receipt.verify_receipt` take one :class:`VerifyCaches`:
the TSA chain of a token is then searched once per set of certificates and
validity window (:class:`court.verify.x509chain.ChainCache`), and a signed
checkpoint's signature checked once per note
(:class:`court.verify.checkpoint.CheckpointCache`). Every other check runs on
each verification's own bytes; each cache is keyed on the exact bytes it
stands for and bounded in entries and bytes, whatever its callers send.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from court.verify.checkpoint import CheckpointCache
from court.verify.x509chain import ChainCache

__all__ = ["VerifyCaches"]


@dataclass(frozen=True, slots=True)
class VerifyCaches:
    """The chain and checkpoint caches of one verifier (each bounded, thread-safe)."""

    chains: ChainCache = field(default_factory=ChainCache)
    checkpoints: CheckpointCache = field(default_factory=CheckpointCache)

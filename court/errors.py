"""Base exception of the court-side verification library.

Every check in :mod:`court` reports a failed verification by raising a subclass
of :class:`CourtError` whose message names what is wrong; callers that only
want a verdict catch :class:`CourtError`.
"""

from __future__ import annotations

__all__ = ["CourtError"]


class CourtError(Exception):
    """A piece of evidence failed a court-side check (or could not be checked)."""

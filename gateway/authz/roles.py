"""The roles an institution has, and the caller of one request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Caller", "Role"]


class Role(StrEnum):
    """What an institution is to the gateway (one role per institution)."""

    LENDER = "lender"
    COLLECTOR = "collector"
    COURT = "court"
    ARBITRATION = "arbitration"
    REGULATOR = "regulator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    """The institution a request acts for, and its role."""

    institution: str
    role: Role

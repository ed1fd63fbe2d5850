"""What the TSA grants: its policy, accepted hashes, accuracy."""

from __future__ import annotations

from dataclasses import dataclass, field

# The project's TSA policy OID, fixed once under the UUID arc 2.25 (ITU-T X.667):
# 2.25 + the decimal value of a random UUID. Documented in notary/README.md.
DEFAULT_POLICY_OID = "2.25.74167495855605972033681777401069352886"

DEFAULT_HASHES = frozenset({"sha256", "sha384", "sha512"})


@dataclass(frozen=True)
class TsaConfig:
    """Policy of one TSA instance.

    `policy` is written into every token; `accepted_policies` are the reqPolicy
    values a client may ask for (always including `policy`). SM3
    (OID 1.2.156.10197.1.401) is accepted only when `accept_sm3` is set. MD5 and
    SHA-1 are never accepted. `accuracy_ms` is the stated accuracy of genTime.
    """

    policy: str = DEFAULT_POLICY_OID
    extra_policies: frozenset[str] = field(default_factory=frozenset)
    hashes: frozenset[str] = DEFAULT_HASHES
    accept_sm3: bool = False
    accuracy_ms: int = 1000
    include_tsa_name: bool = True

    def __post_init__(self) -> None:
        unknown = self.hashes - DEFAULT_HASHES
        if unknown:
            raise ValueError(f"hashes may only name sha256, sha384, sha512; got {sorted(unknown)}")
        if self.accuracy_ms < 1:
            raise ValueError("accuracy_ms must be at least 1")

    @property
    def accepted_hashes(self) -> frozenset[str]:
        return self.hashes | {"sm3"} if self.accept_sm3 else self.hashes

    @property
    def accepted_policies(self) -> frozenset[str]:
        return self.extra_policies | {self.policy}

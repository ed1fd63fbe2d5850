"""The compiled ``EvidenceAnchor`` contract: ABI and bytecode from its committed artifact.

The artifact ``contracts/build/EvidenceAnchor.json`` is written by
``scripts/compile_contracts.py`` (``make contracts``) with the solc-js pinned in
``package.json``; a test fails when it drifts from ``contracts/EvidenceAnchor.sol``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ARTIFACT_PATH", "Artifact", "load_artifact"]

ARTIFACT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "build" / "EvidenceAnchor.json"


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: bytes  # creation code (constructor included)
    deployed_bytecode: bytes  # runtime code, as eth_getCode returns it
    compiler_version: str

    def errors(self) -> list[dict[str, Any]]:
        """The custom errors the contract may revert with, as ABI entries."""
        return [entry for entry in self.abi if entry.get("type") == "error"]


@functools.cache
def load_artifact(path: Path = ARTIFACT_PATH) -> Artifact:
    """The artifact at ``path`` (read once per path)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the contract artifact {path.name} is missing: run `make contracts`"
        ) from None
    return Artifact(
        abi=data["abi"],
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        deployed_bytecode=bytes.fromhex(data["deployedBytecode"].removeprefix("0x")),
        compiler_version=data["compiler"]["version"],
    )

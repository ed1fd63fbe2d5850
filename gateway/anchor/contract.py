"""The compiled ``EvidenceAnchor`` contract: ABI and bytecode from its committed artifact.

The artifact ``gateway/anchor/artifacts/EvidenceAnchor.json`` is written by
``scripts/compile_contracts.py`` (``make contracts``) with the solc-js pinned in
``package.json``; a test fails when it drifts from ``contracts/EvidenceAnchor.sol``.
It is package data of ``gateway`` (pyproject.toml), read through
:mod:`importlib.resources`, so an editable install and a wheel both have it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ARTIFACT_PATH", "Artifact", "load_artifact"]

#: The artifact inside the installed ``gateway.anchor`` package.
ARTIFACT_PATH = Path(
    str(importlib.resources.files("gateway.anchor") / "artifacts" / "EvidenceAnchor.json")
)


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
            f"the contract artifact {path} is missing: reinstall the gateway package "
            "(in a source tree: run `make contracts`)"
        ) from None
    return Artifact(
        abi=data["abi"],
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        deployed_bytecode=bytes.fromhex(data["deployedBytecode"].removeprefix("0x")),
        compiler_version=data["compiler"]["version"],
    )

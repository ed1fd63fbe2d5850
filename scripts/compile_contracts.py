#!/usr/bin/env python3
"""Compile the anchoring contract and write its committed artifact.

``contracts/EvidenceAnchor.sol`` is compiled with the solc-js pinned in
``package.json`` (``node_modules/solc``, installed by ``npm ci``) through its
standard-JSON interface, with the settings below (optimizer on, evmVersion
``paris`` so Hyperledger Besu and FISCO BCOS's EVM run it, no metadata hash so
the bytecode depends only on the source and these settings)::

    .venv/bin/python scripts/compile_contracts.py           # rewrite the artifact
    .venv/bin/python scripts/compile_contracts.py --check   # exit 1 if it would change

The artifact ``gateway/anchor/artifacts/EvidenceAnchor.json`` holds the ABI, the
creation and runtime bytecode, the compiler version and the settings, the
functions' selectors (solc's ``evm.methodIdentifiers``) and the events'
``topic0`` (keccak-256 of each event's signature, computed with js-sha3, the
keccak that the pinned solc-js itself depends on), for whoever reads the
contract without an ABI library (docs/anchoring.md, "Reading the contract
yourself"); ``tests/unit/test_contracts.py`` fails when it drifts from the
source. Only the standard library and node are used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "contracts" / "EvidenceAnchor.sol"
ARTIFACT = ROOT / "gateway" / "anchor" / "artifacts" / "EvidenceAnchor.json"  # package data
CONTRACT = "EvidenceAnchor"
SETTINGS: dict[str, Any] = {
    "evmVersion": "paris",
    "optimizer": {"enabled": True, "runs": 200},
    "metadata": {"bytecodeHash": "none", "appendCBOR": False},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.methodIdentifiers",
            ]
        }
    },
}

# Standard JSON in on stdin, standard JSON out on stdout, with the pinned solc-js.
_NODE = """
const solc = require('solc');
const { keccak256 } = require(require.resolve('js-sha3', { paths: [require.resolve('solc')] }));
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  const topics = {};
  for (const file of Object.values(output.contracts || {})) {
    for (const contract of Object.values(file)) {
      for (const entry of contract.abi.filter((e) => e.type === 'event')) {
        const signature = `${entry.name}(${entry.inputs.map((i) => i.type).join(',')})`;
        topics[signature] = '0x' + keccak256(signature);
      }
    }
  }
  process.stdout.write(JSON.stringify({version: solc.version(), output: output, topics: topics}));
});
"""


def compile_artifact(root: Path = ROOT) -> dict[str, Any]:
    """The artifact as the pinned compiler makes it now from the committed source."""
    if not (root / "node_modules" / "solc").is_dir():
        raise SystemExit("node_modules/solc is missing: run `npm ci` (or `make setup`) first")
    source = (root / "contracts" / SOURCE.name).read_text(encoding="utf-8")
    request = {
        "language": "Solidity",
        "sources": {SOURCE.name: {"content": source}},
        "settings": SETTINGS,
    }
    result = subprocess.run(
        ["node", "-e", _NODE],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"solc-js failed:\n{result.stderr}")
    answer = json.loads(result.stdout)
    errors = [e for e in answer["output"].get("errors", []) if e.get("severity") == "error"]
    warnings = [e for e in answer["output"].get("errors", []) if e.get("severity") != "error"]
    if errors or warnings:
        text = "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors + warnings)
        raise SystemExit(f"solc-js reported problems (warnings count as errors):\n{text}")
    compiled = answer["output"]["contracts"][SOURCE.name][CONTRACT]
    settings = {k: v for k, v in SETTINGS.items() if k != "outputSelection"}
    return {
        "contractName": CONTRACT,
        "sourceName": f"contracts/{SOURCE.name}",
        "compiler": {"name": "solc-js", "version": answer["version"], "settings": settings},
        "abi": compiled["abi"],
        "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
        "methodIdentifiers": compiled["evm"]["methodIdentifiers"],
        "eventTopics": answer["topics"],
    }


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the artifact would change")
    args = parser.parse_args(argv)
    text = render(compile_artifact())
    current = ARTIFACT.read_text(encoding="utf-8") if ARTIFACT.exists() else None
    if args.check:
        if current != text:
            print(f"{ARTIFACT.relative_to(ROOT)} is stale: run `make contracts`", file=sys.stderr)
            return 1
        return 0
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(text, encoding="utf-8")
    print(f"wrote {ARTIFACT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

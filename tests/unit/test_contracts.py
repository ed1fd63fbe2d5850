"""The anchoring contract's committed artifact matches its source and runs on older EVMs.

- ``gateway/anchor/artifacts/EvidenceAnchor.json`` is byte for byte what
  ``scripts/compile_contracts.py`` makes now with the solc-js pinned in
  package.json (a missing ``node_modules/solc`` is a failure, not a skip).
- It was compiled for evmVersion ``paris``, and its code holds none of the
  opcodes later forks added (PUSH0, MCOPY, TLOAD, TSTORE), so Besu and FISCO
  BCOS nodes on a paris-level EVM run it.
- The ABI has the functions, events and errors the chain client and the court
  rely on, with the selectors ``court.verify.anchor`` encodes by hand.
- The artifact is package data of ``gateway`` (a wheel carries it), and the
  loader reads it from the package.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gateway.anchor.contract import ARTIFACT_PATH, load_artifact

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "compile_contracts.py"
LATER_OPCODES = {0x5F: "PUSH0", 0x5E: "MCOPY", 0x5C: "TLOAD", 0x5D: "TSTORE", 0x4A: "BLOBBASEFEE"}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compile_contracts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compile_contracts"] = module
    spec.loader.exec_module(module)
    return module


def test_the_artifact_is_what_the_pinned_compiler_makes_of_the_source() -> None:
    assert (ROOT / "node_modules" / "solc").is_dir(), "node_modules/solc missing: run `npm ci`"
    script = _script()
    fresh = script.render(script.compile_artifact())
    committed = ARTIFACT_PATH.read_text(encoding="utf-8")
    if fresh != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(True)[:2000], fresh.splitlines(True)[:2000], n=1
            )
        )
        pytest.fail(f"{ARTIFACT_PATH.name} drifted from the source; run `make contracts`\n{diff}")


def _opcodes(code: bytes) -> list[int]:
    """The opcodes of ``code``, PUSH data skipped."""
    out, i = [], 0
    while i < len(code):
        op = code[i]
        out.append(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return out


def test_the_code_runs_on_a_paris_evm() -> None:
    artifact = load_artifact()
    assert artifact.compiler_version.startswith("0.8.37+")
    settings = json.loads(ARTIFACT_PATH.read_text())["compiler"]["settings"]
    assert settings["evmVersion"] == "paris"
    for name, code in (("creation", artifact.bytecode), ("runtime", artifact.deployed_bytecode)):
        later = {LATER_OPCODES[op] for op in _opcodes(code) if op in LATER_OPCODES}
        assert not later, f"{name} code uses opcodes newer than paris: {sorted(later)}"
    assert artifact.deployed_bytecode in artifact.bytecode


def _signature(entry: dict[str, Any]) -> str:
    def kind(p: dict[str, Any]) -> str:
        if p["type"].startswith("tuple"):
            return "(" + ",".join(kind(c) for c in p["components"]) + ")" + p["type"][5:]
        return str(p["type"])

    return f"{entry['name']}({','.join(kind(p) for p in entry['inputs'])})"


def test_the_abi_has_the_interface_the_clients_use() -> None:
    signatures = {
        (e["type"], _signature(e)) for e in load_artifact().abi if e["type"] != "constructor"
    }
    expected = {
        ("function", "admin()"),
        ("function", "registerLog(string,address)"),
        ("function", "setSubmitter(bytes32,address)"),
        ("function", "submitterOf(bytes32)"),
        ("function", "verifierKeyOf(bytes32)"),
        ("function", "anchor(bytes32,uint64,bytes32,bytes32,bytes32[])"),
        ("function", "verifyConsistency(uint64,uint64,bytes32,bytes32,bytes32[])"),
        ("function", "MAX_PROOF_LENGTH()"),
        ("function", "anchorCount(bytes32)"),
        ("function", "anchorAt(bytes32,uint256)"),
        ("function", "latestAnchor(bytes32)"),
        ("function", "firstAnchorCovering(bytes32,uint64)"),
        ("event", "LogRegistered(bytes32,address,string)"),
        ("event", "SubmitterChanged(bytes32,address)"),
        ("event", "Anchored(bytes32,uint256,uint64,bytes32,bytes32)"),
        ("error", "NotAdmin()"),
        ("error", "NotSubmitter(address)"),
        ("error", "UnknownLog(bytes32)"),
        ("error", "SizeNotIncreasing(uint64,uint64)"),
        ("error", "NoAnchor()"),
        ("error", "AlreadyRegistered(bytes32)"),
        ("error", "ZeroSubmitter()"),
        ("error", "EmptyKey()"),
        ("error", "InconsistentAnchor()"),
        ("error", "ProofTooLong(uint256,uint256)"),
    }
    assert signatures == expected
    outputs = {e["name"]: e["outputs"] for e in load_artifact().abi if e["type"] == "function"}
    anchor_fields = ["treeSize", "rootHash", "checkpointHash", "blockTime", "blockNumber"]
    assert [c["name"] for c in outputs["anchorAt"][0]["components"]] == anchor_fields
    assert [o["type"] for o in outputs["firstAnchorCovering"][:2]] == ["bool", "uint256"]


def test_the_artifact_is_package_data_that_a_wheel_ships(tmp_path: Path) -> None:
    # The loader reads it from the gateway package, not from the source tree ...
    import gateway.anchor

    package = Path(gateway.anchor.__file__).resolve().parent
    assert ARTIFACT_PATH.resolve() == package / "artifacts" / "EvidenceAnchor.json"
    assert load_artifact(ARTIFACT_PATH).errors()
    # ... and a wheel built from the project's files carries it there.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("gateway", "notary", "court", "evidence_gateway"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("gateway/anchor/artifacts/EvidenceAnchor.json")
    assert shipped == ARTIFACT_PATH.read_bytes()


def test_the_selector_table_of_the_docs_is_the_artifacts() -> None:
    """docs/anchoring.md, "Reading the contract yourself": every function's selector and
    every event's topic0, as solc (methodIdentifiers) and keccak-256 (eventTopics) give
    them, and the court's hand-written selectors agree."""
    from eth_utils.crypto import keccak

    from court.verify import anchor as A

    data = json.loads(ARTIFACT_PATH.read_text())
    doc = (ROOT / "docs" / "anchoring.md").read_text()
    section = doc.split("### Reading the contract yourself", 1)[1]
    rows = dict(
        re.findall(r"^\| (?:event )?`([A-Za-z_]+\([^`]*\))` \| `(0x[0-9a-f]+)` \|$", section, re.M)
    )
    expected = {sig: "0x" + sel for sig, sel in data["methodIdentifiers"].items()}
    expected |= data["eventTopics"]
    assert rows == expected
    for signature, topic in data["eventTopics"].items():
        assert keccak(text=signature).hex() == topic.removeprefix("0x")
    for selector, signature in (
        (A.SELECTOR_ANCHOR_AT, "anchorAt(bytes32,uint256)"),
        (A.SELECTOR_ANCHOR_COUNT, "anchorCount(bytes32)"),
        (A.SELECTOR_FIRST_ANCHOR_COVERING, "firstAnchorCovering(bytes32,uint64)"),
        (A.SELECTOR_LATEST_ANCHOR, "latestAnchor(bytes32)"),
        (A.SELECTOR_VERIFIER_KEY_OF, "verifierKeyOf(bytes32)"),
    ):
        assert data["methodIdentifiers"][signature] == selector.hex()
    no_anchor = keccak(text="NoAnchor()")[:4].hex()
    assert f"`NoAnchor()` (error selector `0x{no_anchor}`)" in " ".join(section.split())


def test_the_docs_log_id_line_is_the_contracts_log_id(tmp_path: Path) -> None:
    """`printf %s "$(cat log.vkey)" | sha256sum`: the key line without its newline."""
    from court.verify.anchor import log_id_of

    vkey = "gateway.example/log+1234abcd+AeG6a1DHy3bIaxd1T8Pw0JhBP8ZNzUvbmZ8qu7q1O2Ak"
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    line = 'printf %s "$(cat log.vkey)" | sha256sum'
    assert line in (ROOT / "docs" / "anchoring.md").read_text()
    out = subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[0] == log_id_of(vkey).hex()

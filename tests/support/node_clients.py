"""Running the Node.js client scripts of tests/integration/node/ (grpc-js, as a bank's or a
court's IT team would): each prints one JSON object of what it saw."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_node_client"]

_ROOT = Path(__file__).resolve().parents[2]
_SCRIPTS = _ROOT / "tests" / "integration" / "node"


def run_node_client(
    script: str,
    *args: str,
    timeout: float = 120,
    context: Callable[[], str] = str,
) -> tuple[Any, str]:
    """Run ``node tests/integration/node/<script> ARGS`` from the repository; its JSON
    output and its standard error. Fails the test if Node.js is missing or the script
    exits non-zero (with its standard error and ``context()``, e.g. the gateway's log)."""
    node = shutil.which("node")
    assert node, "node is not on PATH: the project needs Node.js (see README.md)"
    result = subprocess.run(
        [node, str(_SCRIPTS / script), *args],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr + context()
    return json.loads(result.stdout), result.stderr

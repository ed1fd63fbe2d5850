"""Every command-line tool answers --version with the installed distribution's version."""

from __future__ import annotations

import importlib.metadata
import subprocess

import pytest

from tests.support.procs import BIN


@pytest.mark.parametrize("command", ["gateway", "notary", "court-verify"])
def test_each_cli_answers_version_from_the_package_metadata(command: str) -> None:
    result = subprocess.run(
        [str(BIN / command), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    version = importlib.metadata.version("court-evidence-gateway")
    assert result.stdout == f"{command} {version}\n"

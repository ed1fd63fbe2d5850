"""The README's `openssl ts -verify` recipe, run as written, on a real bundle.

The bundle comes from a ledger that is closed before this test runs: no gateway.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.support.bundle_builder import write
from tests.unit.court.bundles.conftest import Made

ROOT = Path(__file__).resolve().parents[4]


def recipe() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- openssl-recipe -->\n```sh\n(.*?)```", readme, re.S)
    assert found, "README.md must show the openssl recipe after <!-- openssl-recipe -->"
    return found.group(1)


def run(folder: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("openssl") and shutil.which("python3")
    return subprocess.run(
        ["bash", "-e", "-c", recipe()], cwd=folder, capture_output=True, text=True, timeout=60
    )


def test_the_readme_recipe_verifies_the_bundles_token(made: Made, tmp_path: Path) -> None:
    write(made.bundle, tmp_path / "bundle.json")
    shutil.copytree(made.trust, tmp_path / "trust")
    (tmp_path / "contract.pdf").write_bytes(made.documents[made.loan1[1].entry_id])
    done = run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Verification: OK" in done.stdout


def test_the_recipe_refuses_another_document(made: Made, tmp_path: Path) -> None:
    write(made.bundle, tmp_path / "bundle.json")
    shutil.copytree(made.trust, tmp_path / "trust")
    (tmp_path / "contract.pdf").write_bytes(b"another document")
    done = run(tmp_path)
    assert done.returncode != 0
    assert "Verification: OK" not in done.stdout

"""The README's Python example registers evidence against a real `gateway serve`
serving mutual TLS, as `dev-bank` registered by `notary institution add` (what
`make run` does on first start)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from court.verify.checkpoint import verify_checkpoint
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("readme-gateway")
    make_pki(folder / "data" / "pki")
    process = GatewayProcess(write_config(folder), folder, mtls=True)
    process.start()
    try:
        process.add_institution("dev-bank", "lender", folder / "data" / "institutions")
        yield process.address, folder / "data"
    finally:
        process.stop()


def test_readme_python_example_gets_a_receipt(gateway: tuple[str, Path]) -> None:
    address, data = gateway
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<<'PY'\n(.*?)\nPY\n", text, re.DOTALL)
    assert match, "README must hold the Python example between <<'PY' and PY"
    code = match.group(1).replace("127.0.0.1:50051", address).replace('"data/', f'"{data}/')
    assert code.count(str(data)) == 3  # the server's CA, dev-bank's key and certificate
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    entry_id, leaf_index, note = result.stdout.split(" ", 2)  # print() adds one "\n"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", entry_id)
    assert int(leaf_index) >= 1  # the first entries record dev-bank's registration
    vkey = (data / "pki" / "log.vkey").read_text().strip()
    checkpoint = verify_checkpoint(note.removesuffix("\n"), vkey)
    assert checkpoint.size > int(leaf_index)

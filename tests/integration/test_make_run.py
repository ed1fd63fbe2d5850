"""`make run`: mutual TLS, `dev-bank` registered on first start, its files and a
Python example printed, and the example gets a receipt; a second start reuses
them. The checkpoints are anchored on the local anvil node (`notary anchor now`
asks the gateway's AdminService for it at once), whose state persists across
starts, and the contract is deployed once. Ctrl-C (SIGINT to the process
group, as a terminal sends it) stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
_EXAMPLE_START = "Call the gateway with them from Python (run in the repository, with the venv):\n"


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_until_example(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    gateway = f"127.0.0.1:{free_port()}"
    anvil_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "MAKE"))}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                # The suite runs after `make test` set both up: never reinstall them from here
                # (a worktree sharing them through links would re-point them at itself).
                "-o",
                ".venv/.installed-stamp",
                "-o",
                "node_modules/.installed",
                "run",
                f"DATA_DIR={data}",
                f"GATEWAY_LISTEN={gateway}",
                f"NOTARY_LISTEN=127.0.0.1:{free_port()}",
                f"ANVIL_PORT={anvil_port}",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            # As from a terminal: a suite started in the background by a non-interactive
            # shell has SIGINT ignored, which make and its recipe's shell would inherit
            # (and then neither reacts to Ctrl-C, nor can the recipe trap it).
            preexec_fn=_sigint_as_in_a_terminal,
        )
    deadline = time.monotonic() + 180
    while True:
        text = log.read_text(errors="replace")
        if _EXAMPLE_START in text and "notary anchor status --gateway" in text:
            return proc, gateway, text
        if proc.poll() is not None or time.monotonic() > deadline:
            _interrupt(proc)
            raise AssertionError(f"make run did not print the example:\n{text}")
        time.sleep(0.2)


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise


def _notary(*args: str) -> str:
    result = subprocess.run(
        [str(ROOT / ".venv/bin/notary"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _anchored_size(data: Path, gateway: str) -> int:
    status = _notary("anchor", "status", "--gateway", gateway, "--pki", str(data / "pki"))
    found = re.search(r"anchored size +(\d+)", status)
    assert found, status
    return int(found.group(1))


def _example(text: str) -> str:
    lines = text.split(_EXAMPLE_START, 1)[1].splitlines()
    code = []
    for line in lines:
        if not line.startswith("  "):
            break
        code.append(line[2:])
    return "\n".join(code)


def _receipt(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_serves_mutual_tls_as_dev_bank(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, gateway, text = _run_until_example(data, tmp_path / "run-1.log")
    try:
        assert f"gRPC listening on {gateway} (mutual TLS" in text
        assert "registered dev-bank (lender)" in text
        cert, key = data / "institutions" / "dev-bank.pem", data / "institutions" / "dev-bank.key"
        assert f"certificate  {cert}" in text and f"key          {key}" in text
        assert (key.stat().st_mode & 0o777) == 0o600
        code = _example(text)
        assert f'"{gateway}"' in code and str(cert) in code
        entry_id, leaf_index, _ = _receipt(code).split(" ", 2)
        # Earlier entries record dev-bank's registration (kind institution_changed).
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", entry_id) and int(leaf_index) >= 1
        # The contract was deployed on the local chain, and the receipt gets anchored.
        assert "contract deployed at 0x" in text
        contract = (data / "anchor" / "contract").read_text().strip()
        _notary("anchor", "now", "--gateway", gateway, "--pki", str(data / "pki"))
        anchored = _anchored_size(data, gateway)
        assert anchored >= int(leaf_index) + 1
    finally:
        assert _interrupt(proc) != 0  # make reports the interrupted recipe
    # A second start registers nothing new and prints the same files and example.
    proc, gateway, text = _run_until_example(data, tmp_path / "run-2.log")
    try:
        assert "registered dev-bank" not in text
        assert "dev-bank  role lender  status active" in text
        _, second_index, _ = _receipt(_example(text)).split(" ", 2)
        assert int(second_index) == int(leaf_index) + 1  # nothing registered in between
        # The chain kept its state: the same contract, and what was anchored stays anchored.
        assert f"contract {contract} (from {data / 'anchor' / 'contract'}) already" in text
        assert _anchored_size(data, gateway) >= anchored
        _notary("anchor", "now", "--gateway", gateway, "--pki", str(data / "pki"))
        assert _anchored_size(data, gateway) >= int(second_index) + 1
    finally:
        _interrupt(proc)

"""A real anvil chain node for tests: start, stop, restart, snapshot, reorg.

``Anvil`` runs ``node_modules/.bin/anvil`` (pinned in package.json) on a free
loopback port with its state in a file of its own temporary folder, so
:meth:`Anvil.stop` then :meth:`Anvil.start` brings the same chain back on the
same port (the "chain down" case). A missing binary is an error, not a skip.
On exit the process is killed and the folder removed.

Funded keys: anvil's ten development accounts (its default mnemonic), as
``dev_accounts``; :meth:`Anvil.new_account` makes a fresh key and funds it
with ``anvil_setBalance``.

The ``anvil`` fixture (tests/conftest.py) gives each test its own::

    with Anvil() as chain:
        client = ChainClient(chain.rpc_url, account=chain.dev_accounts[0])
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from gateway.anchor.ethlibs import Account, LocalAccount
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
DEV_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's default
DEV_ACCOUNTS = 10
_START_TIMEOUT = 30.0


def _dev_accounts() -> list[LocalAccount]:
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(DEV_ACCOUNTS)
    ]


class AnvilError(RuntimeError):
    """anvil is missing, did not start, or refused a request."""


class Anvil:
    """One anvil process (see the module docstring)."""

    def __init__(
        self,
        *,
        block_time: float | None = None,
        no_mining: bool = False,
        chain_id: int | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        if not ANVIL.exists():
            raise AnvilError(f"{ANVIL} is missing: run `npm ci` (or `make setup`)")
        self.port = free_port()
        self.rpc_url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="anvil-"))
        self.state_file = self.folder / "state.json"
        self.log_file = self.folder / "anvil.log"
        self._args = [str(ANVIL), "--port", str(self.port), "--host", "127.0.0.1", "--silent"]
        self._args += ["--state", str(self.state_file)]
        # anvil's state cache goes under our folder, not ~/.foundry/anvil/tmp
        self._args += ["--cache-path", str(self.folder / "cache")]
        if block_time is not None:
            self._args += ["--block-time", f"{block_time:g}"]
        if no_mining:
            self._args.append("--no-mining")
        if chain_id is not None:
            self._args += ["--chain-id", str(chain_id)]
        self._args += list(extra)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ids = itertools.count(1)
        self.dev_accounts = _dev_accounts()

    # ------------------------------------------------------------------ process

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start anvil (again: same port, same state file) and wait until it answers."""
        if self.running:
            raise AnvilError("anvil is already running")
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise AnvilError(
                    f"anvil exited with {self._proc.returncode}: {self.log_file.read_text()}"
                )
            try:
                self.rpc("eth_chainId")
                return
            except (OSError, AnvilError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise AnvilError(f"anvil did not answer in {_START_TIMEOUT:g} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop anvil (SIGTERM: it writes its state file); the port goes quiet."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Anvil:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ JSON-RPC

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; an error answer raises :class:`AnvilError`."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        ).encode()
        request = urllib.request.Request(
            self.rpc_url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise AnvilError(f"{method}: {answer['error']}")
        return answer["result"]

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def snapshot(self) -> str:
        """An id to :meth:`revert` to (the chain state and blocks as they are now)."""
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if self.rpc("evm_revert", snapshot_id) is not True:
            raise AnvilError(f"evm_revert {snapshot_id} failed")

    def reorg(self, depth: int) -> None:
        """Replace the last ``depth`` blocks by new empty ones (``anvil_reorg``): their
        transactions are gone from the chain, the head number stays the same."""
        self.rpc("anvil_reorg", depth, [])

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", enabled)

    def drop_transaction(self, tx_hash: bytes) -> None:
        """Remove a pending transaction from anvil's pool."""
        self.rpc("anvil_dropTransaction", "0x" + tx_hash.hex())

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", address, hex(wei))

    def new_account(self, wei: int = 10**20) -> LocalAccount:
        """A fresh key with ``wei`` on it (100 ether by default)."""
        account: LocalAccount = Account.create()
        self.set_balance(account.address, wei)
        return account


def wait_for(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g} s")
        time.sleep(0.05)


__all__ = ["ANVIL", "DEV_MNEMONIC", "Anvil", "AnvilError", "wait_for"]

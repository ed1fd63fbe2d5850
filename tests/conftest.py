"""Session-wide fixtures: one development PKI per key type, made by `notary pki init`;
and the check that the suite leaves no process running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from notary.pki import init_pki
from tests.support.anvil import Anvil
from tests.support.procs import (
    become_subreaper,
    descendants,
    kill_all,
    reap_zombies,
    stop_resource_tracker,
    wait_gone,
)

# CI (CI=true) runs a fixed set of examples, so a verdict never depends on the
# draw; local runs keep exploring new examples and print how to reproduce them.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail the session if a process a test started is still running at its end.

    pytest becomes the subreaper of its descendants, so a process whose parent
    was killed (a gateway's TSA worker after SIGKILL) is still found here
    instead of escaping to init. Leftovers are listed with their command
    lines, then killed.
    """
    become_subreaper()
    before = set(descendants(os.getpid()))
    yield
    stop_resource_tracker()  # pytest's own, if a test used multiprocessing in-process
    new = {pid: cmd for pid, cmd in descendants(os.getpid()).items() if pid not in before}
    left = wait_gone(new, timeout=10.0)
    kill_all(left)
    wait_gone(left, timeout=5.0)
    reap_zombies()
    if left:
        listing = "\n".join(f"  pid {pid}: {cmd}" for pid, cmd in sorted(left.items()))
        pytest.fail(f"the tests left {len(left)} process(es) running:\n{listing}")


@pytest.fixture(scope="session")
def pki_p256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki-p256") / "pki"
    init_pki(directory, key_type="p256")
    return directory


@pytest.fixture(scope="session")
def pki_rsa3072(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki-rsa") / "pki"
    init_pki(directory, key_type="rsa3072")
    return directory


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    """A fresh anvil chain node on a free port for one test (tests/support/anvil.py)."""
    with Anvil() as chain:
        yield chain

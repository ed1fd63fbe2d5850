"""Start real server processes on free loopback ports for integration tests,
and find the processes a test left behind (from ``/proc``: Linux only).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def notary_server(pki: Path, state_dir: Path, *extra: str) -> Iterator[str]:
    """`notary serve` on a free port; yields its base URL; stops it afterwards."""
    port = free_port()
    log = state_dir.parent / f"notary-{port}.log"
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "notary"),
                "serve",
                "--pki",
                str(pki),
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state_dir),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"notary serve exited {proc.returncode}: {log.read_text()}")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"notary serve not healthy: {log.read_text()}") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ process tree

_PR_SET_CHILD_SUBREAPER = 36


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def alive(pid: int) -> bool:
    """Running (a zombie has ended: it only waits for its parent to read its status)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: pid -> command line."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[0] != "Z":
                children.setdefault(stat[1], []).append(int(entry))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found[pid] = command_line(pid)
            todo += children.get(pid, [])
    return found


def wait_gone(pids: dict[int, str], timeout: float) -> dict[int, str]:
    """Wait up to ``timeout`` seconds for ``pids`` to end; return those still running."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: cmd for pid, cmd in pids.items() if alive(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def become_subreaper() -> None:
    """Orphans among this process's descendants are re-parented here, not to init,
    so :func:`descendants` still finds a process whose parent was killed."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_zombies(pids: Iterable[int] | None = None) -> None:
    """Collect the exit status of this process's ended children nobody waits for
    (orphans it inherited as a subreaper), all of them or those of ``pids``."""
    candidates = [int(p) for p in os.listdir("/proc") if p.isdigit()] if pids is None else pids
    for pid in candidates:
        stat = _stat(pid)
        if stat is not None and stat[0] == "Z" and stat[1] == os.getpid():
            with suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def stop_resource_tracker() -> None:
    """End this process's multiprocessing resource tracker, if one was started.

    It would end when this process exits (its pipe closes); stopping it here
    lets a check for leftover processes run before that.
    """
    from multiprocessing import resource_tracker

    resource_tracker._resource_tracker._stop()  # the stdlib's own shutdown of it


def kill_all(pids: dict[int, str]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

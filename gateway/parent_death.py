"""Helper processes that end when the process that started them dies.

A worker process (the TSA's signing workers) holds the TSA key; if the
gateway is killed (SIGKILL, OOM killer) the worker must not live on as an
orphan. :func:`die_with_parent`, run first thing in the worker, asks the
Linux kernel to SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG)``)
and then checks that the parent is still the process that started it: a
parent that died before the request took effect would otherwise go
unnoticed.

The kernel sends that signal when the *thread* that created the worker
exits, not only the process: start such workers from a thread that lives as
long as they should (see ``ProcessEngineTokenSource``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Be killed when the parent dies; exit at once if ``parent_pid`` is no longer the parent.

    On other systems than Linux only the second check is made.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    if os.getppid() != parent_pid:
        # The parent died before prctl: nobody would ever ask this worker for anything.
        os._exit(1)

"""Half of a large piece of work in a forked child, its result pickled back.

Only in a single-threaded process (the command line): forking beside threads (the
daemon, the console) is unsafe, and there the work is done in this process. The
child never raises: when it fails, :func:`result` says so and the caller does the
work itself (and raises its error, if any, there).
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Child:
    pid: int
    fd: int  # the read end of the pipe the result comes through


def start(work: Callable[[], Any]) -> Child | None:
    """``work()`` in a forked child; None: not forked (threads, or no fork here)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child: leave without running the parent's exits
        code = 1
        try:
            os.close(read)
            data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return Child(pid, read)


def result(child: Child) -> tuple[bool, Any]:
    """(True, what ``work()`` returned), or (False, None) if the child failed."""
    with os.fdopen(child.fd, "rb") as pipe:  # read all first: the child waits to write
        data = pipe.read()
    _, status = os.waitpid(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return False, None
    return True, pickle.loads(data)

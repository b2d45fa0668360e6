"""Jobs for parse-sandbox tests: module-level functions a worker process can import."""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
import resource
import signal
import sys
import tempfile
import time


def echo_after(value: object, seconds: float) -> tuple[object, int]:
    """*value* and the worker's pid, after *seconds*."""
    time.sleep(seconds)
    return value, os.getpid()


def worker_facts() -> dict[str, object]:
    """What the worker sees: its limits, cwd and temp dir."""
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "as": resource.getrlimit(resource.RLIMIT_AS),
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
        "cpu_used": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "cwd": os.getcwd(),
        "tmp": tempfile.gettempdir(),
        "env": dict(os.environ),
        "frozen": gc.get_freeze_count(),
        "readers_loaded": "parsers.word" in sys.modules and "ingest.match.mailjob" in sys.modules,
        "forked": getattr(sys.modules.get("ingest.match.sandbox_worker"), "FORKED", False),
        "fds": _open_files(),
        "log_handlers": len(logging.getLogger().handlers),
        "stderr_fd": sys.stderr.fileno(),
        "faulthandler": faulthandler.is_enabled(),
        "python_signal_handlers": sorted(
            s.name for s in signal.valid_signals() if callable(_handler(s))
        ),
    }


def _handler(sig: signal.Signals) -> object:
    try:
        return signal.getsignal(sig)
    except (OSError, ValueError):
        return None


def _open_files() -> dict[int, str]:
    """This process' open descriptors and what each points to."""
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            continue
    return out


def allocate(mb: int) -> int:
    """Hold *mb* MB (fails under a smaller RLIMIT_AS)."""
    return len(bytearray(mb * 1024 * 1024))


def spin(seconds: float) -> int:
    """Burn CPU for *seconds* of wall time."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def shout(text: str) -> str:
    """Write to stdout and stderr (must not corrupt the result stream), then answer."""
    print(text)
    print(text, file=sys.stderr)
    return "answered"


def digest_of(data: bytes) -> tuple[str, int, str]:
    """Type name, length and sha256 of what the job received."""
    import hashlib

    return type(data).__name__, len(data), hashlib.sha256(data).hexdigest()


def digest_then_sleep(data: bytes, seconds: float) -> int:
    """Hold *data*, then wait (killed or timed out mid-job by the tests)."""
    time.sleep(seconds)
    return len(data)


def allocate_after_payload(data: bytes, mb: int) -> int:
    """Receive *data*, then hold *mb* MB (stopped by the worker's memory cap)."""
    return len(data) + allocate(mb)


def note_then_echo(path: str, value: object) -> tuple[object, int]:
    """Append *value* to the file at *path* (one line per run), then answer as echo_after."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{value}\n")
    return value, os.getpid()


def allocate_after(seconds: float, mb: int) -> int:
    """Wait *seconds*, then hold *mb* MB (a job that fails its memory cap late)."""
    time.sleep(seconds)
    return allocate(mb)

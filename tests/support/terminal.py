"""Run a command with one of its output streams on a pseudo-terminal (as a clerk's shell)."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run_on_tty(
    args: Sequence[str], stream: str, cwd: Path | None = None, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """Run *args* with *stream* ("stdout" or "stderr") on a pty, the other one piped.

    Returns the finished process (its piped stream captured) and what the pty showed.
    """
    leader, follower = pty.openpty()
    other = "stderr" if stream == "stdout" else "stdout"
    done = subprocess.run(
        list(args),
        **{stream: follower, other: subprocess.PIPE},  # type: ignore[call-overload]
        cwd=cwd,
        timeout=timeout,
    )
    os.close(follower)
    shown = b""
    try:
        while chunk := os.read(leader, 4096):
            shown += chunk
    except OSError:  # EIO once the child side is closed and drained
        pass
    os.close(leader)
    return done, shown

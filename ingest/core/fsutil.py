"""Atomic, durable file writes: the one helper every writer of data_dir uses."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TMP_PREFIX = ".tmp-"


def atomic_write(path: Path, data: bytes, work_dir: Path | None = None) -> None:
    """Write *data* to *path* so a reader sees the old file or the whole new one.

    The bytes go to a temporary file (in *work_dir*, default the target's folder;
    it must be on the same file system), are fsynced, renamed over *path*, and the
    folder is fsynced, so the new file survives a power cut. A failed write leaves
    no temporary file behind; a killed process may (named ``.tmp-*``).
    """
    tmp = (work_dir or path.parent) / f"{TMP_PREFIX}{secrets.token_hex(8)}-{path.name}"
    # Mode 0o666 less the umask, like a plain open() (mkstemp would make it 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in *folder* durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

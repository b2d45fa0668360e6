"""The raw archive: every message and attachment stored byte-for-byte by SHA-256.

Layout under ``data_dir``: ``raw/ab/abcdef….eml`` for messages and
``files/ab/abcdef…`` for decoded attachment payloads. Names from mail are
never used as paths. A raw message is written atomically and durably (temp file,
fsync, rename, fsync of the folder) before anything else happens to it, so a
crash leaves either the whole file or nothing. Attachment payloads are derived
from the raw message and are not fsynced; a poll stores only those the raw
message does not hold as they are (see :mod:`ingest.store.files`). Writing the
same content twice is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import secrets
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ingest.core.fsutil import TMP_PREFIX, atomic_write, fsync_dir


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_path(data_dir: Path, digest: str) -> Path:
    return data_dir / "raw" / digest[:2] / f"{digest}.eml"


def file_path(data_dir: Path, digest: str) -> Path:
    return data_dir / file_rel(digest)


def file_rel(digest: str) -> str:
    """An attachment file's path relative to data_dir, as stored in the database."""
    return f"files/{digest[:2]}/{digest}"


def archive_raw(
    data_dir: Path, raw: bytes, durable: bool = True, digest: str | None = None
) -> tuple[str, Path]:
    """Store a message's bytes; returns (sha256, path). Idempotent.

    ``durable=False`` (a poll's batch): written whole (temp file, rename) but not
    fsynced; :func:`make_durable` must run before anything refers to the file.
    *digest*: the bytes' sha256, when the caller has it already.
    """
    digest = digest or sha256(raw)
    path = raw_path(data_dir, digest)
    _write_once(path, raw, durable=durable, atomic=True)
    return digest, path


def make_durable(data_dir: Path, paths: Iterable[Path]) -> None:
    """Flush files written with ``durable=False`` (and their folders) to disk.

    One ``syncfs`` of data_dir's file system for the whole batch where Linux has
    it (100 small files: ~20 ms against ~1 s for an fsync of each file and
    folder); otherwise each file and each folder is fsynced.
    """
    if _syncfs(data_dir):
        return
    folders = set()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        folders.add(path.parent)
    for folder in sorted(folders):
        fsync_dir(folder)


def _syncfs(data_dir: Path) -> bool:
    """``syncfs(2)`` on data_dir's file system; False where it is not available."""
    libc = _libc()
    if libc is None:
        return False
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(data_dir))
    finally:
        os.close(fd)
    return True


@functools.cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "syncfs") else None
    except OSError:
        return None


def archive_file(
    data_dir: Path, payload: bytes, digest: str | None = None, atomic: bool = False
) -> tuple[str, Path]:
    """Store an attachment's decoded payload; returns (sha256, path). Idempotent.

    Not fsynced: an attachment is derived from its archived raw message (which is
    durable). Written in place by a poll, whose readers come after its commit (a torn
    file has the wrong size and is written again); *atomic* (temp file, rename) where
    another process may read it at once (a copy written on demand).
    """
    digest = digest or sha256(payload)
    path = file_path(data_dir, digest)
    _write_once(path, payload, durable=False, atomic=atomic)
    return digest, path


def clean_temp(data_dir: Path) -> int:
    """Remove half-written raw and attachment files a killed process left behind (call
    under the poll lock)."""
    removed = 0
    for folder in ("raw", "files"):
        for leftover in (data_dir / folder / ".tmp").glob(f"{TMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def read_raw(data_dir: Path, digest: str) -> bytes:
    return raw_path(data_dir, digest).read_bytes()


def _write_once(path: Path, data: bytes, durable: bool = True, atomic: bool = False) -> None:
    # Plain os calls on str paths, folders made only when a write finds them missing:
    # a cold poll writes ~1,000 files here, where pathlib's checks cost more than the writes.
    target = os.fspath(path)
    try:
        if os.stat(target).st_size == len(data):
            return
    except OSError:
        pass  # not there yet (or not readable: the write below says why)
    if not durable and not atomic:
        # A torn write leaves a short file, which the size check above rewrites.
        _in_folder(target, lambda: _write_file(target, data, os.O_TRUNC))
        return
    # One folder for work files, so that a killed process's leftovers are found at once
    # (path is raw/ab/<digest>.eml or files/ab/<digest>; the work folder is raw/.tmp or
    # files/.tmp, on the same file system).
    work = path.parent.parent / ".tmp"
    if durable:
        work.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, data, work_dir=work)
        return
    tmp = os.path.join(work, f"{TMP_PREFIX}{secrets.token_hex(8)}-{path.name}")
    try:
        _in_folder(tmp, lambda: _write_file(tmp, data, os.O_EXCL))
        _in_folder(target, lambda: os.replace(tmp, target))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _in_folder(path: str, write: Callable[[], None]) -> None:
    """*write*, after making *path*'s folder when the first try finds it missing."""
    try:
        write()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write()


def _write_file(path: str, data: bytes, flag: int) -> None:
    # Mode 0o666 less the umask, like a plain open().
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flag, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)

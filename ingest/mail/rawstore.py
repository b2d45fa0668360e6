"""The raw archive: every message and attachment stored byte-for-byte by SHA-256.

Layout under ``data_dir``: ``raw/ab/abcdef….eml`` for messages and
``files/ab/abcdef…`` for decoded attachment payloads. Names from mail are
never used as paths. A raw message is written atomically and durably (temp file,
fsync, rename, fsync of the folder) before anything else happens to it, so a
crash leaves either the whole file or nothing. Attachment payloads are derived
from the raw message and are simply written in place. Writing the same content
twice is a no-op.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ingest.core.fsutil import TMP_PREFIX, atomic_write


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_path(data_dir: Path, digest: str) -> Path:
    return data_dir / "raw" / digest[:2] / f"{digest}.eml"


def file_path(data_dir: Path, digest: str) -> Path:
    return data_dir / "files" / digest[:2] / digest


def archive_raw(data_dir: Path, raw: bytes) -> tuple[str, Path]:
    """Store a message's bytes; returns (sha256, path). Idempotent."""
    digest = sha256(raw)
    path = raw_path(data_dir, digest)
    _write_once(path, raw)
    return digest, path


def archive_file(data_dir: Path, payload: bytes, digest: str | None = None) -> tuple[str, Path]:
    """Store an attachment's decoded payload; returns (sha256, path). Idempotent.

    Written in place and not fsynced: an attachment is derived from its archived raw
    message (which is durable), and ``reparse`` writes it again.
    """
    digest = digest or sha256(payload)
    path = file_path(data_dir, digest)
    _write_once(path, payload, durable=False)
    return digest, path


def clean_temp(data_dir: Path) -> int:
    """Remove half-written raw files a killed poller left behind (call under the poll lock)."""
    removed = 0
    for leftover in (data_dir / "raw" / ".tmp").glob(f"{TMP_PREFIX}*"):
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def read_raw(data_dir: Path, digest: str) -> bytes:
    return raw_path(data_dir, digest).read_bytes()


def _write_once(path: Path, data: bytes, durable: bool = True) -> None:
    if path.exists() and path.stat().st_size == len(data):
        return
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    if not durable:
        # A torn write leaves a short file, which the size check above rewrites.
        path.write_bytes(data)
        return
    # One folder for work files, so that a killed poller's leftovers are found at once
    # (path is raw/ab/<digest>.eml; the work folder is raw/.tmp on the same file system).
    work = path.parent.parent / ".tmp"
    work.mkdir(exist_ok=True)
    atomic_write(path, data, work_dir=work)

"""atomic_write: a reader sees the old file or the whole new one; no work file is left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.core.fsutil import TMP_PREFIX, atomic_write


def test_replaces_the_file_whole_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "报送情况.xlsx"
    target.write_bytes(b"old")
    atomic_write(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["报送情况.xlsx"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_work_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_work_files_can_live_in_their_own_folder(tmp_path: Path) -> None:
    work = tmp_path / ".tmp"
    work.mkdir()
    atomic_write(tmp_path / "a.eml", b"x", work_dir=work)
    assert (tmp_path / "a.eml").read_bytes() == b"x" and list(work.iterdir()) == []
    assert TMP_PREFIX.startswith(".")  # hidden from the clerk's file manager

"""Machine failures, real ones where they can be made here, in the clerk's words."""

from __future__ import annotations

import errno
import socket
import sqlite3
import ssl
from pathlib import Path

import pytest

from ingest.core.failures import DB_DAMAGED, DB_LOCKED, describe_failure


def test_a_real_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("create table t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as caught:
        other.execute("insert into t values (1)")
    assert describe_failure(caught.value) == DB_LOCKED
    holder.execute("ROLLBACK")


def test_a_real_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(path).execute("select * from sqlite_master")
    assert describe_failure(caught.value) == DB_DAMAGED


def test_real_os_errors_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError) as caught:
        (tmp_path / "f" / "sub").mkdir()
    assert describe_failure(caught.value) == (
        f"路径中有一段不是目录（{tmp_path / 'f' / 'sub'}）：请检查配置中的路径"
    )
    with pytest.raises(OSError) as caught:
        (tmp_path).read_text()
    assert (describe_failure(caught.value) or "").startswith("这里要的是文件，却是一个目录")


@pytest.mark.parametrize(
    ("exc", "starts"),
    [
        (sqlite3.OperationalError("database or disk is full"), "磁盘空间已满"),
        (OSError(errno.ENOSPC, "No space left on device", "/d/raw/x"), "磁盘空间已满（/d/raw/x）"),
        (PermissionError(errno.EACCES, "Permission denied", "/d"), "没有权限（/d）"),
        (OSError(errno.EROFS, "Read-only file system", "/d"), "文件系统是只读的（/d）"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "数据库是只读的"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "服务器拒绝连接"),
        (socket.gaierror(-2, "Name or service not known"), "找不到服务器"),
        (ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]"), "与服务器建立加密连接失败"),
    ],
)
def test_known_failures(exc: BaseException, starts: str) -> None:
    text = describe_failure(exc)
    assert text is not None and text.startswith(starts)
    assert "Errno" not in text and "denied" not in text


def test_bugs_are_not_described() -> None:
    assert describe_failure(ValueError("x")) is None
    assert describe_failure(sqlite3.OperationalError("no such column: foo")) is None

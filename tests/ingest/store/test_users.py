"""Accounts, sessions and failed-login counts (``data_dir/users.db``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.store.users import (
    IDLE_LIMIT,
    AccountError,
    add_user,
    authenticate,
    clear_failures,
    drop_expired,
    end_session,
    failures,
    find_session,
    list_users,
    open_users,
    record_failure,
    remove_user,
    start_session,
)


def test_password_is_stored_only_as_scrypt(tmp_path: Path) -> None:
    conn = open_users(tmp_path)
    add_user(conn, "张三", "clerk", "correct horse")
    stored = conn.execute("select password from users").fetchone()[0]
    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    assert b"correct horse" not in (tmp_path / "users.db").read_bytes()
    assert authenticate(conn, "张三", "correct horse") is not None
    assert authenticate(conn, "张三", "correct hors") is None
    assert authenticate(conn, "nobody", "correct horse") is None


@pytest.mark.parametrize(
    "name,role,password,words",
    [
        ("张 三", "clerk", "long enough", "账号名"),
        ("../x", "clerk", "long enough", "账号名"),
        ("张三", "admin", "long enough", "角色"),
        ("张三", "clerk", "short", "密码太短"),
    ],
)
def test_bad_accounts_are_refused(
    tmp_path: Path, name: str, role: str, password: str, words: str
) -> None:
    with pytest.raises(AccountError, match=words):
        add_user(open_users(tmp_path), name, role, password)


def test_list_and_remove(tmp_path: Path) -> None:
    conn = open_users(tmp_path)
    add_user(conn, "张三", "clerk", "password-1")
    add_user(conn, "领导", "viewer", "password-2")
    with pytest.raises(AccountError, match="已存在"):
        add_user(conn, "张三", "viewer", "password-3")
    assert [(a.name, a.role.value) for a in list_users(conn)] == [
        ("张三", "clerk"),
        ("领导", "viewer"),
    ]
    remove_user(conn, "领导")
    assert [a.name for a in list_users(conn)] == ["张三"]
    with pytest.raises(AccountError, match="没有账号"):
        remove_user(conn, "领导")


def test_sessions_expire_when_idle_and_end_at_logout(tmp_path: Path) -> None:
    conn = open_users(tmp_path)
    account = add_user(conn, "张三", "clerk", "password-1")
    token, session = start_session(conn, account)
    stored = conn.execute("select token_hash from sessions").fetchone()[0]
    assert token not in stored and len(stored) == 64  # only the hash is kept
    now = datetime.now(UTC)
    assert (
        find_session(conn, token, now + timedelta(hours=7)) == session
    )  # touched: idle again from here
    assert find_session(conn, token, now + timedelta(hours=7) + IDLE_LIMIT - timedelta(minutes=5))
    assert find_session(conn, token, now + timedelta(hours=25)) is None  # absolute limit
    token2, _ = start_session(conn, account)
    end_session(conn, token2)
    assert find_session(conn, token2) is None
    token3, _ = start_session(conn, account)
    assert drop_expired(conn, now + timedelta(hours=9)) == 1
    assert find_session(conn, token3) is None


def test_failures_count_per_name_and_address(tmp_path: Path) -> None:
    conn = open_users(tmp_path)
    for _ in range(3):
        record_failure(conn, "张三", "10.0.0.5")
    record_failure(conn, "张三", "10.0.0.6")
    assert failures(conn, "张三", "10.0.0.5") == 3 and failures(conn, "张三", "10.0.0.6") == 1
    clear_failures(conn, "张三", "10.0.0.5")
    assert failures(conn, "张三", "10.0.0.5") == 0 and failures(conn, "张三", "10.0.0.6") == 1

"""The web console's accounts, sessions and failed-login counts.

They live in their own SQLite file, ``data_dir/users.db``, not in ``kaohe.db``:
a session touch or a failed login is a write, and the console must never wait
for the poller's write lock (nor make the poller wait). Passwords are hashed
with scrypt (memory-hard, stdlib); a session token is random and only its
SHA-256 is stored, so a copy of the file opens no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

FILE_NAME = "users.db"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MB, ~50 ms per check
MIN_PASSWORD = 8
IDLE_LIMIT = timedelta(hours=8)
ABSOLUTE_LIMIT = timedelta(hours=24)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often
FORGIVE = timedelta(days=1)  # failed logins older than this no longer slow anyone down
_NAME = re.compile(r"^[^\s/\\:]{1,32}$")

_SCHEMA = """
create table if not exists users (
    name text primary key, role text not null, password text not null, created_at text not null);
create table if not exists sessions (
    token_hash text primary key, user text not null references users(name) on delete cascade,
    csrf text not null, created_at text not null, last_seen text not null);
create table if not exists login_failures (
    user text not null, ip text not null, failures integer not null, last_at text not null,
    primary key (user, ip));
"""


class AccountError(Exception):
    """Raised for a bad account name, role or password, or an unknown account (Chinese)."""


class Role(StrEnum):
    CLERK = "clerk"  # reads and acts
    VIEWER = "viewer"  # reads only

    @property
    def label(self) -> str:
        return "经办人" if self is Role.CLERK else "只读"


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    csrf: str


def users_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def open_users(data_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) ``data_dir/users.db`` in WAL mode."""
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(users_path(data_dir)), timeout=30, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(_SCHEMA)
    return conn


def _now() -> datetime:
    return datetime.now(UTC)


def _text(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=32)


# --------------------------------------------------------------------------- accounts


def add_user(conn: sqlite3.Connection, name: str, role: str, password: str) -> Account:
    """Create an account (or :class:`AccountError`: bad name/role, short password, taken)."""
    if not _NAME.match(name):
        raise AccountError(f"账号名“{name}”无效：1–32 个字符，不能有空格、/、\\ 或 :")
    if role not in {r.value for r in Role}:
        raise AccountError(f"角色只能是 clerk（经办人）或 viewer（只读），而不是 {role}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码太短：至少 {MIN_PASSWORD} 个字符")
    now = _now()
    try:
        conn.execute(
            "insert into users (name, role, password, created_at) values (?, ?, ?, ?)",
            [name, role, hash_password(password), _text(now)],
        )
    except sqlite3.IntegrityError:
        raise AccountError(f"账号“{name}”已存在；如要改密码，请先删除再添加") from None
    return Account(name, Role(role), now)


def list_users(conn: sqlite3.Connection) -> list[Account]:
    rows = conn.execute("select name, role, created_at from users order by created_at, name")
    return [Account(n, Role(r), datetime.fromisoformat(c)) for n, r, c in rows]


def remove_user(conn: sqlite3.Connection, name: str) -> None:
    """Delete the account and end its sessions."""
    with conn:
        conn.execute("delete from sessions where user = ?", [name])
        gone = conn.execute("delete from users where name = ?", [name]).rowcount
    if not gone:
        raise AccountError(f"没有账号“{name}”（用 kaohe user list 查看已有账号）")


def has_users(conn: sqlite3.Connection) -> bool:
    return conn.execute("select 1 from users limit 1").fetchone() is not None


def authenticate(conn: sqlite3.Connection, name: str, password: str) -> Account | None:
    """The account when *password* is right; None otherwise (same work either way)."""
    return check_login(login_secret(conn, name), password)


def login_secret(conn: sqlite3.Connection, name: str) -> tuple[Account, str] | None:
    """The account and its stored hash (read under a lock; check it outside)."""
    row = conn.execute(
        "select role, password, created_at from users where name = ?", [name]
    ).fetchone()
    if row is None:
        return None
    return Account(name, Role(row[0]), datetime.fromisoformat(row[2])), row[1]


def check_login(found: tuple[Account, str] | None, password: str) -> Account | None:
    """Check *password* against :func:`login_secret`'s answer (the slow, scrypt part)."""
    if found is None:
        check_password(password, _dummy_hash())  # same cost: no account probing by timing
        return None
    return found[0] if check_password(password, found[1]) else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


# --------------------------------------------------------------------------- sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: sqlite3.Connection, account: Account) -> tuple[str, Session]:
    """A new session: returns the cookie token (stored only hashed) and the session."""
    token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _text(_now())
    with conn:
        conn.execute(
            "insert into sessions (token_hash, user, csrf, created_at, last_seen) "
            "values (?, ?, ?, ?, ?)",
            [_token_hash(token), account.name, csrf, now, now],
        )
    return token, Session(account.name, account.role, csrf)


def find_session(
    conn: sqlite3.Connection, token: str, now: datetime | None = None
) -> Session | None:
    """The live session of *token*; an expired one is deleted. Touches ``last_seen``."""
    now = now or _now()
    key = _token_hash(token)
    row = conn.execute(
        "select s.user, u.role, s.csrf, s.created_at, s.last_seen from sessions s "
        "join users u on u.name = s.user where s.token_hash = ?",
        [key],
    ).fetchone()
    if row is None:
        return None
    user, role, csrf, created, seen = row
    last_seen = datetime.fromisoformat(seen)
    if now - last_seen > IDLE_LIMIT or now - datetime.fromisoformat(created) > ABSOLUTE_LIMIT:
        end_session(conn, token)
        return None
    if now - last_seen > TOUCH_EVERY:
        with conn:
            conn.execute(
                "update sessions set last_seen = ? where token_hash = ?", [_text(now), key]
            )
    return Session(user, Role(role), csrf)


def end_session(conn: sqlite3.Connection, token: str) -> None:
    with conn:
        conn.execute("delete from sessions where token_hash = ?", [_token_hash(token)])


def drop_expired(conn: sqlite3.Connection, now: datetime | None = None) -> int:
    """Delete sessions past their idle or absolute limit; returns how many."""
    now = now or _now()
    with conn:
        return conn.execute(
            "delete from sessions where last_seen < ? or created_at < ?",
            [_text(now - IDLE_LIMIT), _text(now - ABSOLUTE_LIMIT)],
        ).rowcount


# --------------------------------------------------------------------------- failed logins


def failures(conn: sqlite3.Connection, user: str, ip: str) -> int:
    """Wrong passwords in a row for this account name from this address."""
    row = conn.execute(
        "select failures from login_failures where user = ? and ip = ?", [user, ip]
    ).fetchone()
    return int(row[0]) if row else 0


def record_failure(conn: sqlite3.Connection, user: str, ip: str) -> int:
    """Count one more wrong password; returns the new count."""
    with conn:
        # a day without attempts forgives; it also keeps guessed names from piling up
        conn.execute("delete from login_failures where last_at < ?", [_text(_now() - FORGIVE)])
        conn.execute(
            "insert into login_failures (user, ip, failures, last_at) values (?, ?, 1, ?) "
            "on conflict (user, ip) do update set failures = failures + 1, last_at = excluded.last_at",
            [user, ip, _text(_now())],
        )
    return failures(conn, user, ip)


def clear_failures(conn: sqlite3.Connection, user: str, ip: str) -> None:
    with conn:
        conn.execute("delete from login_failures where user = ? and ip = ?", [user, ip])

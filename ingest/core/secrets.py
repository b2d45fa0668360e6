"""Read a password (the 163 授权码, an SMTP password) from the environment or a private file.

The value is wrapped in :class:`Secret` as early as possible: its ``repr`` and
``str`` never show it, so a secret that strays into a log line, an exception
or a report prints as ``Secret('***')``. Call :meth:`Secret.reveal` only where
the value is handed to the server.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretError(Exception):
    """Raised when a password is missing or its file is unsafe; the message says how to fix it."""


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain value, for the one call that sends it to the server."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:  # never pickled into a cache or queue
        raise TypeError("Secret cannot be pickled")


def read_secret(env: str, file: Path | None, what: str) -> str:
    """The value of environment variable *env*, else the content of *file*.

    *what* names the secret for messages, e.g. ``"邮箱授权码 (mailbox.password_env)"``.
    A file readable by group or others is refused. Raises :class:`SecretError`.
    """
    return load_secret(env, file, what).reveal()


def load_secret(env: str, file: Path | None, what: str) -> Secret:
    """Like :func:`read_secret` but keeps the value wrapped."""
    if env:
        value = os.environ.get(env, "")
        if value:
            return Secret(value)
        if file is None:
            raise SecretError(f"缺少{what}：环境变量 {env} 未设置或为空")
    if file is not None:
        return Secret(_read_private_file(file, what))
    raise SecretError(
        f"缺少{what}：请在配置中设置 password_env（环境变量名）或 password_file（私有文件路径）"
    )


def _read_private_file(file: Path, what: str) -> str:
    try:
        st = file.stat()
    except FileNotFoundError:
        raise SecretError(f"缺少{what}：文件 {file} 不存在") from None
    except PermissionError:
        raise SecretError(f"无法读取{what}文件 {file}：权限不足") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretError(f"{what}文件 {file} 不是普通文件")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"{what}文件 {file} 的权限过宽（{stat.filemode(st.st_mode)}），其他用户可以读取。"
            f"请执行：chmod 600 {file}"
        )
    try:
        value = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise SecretError(f"无法读取{what}文件 {file}") from None
    if not value:
        raise SecretError(f"{what}文件 {file} 是空的")
    return value

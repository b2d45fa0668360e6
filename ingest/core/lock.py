"""Single-instance locks under ``data_dir``.

``fcntl.flock`` locks die with the process, so a SIGKILLed poller never leaves
a stale lock behind. Two names are used: ``daemon`` (held for the life of
``kaohe run``) and ``poll`` (held during one cycle, by the daemon or by
``kaohe poll``), so a manual poll while the daemon polls refuses cleanly (before it
logs in: :func:`refuse_if_held`) instead of fetching the same mail twice.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class AlreadyRunning(Exception):
    """Raised when another process holds the lock."""


_MESSAGES = {
    "daemon": "另一个 kaohe run 守护进程正在运行（锁文件 {path}），本次未启动。",
    "poll": "另一个收信过程正在进行（锁文件 {path}），本次未收信，请稍后再试。",
}


@contextmanager
def hold_lock(data_dir: Path, name: str) -> Iterator[Path]:
    """Hold ``data_dir/<name>.lock`` exclusively or raise :class:`AlreadyRunning`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(path, name) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)


def is_held(data_dir: Path, name: str) -> bool:
    """True when some process holds ``data_dir/<name>.lock`` right now (e.g. a running daemon)."""
    path = data_dir / f"{name}.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our own shared lock, if we got it
    return False


def refuse_if_held(data_dir: Path, name: str) -> None:
    """Raise :class:`AlreadyRunning` now when the lock is held: a check before costly
    work (``kaohe poll`` would otherwise log in to the mailbox first). Not a lock — the
    work still takes it with :func:`hold_lock`, which settles a race."""
    if is_held(data_dir, name):
        raise _held(data_dir / f"{name}.lock", name)


def _held(path: Path, name: str) -> AlreadyRunning:
    return AlreadyRunning(_MESSAGES.get(name, "{path} 已被占用").format(path=path))

"""Expected failures of the machine around kaohe, in the clerk's words.

A full disk, a database another program holds, a missing permission, a read-only
or wrong path, an unreachable server: none of these is a bug, and none should
show a Python traceback. :func:`describe_failure` gives the one Chinese line
(what happened, what to do) for such an error, or None for anything else (a bug:
its traceback goes to the log). The CLI, the daemon and the console all use it.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
import ssl

DISK_FULL = "磁盘空间已满{where}：请清理磁盘或把 data_dir 移到空间足够的磁盘后重试（已收到的邮件不会丢失，下次收信会补上）"
DB_LOCKED = (
    "数据库正被另一个程序占用，等待超时：请稍后重试；"
    "如果一直如此，请检查是否有卡住的 kaohe 进程（kaohe status）"
)
DB_READ_ONLY = "数据库是只读的：请检查 data_dir 及其中文件的写权限（运行 kaohe 的用户要能写）"
DB_CANNOT_OPEN = "无法打开数据库文件：请检查 data_dir 是否存在、是否为目录、是否可写"
DB_DAMAGED = (
    "数据库文件已损坏或不是 kaohe 的数据库：请从备份恢复，或用 kaohe reparse 从邮件存档重建"
)
DISK_IO = "磁盘读写出错{where}：请检查磁盘是否正常"

_OS_ERRORS: dict[int, str] = {
    errno.ENOSPC: DISK_FULL,
    errno.EDQUOT: "磁盘配额已用完{where}：请清理文件或请管理员增加配额后重试",
    errno.EACCES: "没有权限{where}：请检查文件和目录的权限（运行 kaohe 的用户要能读写 data_dir）",
    errno.EPERM: "不允许的操作{where}：请检查文件和目录的权限",
    errno.EROFS: "文件系统是只读的{where}：请把 data_dir 放在可写的磁盘上",
    errno.ENOTDIR: "路径中有一段不是目录{where}：请检查配置中的路径",
    errno.EISDIR: "这里要的是文件，却是一个目录{where}：请检查配置中的路径",
    errno.ENOENT: "找不到文件或目录{where}：请检查配置中的路径",
    errno.EIO: DISK_IO,
    errno.EMFILE: "打开的文件过多：请稍后重试，或提高系统的文件数限制",
    errno.ECONNREFUSED: "服务器拒绝连接：请检查服务器地址和端口",
    errno.ETIMEDOUT: "连接服务器超时：请检查网络",
    errno.ENETUNREACH: "网络不通：请检查网络连接",
    errno.EHOSTUNREACH: "连不上服务器：请检查网络和服务器地址",
}


def describe_failure(exc: BaseException) -> str | None:
    """One Chinese line for an expected OS/database/network failure; None otherwise."""
    if isinstance(exc, sqlite3.Error):
        return _sqlite(exc)
    if isinstance(exc, ssl.SSLError):
        return "与服务器建立加密连接失败：请检查服务器的证书、ca_file 设置和系统时间"
    if isinstance(exc, socket.gaierror):
        return "找不到服务器（域名无法解析）：请检查服务器地址和网络"
    if isinstance(exc, OSError):
        return _os(exc)
    return None


def _sqlite(exc: sqlite3.Error) -> str | None:
    text = str(exc).lower()
    if "full" in text:
        return DISK_FULL.format(where="")
    if "locked" in text or "busy" in text:
        return DB_LOCKED
    if "readonly" in text or "read-only" in text:
        return DB_READ_ONLY
    if "unable to open" in text:
        return DB_CANNOT_OPEN
    if "malformed" in text or "not a database" in text:
        return DB_DAMAGED
    if "disk i/o" in text:
        return DISK_IO.format(where="")
    return None


def _os(exc: OSError) -> str | None:
    template = _OS_ERRORS.get(exc.errno or 0)
    if template is None:
        if isinstance(exc, TimeoutError | socket.timeout):
            return "连接服务器超时：请检查网络"
        return None
    where = f"（{exc.filename}）" if exc.filename else ""
    return template.format(where=where)

"""The stored copy of an attachment, and a copy of it under its own name for the clerk.

Payloads are stored as ``data/files/ab/<sha256>`` without a name (names from mail
are never paths). A poll writes only the files the raw archive does not hold as they
are: members of archives and of forwarded mails. A file that is one of its mail's own
MIME parts (most forms) is already in ``raw/`` and is written here from the raw mail
the first time it is asked for (:func:`ensure_file`: the part decoded again, its
SHA-256 checked), so the archive does not hold every form twice and a cold poll does
not write it twice. :func:`stored_file` says where one is and what it was called;
:func:`save_copy` writes it out under that decoded name — made safe for a file
system, and never over an existing file.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.core.config import Config
from ingest.mail.mime import unpack
from ingest.mail.rawstore import archive_file, raw_path, read_raw
from ingest.store.clerk_base import ClerkActionError, find_one, open_store

MAX_NAME_BYTES = 200  # below the usual 255-byte limit, leaving room for " (2)"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_EXTENSIONS = {"docx", "xlsx", "doc", "xls", "pdf", "zip", "rar", "7z"}


@dataclass(frozen=True)
class StoredFile:
    """Where an attachment's bytes are and what the sender called the file."""

    path: Path
    filename: str  # decoded name, safe to use as a file name (no folders)
    size: int
    type: str  # contract type: docx, xlsx, pdf, image, other …


def stored_file(cfg: Config, attachment: str) -> StoredFile:
    """The stored payload of *attachment* (id or unique prefix)."""
    with open_store(cfg) as db:
        att = find_one(db, attachment)
    path = ensure_file(cfg.data_dir, att)
    if path is None:
        raw = raw_path(cfg.data_dir, att["message"])
        if not raw.is_file():  # reparse needs it too
            raise ClerkActionError(
                f"附件 {att['id']} 所在的原始邮件不见了（{raw}）；请从备份恢复这个文件"
            )
        raise ClerkActionError(
            f"附件 {att['id']} 的存储文件不见了；请先执行 kaohe reparse --message {att['message'][:12]}"
        )
    return StoredFile(
        path, safe_name(att["filename"] or "", att["id"], att["type"]), att["size"], att["type"]
    )


def ensure_file(data_dir: Path, att: Mapping[str, Any]) -> Path | None:
    """The stored file of attachment row *att*, written from its raw mail first when it is
    one of the mail's own parts and not stored yet (or not whole); None when there is no
    such file (no path, a path outside *data_dir*, a member's file removed or cut short,
    a raw mail gone or changed).

    The copy is written whole under a temporary name and renamed, so a reader never
    sees half a file; its bytes must have the recorded SHA-256.
    """
    if not att.get("stored_path"):
        return None
    root = data_dir.resolve()
    path = (root / att["stored_path"]).resolve()
    if not path.is_relative_to(root):
        return None
    try:
        if path.stat().st_size == att.get("size"):
            return path
    except OSError:
        pass  # not written yet (or removed): from the raw mail, if it is one of its parts
    payload = _part_of_raw(data_dir, att)
    if payload is None:
        return None
    archive_file(data_dir, payload, att["sha256"], atomic=True)
    return path


def _part_of_raw(data_dir: Path, att: Mapping[str, Any]) -> bytes | None:
    """The payload of *att* decoded again from its raw mail: the part it was (``part``),
    or any part with its SHA-256 (the same bytes may be a member's too)."""
    want = att.get("sha256")
    if not want:
        return None
    if att.get("size") == 0 and want == hashlib.sha256(b"").hexdigest():
        return b""  # a row for a download link, which has no bytes
    try:
        raw = read_raw(data_dir, att["message"])
    except OSError:
        return None
    parts = unpack(raw).parts
    parts.sort(key=lambda p: p.path != att.get("part"))  # its own part first
    for p in parts:
        if hashlib.sha256(p.payload).hexdigest() == want:
            return p.payload
    return None


def save_copy(cfg: Config, attachment: str, dest: Path | None = None) -> Path:
    """Write *attachment* under its decoded name into folder *dest* (default: the current one).

    *dest* may also name the file itself. An existing file is never overwritten:
    the copy gets the next free name ``名称 (2).xlsx``. Returns the path written.
    """
    found = stored_file(cfg, attachment)
    where = Path.cwd() if dest is None else dest
    target = where / found.filename if where.is_dir() else where
    if not target.parent.is_dir():
        raise ClerkActionError(f"目标文件夹不存在：{target.parent}")
    for candidate in _free_names(target):
        try:
            with candidate.open("xb") as out, found.path.open("rb") as src:
                shutil.copyfileobj(src, out)
            return candidate
        except FileExistsError:
            continue
    raise ClerkActionError(f"{target.parent} 中同名文件太多，请用 -o 指定另一个名称")


def safe_name(name: str, att_id: str, kind: str) -> str:
    """The last path component of *name*, without control or reserved characters."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base:
        base = f"附件_{att_id}"
    if "." not in base and kind in _EXTENSIONS:
        base = f"{base}.{kind}"
    stem, dot, ext = base.rpartition(".") if "." in base else (base, "", "")
    while len(base.encode()) > MAX_NAME_BYTES and stem:
        stem = stem[:-1]
        base = f"{stem}{dot}{ext}"
    return base


def _free_names(target: Path, tries: int = 100) -> list[Path]:
    stem, suffix = target.stem, target.suffix
    return [target] + [target.with_name(f"{stem} ({i}){suffix}") for i in range(2, tries)]

"""Expand zip / rar / 7z attachments into their members, with hard limits.

Everything happens in memory: payloads come back as bytes and member names are
display text only (``../../etc/passwd``, ``/abs``, ``CON``, NUL are kept for the
clerk to see, never used as paths). The only files written are rarfile's temp
copy for ``unar`` (compressed RAR members), in the system temp dir, removed at once.

Limits (from :class:`ingest.core.config.LimitsConfig`), shared by the whole tree of
nested archives so a bomb cannot multiply across levels:

- each member's declared size ≤ ``max_attachment_mb`` and its ratio
  (declared / compressed) ≤ ``max_archive_ratio`` once above 1 MiB;
- the running total of expanded bytes ≤ ``max_archive_total_mb``;
- at most ``max_archive_members`` members in all;
- archives inside archives expanded up to ``max_archive_depth`` levels.

Reads are bounded by the declared size (zipfile refuses to return more; py7zr
and the unar pipe are capped here), so a lying header cannot make us read more.
Each refused member or archive becomes a :class:`Refusal` with a Chinese reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from ingest.core.config import LimitsConfig
from ingest.mail.container_formats import (
    BOMB,
    ENCRYPTED,
    ArchiveBroken,
    ArchiveEncrypted,
    ArchiveRefused,
    Entry,
    iter_7z,
    iter_rar,
    iter_zip,
)
from parsers.detect import detect_type

logger = logging.getLogger(__name__)

ARCHIVE_KINDS = ("zip", "rar", "7z")
BROKEN = "压缩包已损坏，无法解压"
TOO_DEEP = "压缩包嵌套层数过多，未解压"
TOO_MANY = "压缩包内文件过多（超过{n}个），其余未解压"
TOO_BIG = "文件过大（超过{mb:g} MB），未解压"
TOTAL_TOO_BIG = "压缩包解压后总大小超过{mb:g} MB，其余未解压"
_RATIO_FLOOR = 1 << 20  # small members may compress extremely well and are harmless
_MB = 1 << 20


@dataclass(frozen=True)
class Member:
    """One file found in an archive (possibly in a nested one)."""

    filename: str  # display name: last path component, control characters removed
    payload: bytes
    path: str  # display path inside the top archive, nested archives joined by "/"
    container: str  # display name of the archive it came from
    kind: str  # detected type of the payload
    depth: int  # 1 = member of the top archive
    expanded: bool = False  # an archive whose members follow in the same list


@dataclass(frozen=True)
class Refusal:
    """A member (or a whole archive) not expanded, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Expansion:
    members: tuple[Member, ...] = ()
    refusals: tuple[Refusal, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.refusals)


@dataclass
class _Budget:
    limits: LimitsConfig
    total: int = 0
    count: int = 0
    members: list[Member] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    stopped: str = ""  # set once a tree-wide limit is reached

    @property
    def total_cap(self) -> int:
        return int(self.limits.max_archive_total_mb * _MB)

    @property
    def member_cap(self) -> int:
        return int(self.limits.max_attachment_mb * _MB)


def expand(data: bytes, kind: str, name: str, limits: LimitsConfig, depth: int = 0) -> Expansion:
    """Expand archive *data* (``kind`` zip/rar/7z) named *name*, nested archives included.

    *depth* is the nesting level of *data* itself (0 for a mail attachment).
    Never raises on bad input: problems come back as refusals.
    """
    budget = _Budget(limits)
    _expand_into(budget, data, kind, name, clean_path(name), depth)
    return Expansion(tuple(budget.members), tuple(budget.refusals))


def _expand_into(
    budget: _Budget, data: bytes, kind: str, name: str, prefix: str, depth: int
) -> None:
    if depth > budget.limits.max_archive_depth:
        budget.refusals.append(Refusal(prefix, TOO_DEEP))
        return
    try:
        for entry in _entries(data, kind, budget):
            _take(budget, entry, name, prefix, depth)
            if budget.stopped:
                break
    except ArchiveEncrypted:
        budget.refusals.append(Refusal(prefix, ENCRYPTED))
    except ArchiveBroken:
        budget.refusals.append(Refusal(prefix, BROKEN))
    except ArchiveRefused as e:
        budget.refusals.append(Refusal(prefix, e.reason))


def _entries(data: bytes, kind: str, budget: _Budget) -> Iterator[Entry]:
    """Entries of one archive; each payload read only if ``accept(entry)`` says so."""
    readers = {"zip": iter_zip, "rar": iter_rar, "7z": iter_7z}
    if kind not in readers:
        raise ArchiveBroken(f"not an archive kind: {kind}")
    return readers[kind](data, lambda e: _admit(budget, e))


def _admit(budget: _Budget, entry: Entry) -> int | str:
    """Byte cap for reading *entry*, or the reason it is refused."""
    limits = budget.limits
    if entry.encrypted:
        return ENCRYPTED
    if budget.count >= limits.max_archive_members:
        budget.stopped = TOO_MANY.format(n=limits.max_archive_members)
        return budget.stopped
    if entry.size > _RATIO_FLOOR and entry.size / max(entry.packed, 1) > limits.max_archive_ratio:
        return BOMB  # checked first: the more telling reason for a 1 GiB member
    if entry.size > budget.member_cap:
        return TOO_BIG.format(mb=limits.max_attachment_mb)
    if budget.total + entry.size > budget.total_cap:
        budget.stopped = TOTAL_TOO_BIG.format(mb=limits.max_archive_total_mb)
        return budget.stopped
    budget.count += 1
    return min(entry.size, budget.member_cap, budget.total_cap - budget.total)


def _take(budget: _Budget, entry: Entry, container: str, prefix: str, depth: int) -> None:
    path = f"{prefix}/{clean_path(entry.name)}"
    if entry.refused:
        budget.refusals.append(Refusal(path, entry.refused))
        return
    payload = entry.payload
    budget.total += len(payload)
    kind = detect_type(payload, entry.name)
    nested = kind in ARCHIVE_KINDS and depth + 1 <= budget.limits.max_archive_depth
    budget.members.append(
        Member(
            filename=display_name(entry.name), payload=payload, path=path, container=container,
            kind=kind, depth=depth + 1, expanded=nested,
        )
    )  # fmt: skip
    if kind in ARCHIVE_KINDS:
        _expand_into(budget, payload, kind, display_name(entry.name), path, depth + 1)


# --------------------------------------------------------------------------- names


def clean_path(name: str) -> str:
    """Display form of an archive path: control characters dropped, ``\\`` → ``/``."""
    text = "".join(ch for ch in name if ch >= " " and ch != "\x7f").replace("\\", "/")
    return text.strip() or "未命名文件"


def display_name(name: str) -> str:
    """Last path component for display; never used to build a file path."""
    parts = [p for p in clean_path(name).split("/") if p not in ("", ".", "..")]
    return parts[-1] if parts else "未命名文件"

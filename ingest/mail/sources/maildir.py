"""A local Maildir, or a plain folder of ``.eml`` files, as a mailbox source.

A message's receipt time is its file's mtime: the moment the mail server delivered
it. A plain ``cp`` of a mail folder resets every mtime to the copy's moment, making
mail sent before the deadline look late; when most new files' mtimes lie within a
few seconds of each other the source says so (:attr:`MaildirSource.copy_warning`,
logged, and shown in the poll's summary line). In a Maildir a message keeps its
unique name when a mail client moves it from ``new/`` to ``cur/`` and appends
flags (``:2,S``), so that unique name is the key: reading a mail elsewhere
does not make it new again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ingest.mail.sources.base import MailboxError, SourceItem, SourceState

log = logging.getLogger(__name__)

COPY_WINDOW_SECONDS = 10.0  # mtimes closer than this look like one copy, not deliveries
COPY_SHARE = 0.8  # … when this share of the new files has them
COPY_MIN_FILES = 5  # a handful of mails may well arrive within seconds


def looks_copied(mtimes: Sequence[float]) -> int:
    """How many of *mtimes* lie within one COPY_WINDOW_SECONDS window, when that is
    most of them (a bulk copy, not deliveries over days); 0 otherwise."""
    if len(mtimes) < COPY_MIN_FILES:
        return 0
    times = sorted(mtimes)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > COPY_WINDOW_SECONDS:
            start += 1
        best = max(best, end - start + 1)
    return best if best >= COPY_SHARE * len(times) else 0


class MaildirSource:
    """Yields the messages under *path* not yet done, oldest first."""

    def __init__(self, path: Path, max_message_mb: float = 60.0) -> None:
        self.path = path
        self.max_bytes = int(max_message_mb * 1024 * 1024)
        self.copy_warning: str | None = None  # set by fetch_new when the files look copied

    def fetch_new(self, state: SourceState) -> Iterator[SourceItem]:
        if not self.path.is_dir():
            raise MailboxError(f"邮件目录不存在或不是目录：{self.path}")
        new = [(k, f, st) for k, f, st in self._listing() if not state.key_done(k)]
        self._check_copied([st.st_mtime for _, _, st in new])
        for key, file, stat in new:
            received = datetime.fromtimestamp(stat.st_mtime, UTC)
            if stat.st_size > self.max_bytes:
                yield SourceItem(
                    key,
                    received,
                    None,
                    stat.st_size,
                    skipped_reason=(f"邮件过大（{stat.st_size / 1048576:.1f} MB），未处理"),
                )
                continue
            try:
                raw = file.read_bytes()
            except OSError as e:  # vanished or unreadable: the next poll tries again
                raise MailboxError(f"无法读取邮件文件 {file.name}：{e.strerror}") from None
            out = [SourceItem(key, received, raw, len(raw))]
            del raw  # held by the consumer alone while this generator waits
            yield out.pop()

    def _check_copied(self, mtimes: list[float]) -> None:
        together = looks_copied(mtimes)
        if not together:
            return
        self.copy_warning = (
            f"邮件目录 {self.path} 的 {len(mtimes)} 封新邮件中有 {together} 封的文件修改时间"
            f"相差不到 {COPY_WINDOW_SECONDS:g} 秒，像是一次复制进来的，不是陆续投递的。"
            "收到时间按文件修改时间计算，可能不准（截止前发来的也会显示为逾期）；"
            "请用 cp -p 或 rsync -t 保留原时间后重新导入。"
        )
        log.warning("%s", self.copy_warning)

    def _listing(self) -> list[tuple[str, Path, os.stat_result]]:
        found = []
        maildir = all((self.path / d).is_dir() for d in ("cur", "new"))
        files = (
            [f for d in ("new", "cur") for f in (self.path / d).iterdir()]
            if maildir
            else [f for f in self.path.rglob("*.eml")]
        )
        for f in files:
            if not f.is_file() or f.name.startswith("."):
                continue
            st = f.stat()
            name = f.name.split(":2,")[0] if maildir else f.relative_to(self.path).as_posix()
            found.append((f"maildir:{name}", f, st))
        found.sort(key=lambda t: (t[2].st_mtime, t[0]))
        return found

    def mark_done(self, item: SourceItem) -> None:
        """A local folder is only read: nothing to do after a commit."""

    def close(self) -> None:
        """Nothing to release."""

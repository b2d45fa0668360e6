"""A local Maildir, or a plain folder of ``.eml`` files, as a mailbox source.

A message's receipt time is its file's mtime. In a Maildir a message keeps its
unique name when a mail client moves it from ``new/`` to ``cur/`` and appends
flags (``:2,S``), so that unique name is the key: reading a mail elsewhere
does not make it new again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ingest.mail.sources.base import MailboxError, SourceItem, SourceState


class MaildirSource:
    """Yields the messages under *path* not yet done, oldest first."""

    def __init__(self, path: Path, max_message_mb: float = 60.0) -> None:
        self.path = path
        self.max_bytes = int(max_message_mb * 1024 * 1024)

    def fetch_new(self, state: SourceState) -> Iterator[SourceItem]:
        if not self.path.is_dir():
            raise MailboxError(f"邮件目录不存在或不是目录：{self.path}")
        for key, file, stat in self._listing():
            if state.key_done(key):
                continue
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
            yield SourceItem(key, received, raw, len(raw))

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

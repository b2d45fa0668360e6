"""A one-line progress display for ``kaohe poll`` on a terminal.

Only when stderr is a terminal: under systemd, cron or a pipe nothing is written,
so logs and scripts see exactly what they saw before.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TextIO

from ingest.mail.sources.base import SourceItem


class PollProgress:
    """Rewrites one line on *stream* per message committed (``on_item`` of poll())."""

    def __init__(self, stream: TextIO, tz: tzinfo) -> None:
        self.stream = stream
        self.tz = tz
        self.count = 0
        self._width = 0

    @classmethod
    def for_terminal(cls, stream: TextIO, tz: tzinfo) -> PollProgress | None:
        """A progress line on *stream* if it is a terminal, else None (nothing shown)."""
        return cls(stream, tz) if stream.isatty() else None

    def item(self, item: SourceItem) -> None:
        self.count += 1
        when = item.received.astimezone(self.tz).strftime("%m-%d %H:%M")
        self._show(f"收信中：已处理 {self.count} 封（最近一封 {when} 收到）")

    def done(self) -> None:
        """Clear the line, so the summary that follows starts clean."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _show(self, text: str) -> None:
        width = sum(2 if ord(c) > 0x2E7F else 1 for c in text)
        pad = " " * max(0, self._width - width)
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._width = max(self._width, width)

"""Log lines stamped in the campaign's timezone (the times the clerk sees in reports).

The server clock is often UTC; a log saying ``00:05`` for a mail that the report
shows at ``08:05`` makes every question about a late form harder. Every handler
on the root logger gets a formatter whose clock is the campaign's zone.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"


class CampaignTimeFormatter(logging.Formatter):
    """A formatter whose ``%(asctime)s`` is in a fixed timezone, with its UTC offset."""

    def __init__(self, fmt: str, tz: tzinfo) -> None:
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, self.tz).strftime(datefmt or TIME_FORMAT)


def log_in_timezone(tz: tzinfo, logger: logging.Logger | None = None) -> None:
    """Stamp every handler of *logger* (the root by default) in *tz*, keeping its format."""
    for handler in (logger or logging.getLogger()).handlers:
        old = handler.formatter
        fmt = old._fmt if old is not None and old._fmt else LOG_FORMAT
        handler.setFormatter(CampaignTimeFormatter(fmt, tz))

"""The configuration's error and the date parsing every config section shares."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo


class ConfigError(Exception):
    """Raised when the configuration file is missing, malformed or has a bad key/value."""


def parse_moment(value: Any, tz: ZoneInfo, key: str, end_of_day: bool) -> datetime:
    """Parse a date or date-time; a bare date is the start (or end) of that day in *tz*."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(23, 59, 59) if end_of_day else time(0, 0))
    elif isinstance(value, str):
        try:
            if len(value.strip()) == 10:
                d = date.fromisoformat(value.strip())
                dt = datetime.combine(d, time(23, 59, 59) if end_of_day else time(0, 0))
            else:
                dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(f"{key} 不是有效的日期或时间：{value!r}") from None
    else:
        raise ConfigError(f"{key} 必须是日期或时间")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt

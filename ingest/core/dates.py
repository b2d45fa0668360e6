"""Dates and times as a clerk types them: ``2020年3月18日``, ``2020/3/18``, ``3月18日`` …

Used by every option that takes a day or a moment (``paper --date``,
``add --received``, ``report --as-of``). A day without a year is in the
campaign's year; a moment without an offset is in the campaign timezone.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_FORMS = "2020-03-18、2020年3月18日、2020/3/18 或 3月18日"

# year-month-day with - / . or 年月日; month-day alone with 月日 (or -, / when no year)
_DAY = re.compile(
    r"^(?:(?P<y>\d{4})\s*[-/.年]\s*)?(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?"
)
_TIME = re.compile(
    r"^(?P<h>\d{1,2})\s*[:：时点]\s*(?P<mi>\d{1,2})?\s*分?(?:\s*[:：]\s*(?P<s>\d{1,2})\s*秒?)?$"
)
_RELATIVE = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2}


class DateError(ValueError):
    """Raised when a typed date or time cannot be read; the message is for the clerk."""


def parse_day(text: str, tz: ZoneInfo, today: date | None = None, year: int | None = None) -> date:
    """The calendar day *text* names.

    *today* anchors ``今天``/``昨天`` (default: today in *tz*); a day without a year
    takes *year* (the campaign's), else *today*'s year.
    """
    today = today or datetime.now(tz).date()
    day, rest = _split_day(_clean(text), today, year)
    if rest:
        raise DateError(f"无法识别的日期“{text}”：请写成 {_FORMS}")
    return day


def parse_time(
    text: str,
    tz: ZoneInfo,
    *,
    today: date | None = None,
    year: int | None = None,
    end_of_day: bool = False,
) -> datetime:
    """An aware moment: a day as :func:`parse_day` reads it, optionally a time of day.

    A day alone is its start (or with *end_of_day* its last second); ISO 8601 with
    an offset is taken as is; anything without an offset is in *tz*.
    """
    clean = _clean(text)
    try:
        iso = datetime.fromisoformat(clean)
    except ValueError:
        iso = None
    if iso is not None and (iso.tzinfo is not None or len(clean) > 10):
        return iso if iso.tzinfo else iso.replace(tzinfo=tz)
    today = today or datetime.now(tz).date()
    day, rest = _split_day(clean, today, year)
    rest = rest.lstrip("Tt ")
    if not rest:
        at = time(23, 59, 59) if end_of_day else time(0, 0)
    else:
        at = _time_of_day(rest, text)
    return datetime.combine(day, at, tzinfo=tz)


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def _split_day(text: str, today: date, year: int | None) -> tuple[date, str]:
    for word, delta in _RELATIVE.items():
        if text.startswith(word):
            return today + timedelta(days=delta), text[len(word) :].strip()
    m = _DAY.match(text)
    if m is None:
        raise DateError(f"无法识别的日期“{text}”：请写成 {_FORMS}")
    y = int(m["y"]) if m["y"] else (year or today.year)
    try:
        day = date(y, int(m["m"]), int(m["d"]))
    except ValueError:
        raise DateError(f"日期“{text}”不存在（请检查月份和日子）") from None
    return day, text[m.end() :].strip()


def _time_of_day(rest: str, original: str) -> time:
    m = _TIME.match(rest)
    if m is None:
        raise DateError(
            f"无法识别的时间“{original}”：请写成 2020-03-18 14:30 或 2020年3月18日 14:30"
        )
    try:
        return time(int(m["h"]), int(m["mi"] or 0), int(m["s"] or 0))
    except ValueError:
        raise DateError(f"时间“{original}”不存在（小时 0–23，分钟 0–59）") from None

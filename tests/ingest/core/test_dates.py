"""Dates as a clerk types them (paper --date, add --received, report --as-of)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.core.dates import DateError, parse_day, parse_time

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    "text",
    [
        "2020年3月18日",
        "2020/3/18",
        "2020-03-18",
        "2020.3.18",
        "3月18日",
        "3月18号",
        " 2020 年 3 月 18 日 ",
        "２０２０年３月１８日",
    ],
)
def test_every_written_form_is_the_same_day(text: str) -> None:
    assert parse_day(text, TZ, TODAY, year=2020) == date(2020, 3, 18)


def test_a_day_without_year_takes_the_campaign_year_else_this_year() -> None:
    assert parse_day("3月18日", TZ, TODAY, year=2020).year == 2020
    assert parse_day("3月18日", TZ, TODAY).year == 2026


def test_relative_days() -> None:
    assert parse_day("今天", TZ, TODAY) == TODAY
    assert parse_day("昨天", TZ, TODAY) == date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("明年", "无法识别的日期"),
        ("2020-02-30", "不存在"),
        ("3月32日", "不存在"),
        ("18", "无法识别的日期"),
        ("2020-03-18 下午", "无法识别的时间"),
    ],
)
def test_bad_dates_are_refused_in_chinese(text: str, words: str) -> None:
    with pytest.raises(DateError, match=words):
        parse_time(text, TZ, today=TODAY, year=2020)


def test_parse_day_refuses_a_time_of_day() -> None:
    with pytest.raises(DateError):
        parse_day("2020-03-18 14:30", TZ, TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020年3月18日 14:30", datetime(2020, 3, 18, 14, 30, tzinfo=TZ)),
        ("2020年3月18日14时30分", datetime(2020, 3, 18, 14, 30, tzinfo=TZ)),
        ("2020/3/18 9:05:07", datetime(2020, 3, 18, 9, 5, 7, tzinfo=TZ)),
        ("3月18日 8点", datetime(2020, 3, 18, 8, 0, tzinfo=TZ)),
        ("2020-03-18T09:30", datetime(2020, 3, 18, 9, 30, tzinfo=TZ)),
        ("2020-03-18", datetime(2020, 3, 18, 0, 0, tzinfo=TZ)),
    ],
)
def test_moments_are_in_the_campaign_timezone(text: str, expected: datetime) -> None:
    got = parse_time(text, TZ, today=TODAY, year=2020)
    assert got == expected and got.utcoffset() == expected.utcoffset()


def test_iso_with_offset_is_kept_and_a_bare_day_can_mean_its_end() -> None:
    got = parse_time("2020-03-18T10:00:00+00:00", TZ, year=2020)
    assert got.astimezone(TZ).hour == 18
    end = parse_time("2020年3月20日", TZ, year=2020, end_of_day=True)
    assert (end.hour, end.minute, end.second) == (23, 59, 59)

"""The Chinese views a power user queries: statuses in Chinese, times in the campaign's zone."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.core.config import Config
from ingest.match.roster import load_roster
from ingest.store.db import open_db
from ingest.store.views import SETTINGS, record_campaign
from reports.status import build_status, latest_forms
from tests.support.report_samples import demo_as_of, make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return make_demo(tmp_path_factory.mktemp("demo"))


def query(cfg: Config, sql: str) -> list[sqlite3.Row]:
    """Through plain sqlite3, as a power user's tool would (no kaohe code)."""
    conn = sqlite3.connect(cfg.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_views_exist_after_poll(demo: Config) -> None:
    names = {r[0] for r in query(demo, "select name from sqlite_master where type = 'view'")}
    assert {"v_报送情况", "v_待认领", *(f"v_附件{n}汇总" for n in range(2, 7))} <= names
    settings = {r[0]: r[1] for r in query(demo, f'select 项目, 值 from "{SETTINGS}"')}
    assert settings["时差"] == "+480 minutes" and settings["时区"] == "Asia/Shanghai（UTC+08:00）"


def test_status_view_agrees_with_the_report(demo: Config) -> None:
    report = build_status(
        open_db(demo.db_path),
        load_roster(demo.paths.roster),
        demo,
        datetime.now(demo.campaign.timezone),
    )
    want = {(u.unit, n): a for u in report.units for n, a in u.annexes.items() if a.versions}
    rows = query(demo, "select * from v_报送情况")
    assert len(rows) == len(want)
    tz = demo.campaign.timezone
    for r in rows:
        a = want[(r["单位名称"], r["附件"])]
        assert r["状态"] == a.status.label, (r["单位名称"], r["附件"])
        assert a.first_received is not None and a.latest_received is not None
        assert r["首次收到"] == a.first_received.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        assert r["最近收到"] == a.latest_received.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        assert r["收到次数"] == a.versions
        if a.rows:
            assert r["行数"] == a.rows
    assert {r["状态"] for r in rows} <= {"已报送", "逾期报送", "无法读取"}


def test_unassigned_view_in_local_time(demo: Config) -> None:
    report = build_status(open_db(demo.db_path), load_roster(demo.paths.roster), demo, demo_as_of())
    rows = query(demo, "select * from v_待认领")
    assert [r["附件编号"] for r in rows] == [i.attachment for i in report.unassigned]
    first = report.unassigned[0]
    assert rows[0]["收到时间"] == first.received.astimezone(demo.campaign.timezone).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert rows[0]["文件名"] == first.filename


def test_annex_view_is_the_latest_readable_version(demo: Config) -> None:
    forms = {f.unit: f for f in latest_forms(open_db(demo.db_path), 4)}
    rows = query(demo, "select * from v_附件4汇总")
    assert list(rows[0].keys())[:3] == ["单位名称", "行号", "序号"]
    assert {r["单位名称"] for r in rows} == set(forms)
    for unit, form in forms.items():
        mine = [r for r in rows if r["单位名称"] == unit]
        assert len(mine) == len(form.rows)
        assert {r["版本"] for r in mine} == {form.version}
        assert {r["来源文件"] for r in mine} == {form.filename}
        assert [r["任务名称"] for r in mine] == [x["任务名称"] for x in form.rows]


def test_timezone_and_deadline_follow_the_config(demo: Config, tmp_path: Path) -> None:
    """Another zone (and a later deadline) shown at the next open, with no view rebuilt."""
    db = open_db(tmp_path / "k.db")
    db.execute(
        "insert into submissions (id, unit, annex, received, status, rows, version) "
        "values ('s1', '甲单位', 2, '2020-03-20T20:30:00+00:00', 'parsed', 3, 1)"
    )
    conn = sqlite3.connect(tmp_path / "k.db")
    view = "select 状态, 首次收到 from v_报送情况"
    assert conn.execute(view).fetchone() == ("已收到", "2020-03-21 04:30")  # defaults: +08:00
    record_campaign(db, demo.campaign)  # deadline 2020-03-20 23:59:59+08:00
    assert conn.execute(view).fetchone() == ("逾期报送", "2020-03-21 04:30")
    later = dataclasses.replace(
        demo.campaign,
        timezone=ZoneInfo("Europe/Berlin"),
        deadline=datetime(2020, 3, 25, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    record_campaign(db, later)
    assert conn.execute(view).fetchone() == ("已报送", "2020-03-20 21:30")
    conn.close()

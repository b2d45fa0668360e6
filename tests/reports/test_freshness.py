"""Every report opens with the data's freshness; paper copies owed are listed."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook

from ingest.app.daily import report_mail
from ingest.core.config import config_from_dict
from ingest.match.roster import Roster, Unit
from ingest.store.db import open_db
from ingest.store.health import Health, finish_poll, start_poll
from reports.model import StatusReport
from reports.render_html import render_html
from reports.render_json import render_json
from reports.render_txt import render_txt
from reports.render_xlsx import render_xlsx
from reports.status import build_status
from tests.support.report_samples import TZ, make_config, sample_report

NOW = datetime(2020, 3, 23, 8, 0, tzinfo=TZ)


def with_health(stale: bool, error: str | None = None, never: bool = False) -> StatusReport:
    success = None if never else NOW - timedelta(hours=5 if stale else 0, minutes=3)
    health = Health(
        last_poll=NOW - timedelta(minutes=2),
        last_poll_ok=error is None,
        last_error=error,
        last_success=success,
        daemon=not stale,
        messages=12,
        failed_items=0,
        stale=stale or never,
    )
    return dataclasses.replace(sample_report(), health=health, poll_every_minutes=10)


def test_txt_fresh_report_names_last_poll_without_warning() -> None:
    text = render_txt(with_health(stale=False))
    head = text.split("\n\n")[0]
    assert "最近一次成功收信：2020-03-23 07:57" in head
    assert "自动收信（kaohe run）：运行中" in head
    assert "！！" not in text and "数据可能" not in text


def test_txt_stale_warning_is_the_first_line() -> None:
    text = render_txt(with_health(stale=True, error="邮箱登录失败：授权码错误"))
    first, *rest = text.splitlines()
    assert first.startswith("！！数据可能已过时：已超过 30 分钟（3 个收信周期）没有成功收信")
    assert "最近一次收信出错（2020-03-23 07:58）：邮箱登录失败：授权码错误" in rest[:5]


def test_never_polled_says_so_everywhere() -> None:
    report = with_health(stale=True, never=True)
    assert "从未成功收信" in render_txt(report).splitlines()[0]
    html = render_html(report)
    assert html.index('class="stale"') < html.index("<h1>")
    assert "从未成功收信" in html
    ws = load_workbook(BytesIO(render_xlsx(report)))["总览"]
    assert "从未成功收信" in ws["A1"].value
    assert ws["A1"].fill.fgColor.rgb[2:] == "C00000"  # red, above the title (ARGB)
    assert ws["A2"].value.endswith("报送情况")


def test_json_keeps_contract_keys_and_adds_health() -> None:
    data = json.loads(render_json(with_health(stale=True, error="登录失败"), TZ))
    assert list(data) == ["campaign", "as_of", "deadline", "units", "unassigned", "health"]
    h = data["health"]
    assert h["stale"] is True and h["last_error"] == "登录失败" and h["daemon"] is False
    assert h["last_success"] == "2020-03-23T02:57:00+08:00"
    assert h["warning"].startswith("数据可能已过时")


def test_html_fresh_report_has_no_red_banner() -> None:
    html = render_html(with_health(stale=False))
    assert 'class="stale"' not in html and "最近一次成功收信：2020-03-23 07:57" in html


def test_paper_owed_in_txt_html_xlsx() -> None:
    report = sample_report()  # 财政局 附件4 paper in; 发改局 2, 4, 6 and 大河坎 2, 6 owed
    txt = render_txt(report)
    section = txt[txt.index("纸质版尚未收到") :].split("\n\n")[0].splitlines()
    assert section == [
        "纸质版尚未收到（2 个单位，电子版已收到）：",
        "  南郑区发展和改革局：附件2、附件4、附件6",
        "  大河坎镇：附件2、附件6",
    ]
    html = render_html(report)
    paper = html[html.index('id="paper"') :].split("</section>")[0]
    assert "南郑区发展和改革局" in paper and "附件2、附件4、附件6" in paper
    assert "南郑区财政局" not in paper
    ws = load_workbook(BytesIO(render_xlsx(report)))["纸质版"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert [r[1] for r in rows] == ["南郑区发展和改革局", "大河坎镇"]
    assert rows[1][5] == "附件2（经济社会发展指标建议表）\n附件6（特色亮点考核任务一览表）"


def test_build_status_reads_health_from_the_polls_table(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "mailbox": {"host": "imap.163.com", "username": "x@163.com"},
            "campaign": {"name": "测试", "deadline": "2020-03-20T23:59:59+08:00"},
            "paths": {"data_dir": str(tmp_path / "data"), "roster": str(tmp_path / "r.csv")},
            "schedule": {"poll_every_minutes": 5},
        },
        tmp_path,
    )
    roster = Roster([Unit(name="南郑区财政局", category="区直部门", required=frozenset({4}))])
    db = open_db(cfg.db_path, cfg.schemas)
    never = build_status(db, roster, cfg, NOW)
    assert never.health is not None and never.health.stale and never.health.last_success is None
    finish_poll(db, start_poll(db), ok=False, error="邮箱登录失败")
    report = build_status(db, roster, cfg, NOW)
    assert report.health is not None and report.health.last_error == "邮箱登录失败"
    assert report.poll_every_minutes == 5
    finish_poll(db, start_poll(db), ok=True, messages=3)
    assert build_status(db, roster, cfg, NOW).health.stale is False  # type: ignore[union-attr]


def test_daily_mail_flags_stale_data_in_the_subject(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, extra={"report": {"send": True, "recipients": ["a@nz.gov.cn"]}})
    stale = report_mail(cfg, with_health(stale=True))
    assert stale["Subject"].startswith("【数据可能已过时】2020年度考核指标申报报送情况")
    body = stale.get_body(("plain",))
    assert body is not None and body.get_content().startswith("！！数据可能已过时")
    fresh = report_mail(cfg, with_health(stale=False))
    assert fresh["Subject"].startswith("2020年度考核指标申报报送情况")

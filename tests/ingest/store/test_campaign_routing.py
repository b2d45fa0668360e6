"""Two campaigns in one mailbox ([[campaigns]]): each attachment to exactly one, or to the clerk."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ingest.app.cli import cli
from tests.support import campaign_2021 as y2021
from tests.support.campaign import ROSTER, Campaign, make_campaign
from tests.support.campaign_forms import docx_form
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

CONFIG = """\
[mailbox]
source = "maildir"
path = "inbox"

[[campaigns]]
name = "2020年度考核指标申报"
deadline = "2020-03-20"
not_before = "2020-02-01"
until = "2021-03-31"
roster = "roster.csv"
subject_keywords = ["2020年"]

[[campaigns]]
name = "2021年度考核指标申报"
deadline = "2021-03-20"
not_before = "2021-02-01"
roster = "roster2021.csv"
annexes = "annexes.toml"
subject_keywords = ["2021年"]

[paths]
data_dir = "data"
"""
OLD_2019 = docx_form(
    "附件2",
    "申报2019年度镇（街道办）经济社会发展指标建议表",
    [["序号", "指标名称", "考核对象", "分值", "牵头部门", "备注"]],
    [["1", "地区生产总值增速", "各镇（街道办）", "5", "区发改局", ""]],
    "南郑区财政局",
)


def run(c: Campaign, *args: str) -> Any:
    return CliRunner().invoke(cli, ["-c", str(c.config_path), *args])


def two_campaigns(tmp_path: Path) -> Campaign:
    blank = tmp_path / "blank"
    blank.mkdir()
    for name, data in y2021.blank_forms().items():
        (blank / name).write_bytes(data)
    res = CliRunner().invoke(
        cli, ["campaign", "learn", *map(str, blank.iterdir()), "-o", str(tmp_path / "annexes.toml")]
    )
    assert res.exit_code == 0, res.output
    (tmp_path / "roster2021.csv").write_text(y2021.ROSTER, encoding="utf-8")
    c = make_campaign(tmp_path, roster=ROSTER, config=CONFIG)
    mails = {
        # the 2020 template, received in both windows: its template decides
        "a.eml": ("申报表", "附件4.xlsx", make_xlsx_form(4, sample_rows(4, 2)), "2021-03-05T09:00"),
        # the 2021 annex 7 template
        "b.eml": ("申报表", "附件7.xlsx", y2021.filled_form(7, "南郑区财政局"), "2021-03-06T09:00"),
        # a 2019 form fits neither template; only the 2020 window holds its date
        "c.eml": ("申报表", "附件2.docx", OLD_2019, "2020-03-01T09:00"),
        # the same 2019 form inside both windows, no keyword: the clerk decides
        "d.eml": ("申报表", "附件2.docx", OLD_2019, "2021-03-07T09:00"),
        # ... and with a keyword in the subject
        "e.eml": ("2021年申报表", "附件2.docx", OLD_2019, "2021-03-08T09:00"),
    }
    for name, (subject, filename, data, when) in mails.items():
        raw = make_mail(subject=subject, attachments=[(filename, data)], message_id=f"<{name}@x>")
        c.deliver(name, raw, when)
    assert run(c, "poll").exit_code == 0
    return c


def report(c: Campaign, campaign: str) -> dict[str, Any]:
    res = run(c, "report", "--campaign", campaign, "--format", "json", "-o", "-")
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_each_attachment_belongs_to_one_campaign_or_goes_to_the_clerk(tmp_path: Path) -> None:
    c = two_campaigns(tmp_path)
    r2020 = report(c, "2020")
    cz = next(u for u in r2020["units"] if u["unit"] == "南郑区财政局")["annexes"]
    assert (cz["4"]["status"], cz["4"]["rows"]) == ("late", 2)  # by template
    assert (cz["2"]["status"], cz["2"]["versions"]) == ("submitted", 1)  # by date window
    assert "7" not in cz
    r2021 = report(c, "2021年度考核指标申报")
    cz21 = next(u for u in r2021["units"] if u["unit"] == "南郑区财政局")["annexes"]
    assert (cz21["7"]["status"], cz21["7"]["rows"]) == ("submitted", 2)
    assert cz21["4"]["status"] == "overdue"  # the 2020 form did not count for 2021
    assert cz21["2"]["versions"] == 1 and cz21["2"]["required"] is False  # by subject keyword
    [ambiguous] = r2021["unassigned"]
    assert ambiguous["received"].startswith("2021-03-07")
    assert "无法判断属于哪一次收集" in ambiguous["reason"]


def test_several_campaigns_need_campaign_on_report(tmp_path: Path) -> None:
    c = two_campaigns(tmp_path)
    res = run(c, "report", "--format", "json", "-o", "-")
    assert res.exit_code == 1
    assert (
        "配置了多个收集（2020年度考核指标申报、2021年度考核指标申报），请用 --campaign"
        in res.output
    )
    res = run(c, "export", "--campaign", "2022", "--annex", "4")
    assert res.exit_code == 1 and "没有名为“2022”的收集" in res.output


def test_the_daily_report_is_written_once_per_campaign(tmp_path: Path) -> None:
    from datetime import datetime

    from ingest.app.daily import report_exists, write_daily_report

    c = two_campaigns(tmp_path)
    now = datetime.fromisoformat("2021-03-21T08:00:00+08:00")
    folder = write_daily_report(c.cfg, now)
    names = sorted(p.name for p in folder.glob("*.json"))
    assert names == [
        "报送情况-2020年度考核指标申报-2021-03-21.json",
        "报送情况-2021年度考核指标申报-2021-03-21.json",
    ]
    assert report_exists(c.cfg, now.date())
    latest = json.loads(
        (tmp_path / "data" / "reports" / "latest-2021年度考核指标申报.json").read_text()
    )
    assert latest["campaign"] == "2021年度考核指标申报"


def test_assign_finds_the_unit_in_the_roster_of_the_attachment_s_campaign(tmp_path: Path) -> None:
    """With several campaigns the clerk's unit is looked up in the roster of the
    attachment's own campaign — or, when its campaign is what the machine could not tell,
    in every campaign's (a unit in one roster only then settles the campaign too)."""
    c = two_campaigns(tmp_path)
    [ambiguous] = report(c, "2021")["unassigned"]
    # only the 2021 roster has this unit; the first campaign's (2020) does not
    res = run(c, "assign", ambiguous["attachment"], "--unit", "行政审批", "--annex", "2")
    assert res.exit_code == 0, res.output
    assert "南郑区行政审批服务局 的附件2" in res.output
    r2021 = report(c, "2021")
    assert r2021["unassigned"] == []
    unit = next(u for u in r2021["units"] if u["unit"] == "南郑区行政审批服务局")
    assert unit["annexes"]["2"]["versions"] == 1
    # an attachment of 2021 cannot go to a unit only the 2020 roster has
    db = sqlite3.connect(c.config_path.parent / "data" / "kaohe.db")
    [(form7,)] = db.execute("select id from attachments where filename = '附件7.xlsx'")
    db.close()
    res = run(c, "assign", form7, "--unit", "南郑区发展和改革局")
    assert res.exit_code == 1 and "2021年度考核指标申报" in res.output
    assert "Traceback" not in res.output


def test_units_lists_each_campaign_s_roster_or_the_one_asked_for(tmp_path: Path) -> None:
    c = two_campaigns(tmp_path)
    res = run(c, "units", "审批")
    assert res.exit_code == 0, res.output
    assert res.output.index("【2020年度考核指标申报】") < res.output.index(
        "【2021年度考核指标申报】"
    )
    assert "名单中与“审批”匹配的 0 个单位。" in res.output  # the 2020 roster has none
    assert res.output.count("南郑区行政审批服务局") == 1
    res = run(c, "units", "--campaign", "2020", "发展")
    assert res.exit_code == 0 and "南郑区发展和改革局" in res.output and "【" not in res.output
    res = run(c, "units", "--campaign", "2022")
    assert res.exit_code == 1 and "没有名为“2022”的收集" in res.output
    res = run(c, "units", "不存在的单位名称")
    assert res.exit_code == 1 and "名单中没有与“不存在的单位名称”匹配的单位" in res.output


def test_a_receipt_tells_what_is_owed_in_the_campaign_the_forms_went_to(tmp_path: Path) -> None:
    from datetime import datetime

    from ingest.app.outbox.receipts import campaign_reports, draft_receipts
    from ingest.core.config import load_config
    from ingest.store.db import open_db

    c = two_campaigns(tmp_path)
    cfg = load_config(c.config_path)
    db = open_db(cfg.db_path)
    report, by_campaign = campaign_reports(
        db, cfg, datetime.fromisoformat("2021-03-25T09:00+08:00")
    )
    assert set(by_campaign) == {"2020年度考核指标申报", "2021年度考核指标申报"}
    bodies = {
        msg["In-Reply-To"]: msg.get_content()
        for _, msg in draft_receipts(db, cfg, report, by_campaign=by_campaign)
    }
    db.close()
    owed_2021 = "南郑区财政局在“2021年度考核指标申报”中目前还需报送：附件4（区直部门重点工作考核任务申报表）"
    # the 2021 form: what 2021 still lacks, not the first campaign's annexes 5 and 6, each
    # annex under its 2021 name (the 2020 annex 4 is 考核任务申报表)
    assert owed_2021 in bodies["<b.eml@x>"] and "附件5" not in bodies["<b.eml@x>"]
    assert "南郑区财政局，附件7（营商环境优化创新事项申报表），读取 2 行数据" in bodies["<b.eml@x>"]
    assert "附件4（考核任务申报表），读取 2 行数据" in bodies["<a.eml@x>"]
    assert "在“2020年度考核指标申报”中目前还需报送：附件5" in bodies["<a.eml@x>"]
    assert "2021年度考核指标申报" not in bodies["<a.eml@x>"]
    # the form whose campaign the clerk has to settle: no list of what is owed
    assert "考核办将人工核对" in bodies["<d.eml@x>"] and "还需报送" not in bodies["<d.eml@x>"]


def test_inspect_routes_each_attachment_to_a_campaign_as_a_poll_would(tmp_path: Path) -> None:
    c = two_campaigns(tmp_path)
    form7 = make_mail(
        subject="申报表",
        attachments=[("附件7.xlsx", y2021.filled_form(7, "南郑区财政局"))],
        date="Sat, 06 Mar 2021 09:00:00 +0800",
    )
    both = make_mail(
        subject="申报表",
        attachments=[("附件2.docx", OLD_2019)],
        date="Sun, 07 Mar 2021 09:00 +0800",
    )
    (tmp_path / "form7.eml").write_bytes(form7)
    (tmp_path / "both.eml").write_bytes(both)
    res = run(c, "inspect", str(tmp_path / "form7.eml"), "--format", "json")
    assert res.exit_code == 0, res.output
    [att] = json.loads(res.output)["attachments"]
    assert (att["campaign"], att["annex"], att["rows"]) == ("2021年度考核指标申报", 7, 2)
    res = run(c, "inspect", str(tmp_path / "both.eml"))
    assert res.exit_code == 0, res.output
    assert "属于：无法判断是哪一次收集" in res.output and "无法判断属于哪一次收集" in res.output


def test_a_learned_campaign_s_annexes_are_named_as_its_templates_name_them(
    tmp_path: Path,
) -> None:
    """Reports, reminders and exports of the 2021 campaign say 附件4（区直部门重点工作考核任务
    申报表）, the 2021 template's title, not the built-in 2020 name of annex 4."""
    from datetime import datetime

    from ingest.app.outbox.reminders import draft_reminders
    from ingest.core.config import load_config
    from ingest.match.roster import load_roster
    from ingest.store.db import open_db
    from reports.export import build_export
    from reports.output import build_report

    c = two_campaigns(tmp_path)
    as_of = datetime.fromisoformat("2021-03-25T09:00+08:00")
    txt = run(c, "report", "--campaign", "2021", "--format", "txt", "-o", "-").output
    assert "附件4（区直部门重点工作考核任务申报表）：逾期未报" in txt
    assert "附件4（考核任务申报表）" not in txt
    cfg = load_config(c.config_path).select("2021")
    reminders = [m.get_content() for m in draft_reminders(build_report(cfg, as_of), cfg)]
    assert any("附件4（区直部门重点工作考核任务申报表）：截止时间已过" in m for m in reminders)
    db = open_db(cfg.db_path)
    [table] = build_export(db, load_roster(cfg.paths.roster), 7, cfg.schemas)
    db.close()
    assert table.label == "附件7（营商环境优化创新事项申报表）" and len(table.rows) == 2


def test_the_chinese_views_keep_the_campaigns_apart(tmp_path: Path) -> None:
    """For a power user's SQLite tool: a row per campaign, judged by its own deadline."""
    c = two_campaigns(tmp_path)
    conn = sqlite3.connect(c.config_path.parent / "data" / "kaohe.db")
    rows = conn.execute(
        "select 收集, 附件, 状态, 行数 from v_报送情况 where 单位名称 = '南郑区财政局'"
    ).fetchall()
    annex7 = conn.execute("select 收集, count(*) from v_附件7汇总 group by 收集").fetchall()
    conn.close()
    by = {(campaign, annex): (status, n) for campaign, annex, status, n in rows}
    # received 2021-03-06: on time for 2021 (deadline 2021-03-20), not judged by 2020's
    assert by[("2021年度考核指标申报", 7)] == ("已报送", 2)
    assert by[("2020年度考核指标申报", 4)] == ("逾期报送", 2)  # 2021-03-05, for 2020
    # annex 2 was sent for both campaigns: one row each, not merged
    assert {k for k in by if k[1] == 2} == {
        ("2020年度考核指标申报", 2),
        ("2021年度考核指标申报", 2),
    }
    assert annex7 == [("2021年度考核指标申报", 2)]

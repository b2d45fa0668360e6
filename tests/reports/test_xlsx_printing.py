"""The xlsx report printed (LibreOffice → PDF): nothing lost, nothing too small to read.

The failure this guards against: LibreOffice keeps a wrapped row at its default
height, so a unit's second and third missing annexes never reach the paper, and a
38-column sheet fitted to one A4 width prints at 2–3 pt.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from ingest.match.roster import load_roster
from ingest.store.db import open_db
from ingest.store.health import Health
from reports.export import build_export, export_xlsx
from reports.model import Status, StatusReport, UnassignedItem, UnitStatus
from reports.output import build_report
from reports.render_xlsx import render_xlsx
from reports.summary import assign_command, owed_phrases, paper_outstanding
from tests.support.printing import (
    font_sizes,
    pdf_text,
    printed_in_order,
    save_pngs,
    squeeze,
    xlsx_to_pdf,
)
from tests.support.report_samples import TZ, demo_as_of, make_demo, ok, owe, sample_report, t

MIN_PT = 8.0
CLI = "kaohe -c /etc/kaohe/config.toml"
CATEGORIES = ("区直部门", "镇（街道办）", "垂直管理及驻区单位")


def unit(i: int) -> UnitStatus:
    """Units owing one to three annexes, some unreadable with a long reason."""
    annexes = {2: ok(2, paper=None), 3: owe(3, Status.OVERDUE)}
    if i % 2:
        annexes[4] = owe(4, Status.UNPARSED, "文件已加密，无法读取；请对方取消密码后重新发送电子版")
    if i % 3 == 0:
        annexes[5] = owe(5, Status.OVERDUE)
    annexes[6] = ok(6, checks=("第3行“分值”不是数字：“五分”", "第4行“任务名称”为空"))
    return UnitStatus(
        f"汉中市南郑区第{i}号很长名称的单位办公室",
        CATEGORIES[i % 3],
        annexes,
        contact="王会计",
        phone="0916-5511234",
        emails=(f"u{i}@nz.gov.cn", f"backup{i}@163.com"),
    )


def long_item(i: int) -> UnassignedItem:
    return UnassignedItem(
        attachment=f"{i:02d}b2c3d4e5f6",
        filename=f"附件4-南郑区某某单位考核任务申报表（第{i}稿）.xlsx",
        sender="someone-with-a-long-address@qq.com",
        subject="关于报送2020年度考核指标的函（请查收）",
        received=t(18, 10, 0),
        annex=4,
        reason="表格、文件名、主题和发件人中都没有名单上的单位",
        suggested_unit="汉中市南郑区第1号很长名称的单位办公室",
    )


def big_report() -> StatusReport:
    health = Health(
        last_poll=datetime(2020, 3, 23, 7, 0, tzinfo=TZ),
        last_poll_ok=False,
        last_error="邮箱登录失败：授权码错误",
        last_success=datetime(2020, 3, 22, 7, 0, tzinfo=TZ),
        daemon=False,
        messages=40,
        failed_items=0,
        stale=True,
    )
    return dataclasses.replace(
        sample_report(),
        units=[unit(i) for i in range(1, 41)],
        unassigned=[long_item(i) for i in range(1, 13)],
        health=health,
    )


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[StatusReport, Path]:
    report = big_report()
    folder = tmp_path_factory.mktemp("print")
    xlsx = folder / "报送情况.xlsx"
    xlsx.write_bytes(render_xlsx(report, cli=CLI))
    pdf = xlsx_to_pdf(xlsx, folder)
    save_pngs(pdf, "xlsx-report-printed")
    return report, pdf


@pytest.mark.integration
def test_every_owed_annex_reaches_the_paper(printed: tuple[StatusReport, Path]) -> None:
    report, pdf = printed
    text = squeeze(pdf_text(pdf))
    owing = [u for u in report.units if u.owes]
    assert len(owing) == 40
    for u in owing:
        for phrase in owed_phrases(u):  # the 2nd and 3rd lines of a wrapped cell too
            assert squeeze(phrase) in text, (u.unit, phrase)


@pytest.mark.integration
def test_paper_copies_owed_and_stale_warning_printed(printed: tuple[StatusReport, Path]) -> None:
    report, pdf = printed
    text = squeeze(pdf_text(pdf))
    assert "数据可能已过时" in text and "授权码错误" in text
    assert "纸质版尚未收到" in text
    assert all(paper_outstanding(u) == [2, 6] for u in report.units)


@pytest.mark.integration
def test_unassigned_commands_whole_and_categories_not_cut(
    printed: tuple[StatusReport, Path],
) -> None:
    report, pdf = printed
    text = squeeze(pdf_text(pdf))
    for item in report.unassigned:  # the whole command, its wrapped lines included
        assert printed_in_order(assign_command(item, CLI), text), item.attachment
    assert text.count("垂直管理及驻区单位") >= 13  # 明细 and 逾期名单, whole


@pytest.mark.integration
def test_no_text_below_8_pt(printed: tuple[StatusReport, Path]) -> None:
    _, pdf = printed
    sizes = font_sizes(pdf)
    assert len({page for page, _, _ in sizes}) >= 6
    small = [s for s in sizes if s[1] < MIN_PT]
    assert not small, small[:5]


# --------------------------------------------------------------------------- the demo, printed


@pytest.fixture(scope="module")
def demo_printed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[StatusReport, Path, Path, list[str]]:
    """The bundled demo's report and 汇总表 (all annexes), printed."""
    folder = tmp_path_factory.mktemp("demo-print")
    cfg = make_demo(folder / "demo")
    report = build_report(cfg, demo_as_of())
    xlsx = folder / "报送情况.xlsx"
    xlsx.write_bytes(render_xlsx(report, CLI))
    db = open_db(cfg.db_path)
    tables = build_export(db, load_roster(cfg.paths.roster), None, cfg.schemas)
    db.close()
    export = folder / "汇总表.xlsx"
    export.write_bytes(export_xlsx(tables, cfg.campaign.timezone))
    report_pdf, export_pdf = xlsx_to_pdf(xlsx, folder), xlsx_to_pdf(export, folder)
    save_pngs(report_pdf, "xlsx-demo-report-printed")
    save_pngs(export_pdf, "xlsx-demo-export-printed")
    four = next(t for t in tables if t.annex == 4)
    names = [r.values[four.fields.index("任务名称")] for r in four.rows]
    return report, report_pdf, export_pdf, names


@pytest.mark.integration
def test_demo_report_prints_every_owed_annex(
    demo_printed: tuple[StatusReport, Path, Path, list[str]],
) -> None:
    report, pdf, _, _ = demo_printed
    text = squeeze(pdf_text(pdf))
    phrases = [p for u in report.units for p in owed_phrases(u)]
    assert phrases and all(squeeze(p) in text for p in phrases)
    assert all(size >= MIN_PT for _, size, _ in font_sizes(pdf))


@pytest.mark.integration
def test_demo_export_prints_every_task_at_8_pt(
    demo_printed: tuple[StatusReport, Path, Path, list[str]],
) -> None:
    _, _, pdf, names = demo_printed
    text = squeeze(pdf_text(pdf))
    sizes = font_sizes(pdf)
    assert sizes and min(size for _, size, _ in sizes) >= MIN_PT
    assert len(names) >= 10
    missing = [n for n in names if not printed_in_order(n, text)]
    assert not missing, missing

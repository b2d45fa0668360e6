"""Consolidated tables (汇总表) from a real processed database (the bundled demo inbox)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import docx
import pytest
import sqlite_utils
from click.testing import CliRunner
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from openpyxl import load_workbook

from ingest.app.cli import cli
from ingest.core.config import Config
from ingest.match.roster import load_roster
from ingest.store.db import open_db
from parsers.schema import build_schemas
from reports.export import ExportRow, ExportTable, build_export, export_csv, export_xlsx
from reports.xlsx_util import line_count
from tests.support.report_samples import make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return make_demo(tmp_path_factory.mktemp("export") / "demo")


@pytest.fixture
def db(demo: Config) -> sqlite_utils.Database:
    return open_db(demo.db_path)


def test_annex_table_latest_version_in_roster_order(
    demo: Config, db: sqlite_utils.Database
) -> None:
    roster = load_roster(demo.paths.roster)
    [table] = build_export(db, roster, 4)
    assert table.columns[0] == "单位名称"
    assert table.fields == build_schemas()[4].field_names
    order = [u.name for u in roster.units]
    units = list(dict.fromkeys(r.unit for r in table.rows))
    assert units == sorted(units, key=order.index) and len(units) >= 5
    # a unit that sent annex 4 twice: only the later version's rows, all of them
    twice = db.execute(
        "select unit from submissions where annex = 4 and status = 'parsed' "
        "group by unit having count(*) > 1"
    ).fetchone()
    assert twice is not None
    latest = list(
        db.query(
            "select * from submissions where unit = ? and annex = 4 and "
            "status = 'parsed' order by received desc limit 1",
            [twice[0]],
        )
    )[0]
    rows = [r for r in table.rows if r.unit == twice[0]]
    assert len(rows) == latest["rows"]
    assert {r.version for r in rows} == {latest["version"]}
    filename = db.execute(
        "select filename from attachments where id = ?", [latest["attachment"]]
    ).fetchone()[0]
    assert {r.source for r in rows} == {filename}  # the file name, no hex id


def test_all_annexes_workbook(demo: Config, db: sqlite_utils.Database) -> None:
    tables = build_export(db, load_roster(demo.paths.roster), None)
    wb = load_workbook(BytesIO(export_xlsx(tables, demo.campaign.timezone)))
    assert wb.sheetnames == ["附件2", "附件3", "附件4", "附件5", "附件6"]
    ws = wb["附件4"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["单位名称", "序号", "任务类别"] and header[-3:] == [
        "来源附件",
        "收到时间",
        "版本",
    ]
    assert ws.freeze_panes == "B2" and ws.page_setup.orientation == "landscape"
    score = header.index("分值") + 1
    assert any(isinstance(ws.cell(r, score).value, int | float) for r in range(2, ws.max_row + 1))
    numbers = [ws.cell(r, 2).value for r in range(2, ws.max_row + 1)]
    assert all(isinstance(n, int) for n in numbers if n not in (None, "")), numbers[:5]  # 序号
    name = header.index("任务名称") + 1
    width = ws.column_dimensions[ws.cell(1, name).column_letter].width
    assert width >= 12  # 任务名称 readable, wrapped where long:
    assert ws.page_setup.fitToWidth == 2 and ws.print_title_cols == "$A:$A"  # ≥ 8 pt printed
    assert all(  # rows of wrapped names tall enough to print every line
        (lines := line_count(str(ws.cell(r, name).value), width)) == 1
        or (ws.row_dimensions[r].height or 0) >= 16 * lines
        for r in range(2, ws.max_row + 1)
    )
    assert not str(ws.cell(2, len(header) - 2).value).startswith(("0", "1", "a", "b", "c"))
    assert ws.max_row - 1 == len(tables[2].rows)


def test_csv_has_bom_and_defuses_formulas(demo: Config) -> None:
    table = ExportTable(
        4,
        "t",
        "附件4（t）",
        ("序号", "任务名称", "分值"),
        frozenset({"分值"}),
        (
            ExportRow(
                "南郑区财政局", ("1", '=HYPERLINK("http://x")', "-5"), "abc 附件4.xlsx", None, 1
            ),
        ),
    )
    data = export_csv(table, demo.campaign.timezone)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "单位名称,序号,任务名称,分值,来源附件,收到时间,版本"
    assert "'=HYPERLINK" in text and ",-5," in text


def test_export_command(demo: Config, tmp_path: Path) -> None:
    assert demo.path is not None
    runner = CliRunner()
    out = tmp_path / "汇总.xlsx"
    res = runner.invoke(cli, ["-c", str(demo.path), "export", "--all", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert load_workbook(out).sheetnames[0] == "附件2"
    res = runner.invoke(cli, ["-c", str(demo.path), "export", "--all", "--format", "csv"])
    assert res.exit_code != 0 and "csv 只能导出一个附件" in res.output
    res = runner.invoke(
        cli, ["-c", str(demo.path), "export", "--annex", "6", "--format", "csv", "-o", "-"]
    )
    assert res.exit_code == 0 and res.stdout_bytes.startswith(b"\xef\xbb\xbf")
    assert "例：kaohe -c config.toml export" in runner.invoke(cli, ["export", "--help"]).output


def test_docx_for_the_committee(demo: Config, db: sqlite_utils.Database, tmp_path: Path) -> None:
    assert demo.path is not None
    out = tmp_path / "汇总表.docx"
    res = CliRunner().invoke(
        cli, ["-c", str(demo.path), "export", "--all", "--format", "docx", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    doc = docx.Document(str(out))
    section = doc.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE and section.page_width > section.page_height
    tables = build_export(db, load_roster(demo.paths.roster), None)
    assert len(doc.tables) == len(tables) == 5
    titles = [p.text for p in doc.paragraphs if p.text.endswith("汇总表")]
    assert titles[2] == "附件4（考核任务申报表）汇总表"
    word, data = doc.tables[2], tables[2]
    header = [c.text for c in word.rows[0].cells]
    assert header == ["单位名称", *data.fields, "版本"]
    assert word.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeats on each page
    assert len(word.rows) == len(data.rows) + 1
    widths = {c: col.width for c, col in zip(header, word.columns, strict=True)}
    assert widths["目标要求"] > widths["单位名称"] > widths["任务名称"] > widths["序号"]
    first = data.rows[0]
    assert [c.text for c in word.rows[1].cells] == [first.unit, *first.values, str(first.version)]
    fonts = doc.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "宋体"

"""xlsx/xls reader: visible sheets, merges, number and date text; xlsx round trips."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from parsers import build_schemas, extract_form, read_document
from parsers.errors import ParseError
from parsers.excel import cell_text, read_xls, read_xlsx
from tests.support.forms import UNIT_LINE, make_xlsx_form, sample_rows

SCHEMAS = build_schemas()


def _book() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "附件4"
    sheet.append(["考核任务申报表"])
    sheet.merge_cells("A1:D1")
    sheet.append(["填报单位：南郑区财政局", None, None, "填报日期：2020年3月"])
    sheet.append(["序号", "任务类别", "任务名称", "分值"])
    sheet.append([1, "重点工作", "财政收入", 5.0])
    sheet.append([2, None, "债务防控", 3.5])
    sheet.merge_cells("B4:B5")
    sheet.append([3, "职能任务", "国库", dt.date(2020, 3, 1)])
    sheet.append([None, None, None, None, None, None])
    sheet["F9"] = None  # touched but empty: trailing
    hidden = book.create_sheet("隐藏")
    hidden["A1"] = "不应读出"
    hidden.sheet_state = "hidden"
    book.create_sheet("空表")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_title_and_unit_rows_go_before() -> None:
    doc = read_xlsx(_book())
    assert doc.kind == "xlsx"
    table = doc.tables[0]
    assert table.before == ("考核任务申报表", "填报单位：南郑区财政局  填报日期：2020年3月")
    assert table.rows[0] == ("序号", "任务类别", "任务名称", "分值")
    assert table.source == "sheet 附件4"
    assert doc.lines == table.before


def test_merges_numbers_dates_and_trimming() -> None:
    rows = read_xlsx(_book()).tables[0].rows
    assert rows[1:] == (
        ("1", "重点工作", "财政收入", "5"),
        ("2", "重点工作", "债务防控", "3.5"),
        ("3", "职能任务", "国库", "2020-03-01"),
    )


def test_hidden_and_empty_sheets_skipped() -> None:
    doc = read_xlsx(_book())
    assert [t.source for t in doc.tables] == ["sheet 附件4"]
    assert "不应读出" not in doc.lines


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5.0, "5"),
        (3.5, "3.5"),
        (0.1 + 0.2, "0.3"),
        (7, "7"),
        (None, ""),
        (" 文本 ", "文本"),
        (True, "TRUE"),
        (dt.datetime(2020, 3, 1), "2020-03-01"),
        (dt.datetime(2020, 3, 1, 9, 30), "2020-03-01 09:30"),
        (dt.date(2020, 12, 31), "2020-12-31"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize("data", [b"", b"garbage" * 50, b"PK\x03\x04" + b"\0" * 60])
def test_corrupt_xlsx(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        read_xlsx(data)
    assert info.value.reason == "文件已损坏，无法打开（xlsx）"


def test_corrupt_xls() -> None:
    with pytest.raises(ParseError) as info:
        read_xls(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert info.value.reason == "文件已损坏，无法打开（xls）"


def test_truncated_xlsx() -> None:
    data = make_xlsx_form(4, sample_rows(4, 3))
    with pytest.raises(ParseError, match="已损坏"):
        read_xlsx(data[: len(data) // 2])


def test_vertical_merge_in_task_category_repeated() -> None:
    rows = sample_rows(4, 5)  # 任务类别: 重点工作 ×2, 职能任务 ×2, 综合职能任务
    doc = read_xlsx(make_xlsx_form(4, rows, merge_vertical="任务类别"))
    column = [row[1] for row in doc.tables[0].rows[1:6]]
    assert column == ["重点工作", "重点工作", "职能任务", "职能任务", "综合职能任务"]
    assert list(extract_form(doc, 4, SCHEMAS).rows) == rows


def test_title_merged_across_keeps_text_once() -> None:
    doc = read_xlsx(make_xlsx_form(5, sample_rows(5, 2), unit_line=None))
    assert doc.tables[0].before == (SCHEMAS[5].title,)


def test_split_over_two_sheets_without_header() -> None:
    rows = sample_rows(6, 6)
    data = make_xlsx_form(6, rows, split_tables=True, split_header=False)
    doc = read_xlsx(data)
    assert [t.source for t in doc.tables] == ["sheet 附件6", "sheet 附件6（续）"]
    assert list(extract_form(doc, 6, SCHEMAS).rows) == rows


@pytest.fixture(scope="module")
def xls_bytes(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[dict[str, object]]]:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice not installed")
    tmp: Path = tmp_path_factory.mktemp("xls")
    rows = sample_rows(4, 5)
    (tmp / "form.xlsx").write_bytes(make_xlsx_form(4, rows, merge_vertical="任务类别"))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp}/profile",
            "--headless",
            "--convert-to",
            "xls",
            "--outdir",
            str(tmp),
            str(tmp / "form.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (tmp / "form.xls").read_bytes(), rows


@pytest.mark.integration
def test_xls_round_trip(xls_bytes: tuple[bytes, list[dict[str, object]]]) -> None:
    data, rows = xls_bytes
    doc = read_xls(data)
    assert doc.kind == "xls"
    assert doc.tables[0].before[0] == SCHEMAS[4].title
    result = extract_form(doc, 4, SCHEMAS)
    assert list(result.rows) == rows
    assert result.unit_line == UNIT_LINE.split("：")[1]
    assert read_document(data, "et").tables == doc.tables

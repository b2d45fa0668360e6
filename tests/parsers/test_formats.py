"""Formats from outside the project: xlsb, ods, BIFF2, encrypted xls/ods, CSV, and the guards."""

from __future__ import annotations

import csv
import io
import subprocess
import time
from pathlib import Path

import openpyxl
import pytest

import parsers
from parsers import build_schemas, extract_form
from parsers.biff import has_filepass, is_biff_stream
from parsers.detect import contract_type, detect_type
from parsers.errors import EncryptedFile, ParseError
from parsers.excel import read_ods, read_xlsx
from parsers.word import read_docx
from tests.support.corpus import legacy_files, require_soffice
from tests.support.forms import fields, sample_rows
from tests.support.hostile_files import (
    biff2_xls,
    biff_with_filepass,
    docx_with_body,
    encrypted_ods_manifest,
    gridspan_docx,
    ods_cell,
    ods_row,
    ods_with_rows,
    ole_xls_with_filepass,
    repeated_ods,
    xfd_xlsx,
)
from tests.support.xlsb import xlsb_bytes

SCHEMAS = build_schemas()
FORM = [["附件4 考核任务申报表"], ["序号", "任务名称", "分值"], [1.0, "招商引资", 20.0]]


def _texts(doc: parsers.Document) -> list[tuple[str, ...]]:
    return [tuple(row) for t in doc.tables for row in (*((line,) for line in t.before), *t.rows)]


# --------------------------------------------------------------------------- xlsb


def test_xlsb_is_a_workbook_not_a_zip_of_parts() -> None:
    data = xlsb_bytes(FORM)
    assert detect_type(data, "附件4.xlsb") == "xlsb"
    assert contract_type("xlsb") == "xlsx"
    doc = parsers.read_document(data, "xlsb")
    assert _texts(doc) == [
        ("附件4 考核任务申报表",),
        ("序号", "任务名称", "分值"),
        ("1", "招商引资", "20"),
    ]


def test_the_built_xlsb_is_one_libreoffice_reads_too(tmp_path: Path) -> None:
    require_soffice()
    (tmp_path / "t.xlsb").write_bytes(xlsb_bytes(FORM))
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path), str(tmp_path / "t.xlsb")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert _texts(read_xlsx((tmp_path / "t.xlsx").read_bytes()))[1:] == [
        ("序号", "任务名称", "分值"),
        ("1", "招商引资", "20"),
    ]


# --------------------------------------------------------------------------- ods


def test_ods_is_read_by_calamine_without_libreoffice(monkeypatch: pytest.MonkeyPatch) -> None:
    import parsers.legacy

    def no_soffice(*_: object, **__: object) -> None:
        raise AssertionError("LibreOffice must not be used for .ods")

    monkeypatch.setattr(parsers.legacy.Converter, "convert", no_soffice)
    doc = parsers.read_document(legacy_files()["附件4.ods"], "ods")
    assert doc.kind == "ods"
    assert extract_form(doc, 4, SCHEMAS).rows


def test_ods_trailing_blank_repeats_are_fine_but_filled_repeats_are_refused() -> None:
    blank = '<table:table-cell table:number-columns-repeated="1024"/>'
    normal = ods_with_rows(ods_row(ods_cell("序号") + ods_cell("名称")) + ods_row(blank, 1_048_000))
    assert _texts(read_ods(normal)) == [("序号", "名称")]
    began = time.monotonic()
    with pytest.raises(ParseError) as refused:
        parsers.read_document(repeated_ods(), "ods")
    assert time.monotonic() - began < 2
    assert refused.value.reason.endswith("文件过大或结构异常，已停止读取")
    assert "1000000000行×999999999列" in refused.value.reason


def test_encrypted_ods_is_encrypted_not_damaged() -> None:
    data = encrypted_ods_manifest()
    assert detect_type(data, "附件4.ods") == "encrypted"
    with pytest.raises(EncryptedFile) as e:
        parsers.read_document(data, "encrypted")
    assert e.value.reason == "加密文件，无法读取"


# --------------------------------------------------------------------------- xlsx guard


def test_xfd1048576_sheet_is_refused_before_calamine() -> None:
    data = xfd_xlsx()
    assert len(data) < 8 * 1024
    with pytest.raises(ParseError) as refused:
        parsers.read_document(data, "xlsx")
    assert refused.value.reason == (
        "表格范围过大（工作表“Sheet1”：1048576行×16384列），文件过大或结构异常，已停止读取"
    )


def test_an_oversized_sheet_is_skipped_and_the_form_sheet_read() -> None:
    book = openpyxl.Workbook()
    form = book.active
    form.title = "附件4"
    for row in FORM:
        form.append(row)
    huge = book.create_sheet("数据")
    huge["A1"], huge["XFD1048576"] = "x", "y"
    buf = io.BytesIO()
    book.save(buf)
    doc = read_xlsx(buf.getvalue())
    assert [t.source for t in doc.tables] == ["sheet 附件4"]
    assert doc.warnings == ("工作表“数据”范围过大（1048576行×16384列），疑似异常文件，未读取",)


# --------------------------------------------------------------------------- docx guard


def test_gridspan_of_thirty_million_is_clamped() -> None:
    began = time.monotonic()
    doc = read_docx(gridspan_docx())
    assert time.monotonic() - began < 1
    widths = {len(row) for t in doc.tables for row in t.rows}
    assert widths == {64}
    assert doc.tables[0].rows[0][:2] == ("序号", "名称")


def test_a_declared_wide_grid_keeps_its_columns_and_a_huge_table_is_refused() -> None:
    cols = "".join("<w:gridCol/>" for _ in range(100))
    cells = "".join(f"<w:tc><w:p><w:r><w:t>c{i}</w:t></w:r></w:p></w:tc>" for i in range(100))
    wide = docx_with_body(f"<w:tbl><w:tblGrid>{cols}</w:tblGrid><w:tr>{cells}</w:tr></w:tbl>")
    assert len(read_docx(wide).tables[0].rows[0]) == 100
    rows = '<w:tr><w:trPr><w:gridBefore w:val="64"/></w:trPr></w:tr>' * 20_000
    with pytest.raises(ParseError) as refused:
        read_docx(docx_with_body(f"<w:tbl>{rows}</w:tbl>"))
    assert refused.value.reason == "表格过大（20000行×64列），文件过大或结构异常，已停止读取"


# --------------------------------------------------------------------------- BIFF


@pytest.mark.parametrize("codepage", [936, None])
def test_excel_2_file_without_ole_is_read_by_xlrd(codepage: int | None) -> None:
    data = biff2_xls(FORM, codepage=codepage)
    assert data[:2] == b"\x09\x00" and is_biff_stream(data[:16])
    assert detect_type(data, "附件4.xls") == "xls"
    doc = parsers.read_document(data, "xls")
    assert _texts(doc) == [
        ("附件4 考核任务申报表",),
        ("序号", "任务名称", "分值"),
        ("1", "招商引资", "20"),
    ]


@pytest.mark.parametrize("head", [b"\t\x00\x05\x00hello", b"\x09\x04\x02\x00ab", b"\x09\x08"])
def test_text_starting_like_a_bof_is_not_excel(head: bytes) -> None:
    assert not is_biff_stream(head)


def test_password_protected_xls_is_encrypted() -> None:
    bare = biff_with_filepass(biff2_xls(FORM))
    assert detect_type(bare, "附件4.xls") == "encrypted"
    ole = ole_xls_with_filepass(legacy_files()["附件4.xls"])
    assert detect_type(ole, "附件4.xls") == "encrypted"
    assert contract_type("encrypted", "附件4.xls") == "xls"
    assert not has_filepass(biff2_xls(FORM))
    with pytest.raises(EncryptedFile):
        parsers.read_document(ole, "encrypted")


# --------------------------------------------------------------------------- CSV


def _form_csv(delimiter: str = ",") -> str:
    heads = list(fields(4))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["附件4 考核任务申报表"] + [""] * (len(heads) - 1))
    writer.writerow(["填报单位：南郑区财政局"] + [""] * (len(heads) - 1))
    writer.writerow(heads)
    for row in sample_rows(4, 3):
        writer.writerow([str(row.get(h, "")) for h in heads])
    return out.getvalue()


@pytest.mark.parametrize(
    ("encoding", "bom", "name", "delimiter"),
    [
        ("utf-8", b"\xef\xbb\xbf", "附件4.csv", ","),
        ("utf-8", b"", "附件4.csv", ","),
        ("gbk", b"", "附件4.csv", ","),
        ("gb18030", b"", "附件4.txt", "\t"),
    ],
)
def test_csv_forms_in_chinese_encodings_are_read_as_tables(
    encoding: str, bom: bytes, name: str, delimiter: str
) -> None:
    text = _form_csv(delimiter)
    if encoding == "gb18030":
        text = text.replace("南郑区财政局", "南郑区财政局𠀾")  # outside GBK: only GB18030 has it
    data = bom + text.encode(encoding)
    assert detect_type(data, name) == "csv"
    assert contract_type("csv") == "text"
    doc = parsers.read_document(data, "csv")
    form = extract_form(doc, 4, SCHEMAS)
    assert len(form.rows) == 3
    assert form.unit_line is not None and form.unit_line.startswith("南郑区财政局")


def test_plain_text_is_not_taken_for_csv() -> None:
    note = "您好，附件是我单位的申报表。\r\n请查收，谢谢！\r\n联系人：张三，电话 0916-1234567\r\n"
    assert detect_type(note.encode("gbk"), "说明.txt") == "text"

"""The xlsx report: sheets, statuses with fills, frozen headers, print setup; LibreOffice."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader

from reports.model import StatusReport
from reports.render_xlsx import render_xlsx
from tests.support.report_samples import sample_report


def workbook(report: StatusReport | None = None):  # type: ignore[no-untyped-def]
    return load_workbook(BytesIO(render_xlsx(report or sample_report(), cli="kaohe -c c.toml")))


def row_of(ws: Worksheet, unit: str) -> int:
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, 2).value == unit:
            return r
    raise AssertionError(unit)


def annex_col(ws: Worksheet, annex: int) -> int:
    for c in range(1, ws.max_column + 1):
        if str(ws.cell(1, c).value or "").startswith(f"附件{annex}（"):
            return c
    raise AssertionError(annex)


def test_sheets_in_order() -> None:
    assert workbook().sheetnames == ["总览", "明细", "逾期名单", "待认领", "纸质版"]


def test_overview_counts_and_progress() -> None:
    ws = workbook()["总览"]
    rows = {
        ws.cell(r, 1).value: [ws.cell(r, c).value for c in range(2, 11)]
        for r in range(1, ws.max_row + 1)
    }
    # 单位数, 报齐, 应报, 已报送, 逾期报送, 无法读取, 未报送, 逾期未报, 完成率
    assert rows["合计"] == [4, 1, 9, 5, 1, 1, 0, 2, pytest.approx(6 / 9)]
    assert rows["区直部门"][:3] == [2, 0, 6]
    assert "逾期 3 天" in ws["A2"].value
    assert ws.page_setup.orientation == "landscape"


def test_detail_statuses_fills_and_paper() -> None:
    ws = workbook()["明细"]
    c4, c6 = annex_col(ws, 4), annex_col(ws, 6)
    czj = row_of(ws, "南郑区财政局")
    assert ws.cell(czj, c4).value == "已报送"
    # ARGB: the alpha byte differs by writer (openpyxl 00, XlsxWriter FF), Excel ignores it
    assert ws.cell(czj, c4).fill.fgColor.rgb[2:] == "C6EFCE"
    assert ws.cell(czj, c4 + 5).value.date().isoformat() == "2020-03-13"  # paper copy
    assert ws.cell(czj, c6).value == "逾期未报"
    assert ws.cell(czj, c6).fill.fgColor.rgb[2:] == "FFC7CE"
    fgj = row_of(ws, "南郑区发展和改革局")
    assert ws.cell(fgj, c4).value == "逾期报送"
    assert "“分值”不是数字" in ws.cell(fgj, c6 + 6).value
    hs = row_of(ws, "汉山街道办")
    assert ws.cell(hs, c4).value == "已报送（非必报）"
    assert ws.cell(hs, annex_col(ws, 2)).value == "无需报送"


def test_frozen_header_autofilter_and_print_setup() -> None:
    wb = workbook()
    for name, freeze in (("明细", "D3"), ("逾期名单", "C2"), ("待认领", "B2")):
        ws = wb[name]
        assert ws.freeze_panes == freeze, name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A"), name
        assert ws.page_setup.orientation == "landscape"
        assert ws.column_dimensions["B"].width >= 15
        if name == "明细":  # one annex per page across, at a readable scale
            # absent (XlsxWriter) or "0" (openpyxl): not fitted, the scale applies
            assert not ws.sheet_properties.pageSetUpPr.fitToPage
            assert 75 <= ws.page_setup.scale <= 100 and ws.print_title_cols == "$A:$C"
            assert [b.id for b in ws.col_breaks.brk] == [10, 17, 24]
        else:
            # fitToWidth absent means 1 (the OOXML default; XlsxWriter writes only others)
            assert (ws.page_setup.fitToWidth or 1) == 1 and ws.page_setup.fitToHeight == 0
            assert ws.sheet_properties.pageSetUpPr.fitToPage is True


def test_follow_up_sheet_has_contacts_and_what_is_missing() -> None:
    ws = workbook()["逾期名单"]
    units = [ws.cell(r, 2).value for r in range(2, ws.max_row + 1)]
    assert units == ["南郑区财政局", "南郑区发展和改革局", "汉山街道办"]
    assert [ws.cell(2, c).value for c in (4, 5, 6)] == ["王会计", "13800000001", "czj@nz.gov.cn"]
    assert "加密文件" in ws.cell(3, 7).value


def test_unassigned_sheet_commands_and_untrusted_text() -> None:
    report = sample_report()
    evil = dataclasses.replace(report.unassigned[0], subject='=HYPERLINK("http://x","点我")\x07')
    report = dataclasses.replace(report, unassigned=[evil, *report.unassigned[1:]])
    ws = workbook(report)["待认领"]
    assert (
        ws.cell(2, 7).value == "kaohe -c c.toml assign b1b2c3d4e5f6 --unit 〈单位名称〉 --annex 4"
    )
    subject = ws.cell(2, 3)
    assert subject.data_type == "s"
    assert subject.value == 'someone@qq.com\n主题：=HYPERLINK("http://x","点我")'
    assert ws.cell(3, 4).value == "材料.zip › 表.docx"
    assert ws.cell(3, 6).value.endswith("\n可能是：汉山街道办、大河坎镇")


def soffice() -> str | None:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice 未安装：apt-get install -y libreoffice-calc-nogui")
        pytest.skip("LibreOffice not installed")
    return found


@pytest.mark.integration
def test_libreoffice_converts_to_pdf(tmp_path: Path) -> None:
    exe = soffice()
    src = tmp_path / "报送情况.xlsx"
    src.write_bytes(render_xlsx(sample_report()))
    profile = (tmp_path / "profile").as_uri()
    done = subprocess.run(
        [
            str(exe),
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path / "out"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "out" / "报送情况.pdf"
    assert pdf.exists(), done.stdout + done.stderr
    pages = PdfReader(pdf).pages
    assert len(pages) >= 4  # at least one page per sheet
    box = pages[1].mediabox
    assert box.width > box.height  # landscape
    text = "".join(p.extract_text() for p in pages)
    assert "逾期未报" in text and "南郑区财政局" in text

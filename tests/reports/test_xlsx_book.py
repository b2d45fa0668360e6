"""reports.xlsx_book stores cells as their XML itself: every kind of value reads back
as XlsxWriter's own writer would have written it."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook

from reports.xlsx_book import LONG_TEXT, Book, Style
from tests.support.report_samples import TZ


def _read(book: Book) -> Any:
    return load_workbook(BytesIO(book.to_bytes()))["s"]


def test_values_styles_and_formats_read_back() -> None:
    book = Book()
    ws = book.sheet("s", [10, 10, 10, 10], fit_from=1)
    ws.put_row(1, 1, ("<a & b>", "=SUM(A1)", "", None))
    ws.put_row(2, 1, (3, 0.25, datetime(2020, 3, 21, 9, 30, tzinfo=TZ), date(2020, 3, 22)))
    ws.put(3, 2, "加粗", Style(bold=True, fill="C6EFCE", colour="006100"))
    ws.put(3, 3, datetime(2020, 3, 21, 9, 30), Style(bold=True))
    ws.put(4, 1, "一\n二\n三")
    ws.fit_heights()
    sheet = _read(book)
    assert [c.value for c in sheet[1]] == ["<a & b>", "=SUM(A1)", None, None]
    assert sheet["B1"].data_type == "s"  # text, never a formula
    assert [c.value for c in sheet[2]] == [
        3,
        0.25,
        datetime(2020, 3, 21, 9, 30),
        datetime(2020, 3, 22),
    ]
    assert (sheet["C2"].number_format, sheet["D2"].number_format) == (
        "yyyy-mm-dd hh:mm",
        "yyyy-mm-dd",
    )
    assert sheet["C1"].border.left.style == "thin" and sheet["D1"].border.left.style == "thin"
    assert sheet["B3"].font.b and sheet["B3"].fill.fgColor.rgb.endswith("C6EFCE")
    assert sheet["C3"].font.b and sheet["C3"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet.row_dimensions[4].height == 3 * 16.5 + 3
    assert sheet.max_row == 4 and sheet.max_column == 4


def test_long_text_cut_at_excels_limit() -> None:
    book = Book()
    ws = book.sheet("s", [10])
    ws.put(1, 1, "𠀀" * LONG_TEXT + "x")  # 2 UTF-16 units each: over 32,767 units
    ws.put(2, 1, "字" * 40000)
    sheet = _read(book)
    assert len(sheet["A1"].value.encode("utf-16-le")) // 2 <= 32767
    assert len(sheet["A2"].value) == 32767


def test_a_number_excel_cannot_store_is_refused() -> None:
    ws = Book().sheet("s", [10])
    with pytest.raises(TypeError):
        ws.put(1, 1, float("nan"))

"""Blank and filled forms of any campaign (not only the 2020 annexes), for learn tests.

``docx_form``/``xlsx_form`` take a title, one header row (or a parent row with
"" under a span and a child row), and rows as lists of cell values.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import docx
import openpyxl

UNIT_LINE = "填报单位（盖章）："
FOOTER = "填表人：          联系电话："


def docx_form(
    annex_line: str,
    title: str,
    headers: Sequence[Sequence[str]],
    rows: Sequence[Sequence[Any]] = (),
    unit: str = "",
) -> bytes:
    """A Word form: 附件N line, title, unit line, the table, a footer line."""
    document = docx.Document()
    for line in (annex_line, title, UNIT_LINE + unit):
        document.add_paragraph(line)
    width = len(headers[0])
    table = document.add_table(rows=len(headers) + len(rows), cols=width)
    for r, row in enumerate([*headers, *rows]):
        for c, value in enumerate(row):
            if value not in (None, ""):
                table.cell(r, c).text = str(value)
    if len(headers) == 2:
        _docx_merges(table, headers)
    document.add_paragraph(FOOTER)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_merges(table: Any, headers: Sequence[Sequence[str]]) -> None:
    parent, child = headers
    for c, top in enumerate(parent):
        if top and not child[c]:
            table.cell(0, c).merge(table.cell(1, c))  # vertical: no child under it
        elif top:
            end = c
            while end + 1 < len(parent) and not parent[end + 1]:
                end += 1
            if end > c:
                text = top
                table.cell(0, c).merge(table.cell(0, end))
                table.cell(0, c).text = text


def xlsx_form(
    annex_line: str,
    title: str,
    headers: Sequence[Sequence[str]],
    rows: Sequence[Sequence[Any]] = (),
    unit: str = "",
) -> bytes:
    """An Excel form: title row merged across, unit line, the header, the rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = annex_line
    width = len(headers[0])
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.append([UNIT_LINE + unit])
    for head in headers:
        sheet.append([h or None for h in head])
    for row in rows:
        sheet.append(list(row))
    sheet.append([FOOTER])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

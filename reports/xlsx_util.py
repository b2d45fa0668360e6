"""openpyxl helpers shared by the status report and the consolidated export.

Everything that keeps Excel from showing a repair prompt lives here: control
characters removed, over-long text cut, and text that starts with ``=`` kept
as text (never a formula — mail subjects and form cells are untrusted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from copy import copy
from datetime import date, datetime
from functools import cache
from io import BytesIO
from typing import Any
from weakref import WeakKeyDictionary

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from reports.xlsx_text import (
    A4_LANDSCAPE_UNITS,
    DATE_FORMAT,
    DEFAULT_WIDTH,
    MIN_SCALE,
    TIME_FORMAT,
    block_scale,
    clean_text,
    fit_width,
    line_count,
    row_height,
)

__all__ = ["clean_text", "fit_width", "line_count"]  # shared with the status report

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)

# Per workbook: the style of each (number format, bold, fill, colour, wrap) put() has
# written. Setting border/alignment/font/fill through openpyxl's descriptors hashes
# the style objects on every cell (70% of a 500-unit report); copying the finished
# style array of an identical earlier cell costs nothing.
_STYLES: WeakKeyDictionary[Any, dict[tuple[Any, ...], StyleArray]] = WeakKeyDictionary()


def put(
    ws: Worksheet,
    row: int,
    col: int,
    value: Any,
    *,
    bold: bool = False,
    fill: PatternFill | None = None,
    colour: str | None = None,
    wrap: bool = True,
) -> Cell:
    """Write one bordered cell; strings are cleaned and always stay text."""
    cell = ws.cell(row=row, column=col)
    fresh = not cell.has_style  # before the value: openpyxl styles a cell given a date
    number_format = None
    if isinstance(value, datetime):
        cell.value = value.replace(tzinfo=None)  # Excel has no time zones: local time
        number_format = TIME_FORMAT
    elif isinstance(value, date):
        cell.value = value
        number_format = DATE_FORMAT
    elif isinstance(value, str):
        cell.value = clean_text(value)
        cell.data_type = "s"  # "=…" from a mail subject must not become a formula
    else:
        cell.value = value
    if not fresh:  # styled before: apply on top of what is there
        _style(cell, number_format, bold, fill, colour, wrap)
        return cell
    styles = _STYLES.setdefault(ws.parent, {})
    # id(): hashing an openpyxl style object walks all its fields; fill() hands out one
    # object per colour, so its identity is a cheap, exact key.
    key = (number_format, bold, None if fill is None else id(fill), colour, wrap)
    done = styles.get(key)
    if done is not None:
        cell._style = copy(done)
        return cell
    _style(cell, number_format, bold, fill, colour, wrap)
    styles[key] = copy(cell._style)
    return cell


def _style(
    cell: Cell,
    number_format: str | None,
    bold: bool,
    fill: PatternFill | None,
    colour: str | None,
    wrap: bool,
) -> None:
    if number_format is not None:
        cell.number_format = number_format
    cell.border = BORDER
    cell.alignment = WRAP if wrap else Alignment(vertical="top")
    if bold or colour:
        cell.font = Font(bold=bold, color=colour)
    if fill is not None:
        cell.fill = fill


@cache
def fill(rgb: str) -> PatternFill:
    """The solid fill of a colour (one shared object per colour; treat it as read-only)."""
    return PatternFill("solid", fgColor=rgb)


def header_row(ws: Worksheet, row: int, titles: Sequence[str], start: int = 1) -> None:
    for i, title in enumerate(titles):
        c = put(ws, row, start + i, title, bold=True, fill=HEADER_FILL)
        c.alignment = CENTER


def set_widths(ws: Worksheet, widths: Iterable[float]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def table_sheet(ws: Worksheet, header_rows: int, freeze_col: int = 1) -> None:
    """Frozen header (and first columns), autofilter over the data, print setup."""
    last_col = max(ws.max_column, 1)
    last_row = max(ws.max_row, header_rows)
    ws.freeze_panes = ws.cell(row=header_rows + 1, column=freeze_col)
    ws.auto_filter.ref = f"A{header_rows}:{get_column_letter(last_col)}{last_row}"
    ws.print_title_rows = f"1:{header_rows}"
    print_setup(ws)


def print_setup(ws: Worksheet) -> None:
    """Landscape A4, all columns on one page width, as many pages down as needed."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4


def new_workbook() -> Workbook:
    wb = Workbook()
    if wb.active is not None:
        wb.remove(wb.active)
    return wb


def to_bytes(wb: Workbook) -> bytes:
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def fit_row_heights(ws: Worksheet, first_row: int) -> None:
    """Set each row's height from its tallest wrapped text cell (:func:`row_height`)."""
    merged = {cell for r in ws.merged_cells.ranges for cell in r.cells}
    widths = {
        col: ws.column_dimensions[get_column_letter(col)].width or DEFAULT_WIDTH
        for col in range(1, ws.max_column + 1)
    }
    for row in ws.iter_rows(min_row=first_row):
        lines = max(
            (
                line_count(c.value, widths[c.column])
                for c in row
                if isinstance(c.value, str) and c.value and (c.row, c.column) not in merged
            ),
            default=1,
        )
        if (height := row_height(lines)) is not None:
            ws.row_dimensions[row[0].row].height = height


def print_by_column_blocks(
    ws: Worksheet, title_cols: str, breaks: Iterable[int], page_width: float
) -> None:
    """Print a wide sheet as several pages across (no fit to width): a page break
    after each column in *breaks*, *title_cols* on every page, scaled so that
    *page_width* column units (titles + the widest block) fit one A4 width."""
    print_setup(ws)
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.page_setup.scale = block_scale(page_width)
    ws.print_title_cols = title_cols
    for col in breaks:
        ws.col_breaks.append(Break(id=col))


def fit_pages_across(ws: Worksheet, total_width: float, title_cols: str = "A:A") -> None:
    """Fit to as many A4 landscape pages across as keep the text at ≥ 8 pt (one when it
    fits), *title_cols* repeated on each; readable widths on screen stay as they are."""
    pages = max(1, math.ceil(total_width * MIN_SCALE / 100 / A4_LANDSCAPE_UNITS))
    ws.page_setup.fitToWidth = pages
    if pages > 1:
        ws.print_title_cols = title_cols

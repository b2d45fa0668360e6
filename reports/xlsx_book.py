"""XlsxWriter helpers for the status report: bordered cells at a constant cost each,
row heights measured as the cells are written, the print setup.

XlsxWriter writes a cell as it is given (no cell objects, no style hashing), and
:class:`Sheet` stores each cell as its finished XML in XlsxWriter's table: a 5,000-unit
明细 of ~190,000 cells is written in about half a second, where openpyxl took four. The same safety rules as :mod:`reports.xlsx_util`: control characters
removed, over-long text cut, strings always written as strings (never formulas).
Rows and columns are 1-based here, as in openpyxl.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from io import BytesIO
from math import isfinite
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from reports.xlsx_text import (
    DATE_FORMAT,
    DEFAULT_WIDTH,
    TIME_FORMAT,
    block_scale,
    clean_text,
    line_count,
    row_height,
)

BORDER_COLOUR = "BFBFBF"
HEADER_FILL = "DDEBF7"
A4 = 9  # paper size code
# openpyxl's margins (inches), which the print layout was tuned with; 0.4" left and right
MARGINS = {"left": 0.4, "right": 0.4, "top": 1.0, "bottom": 1.0}
HEADER_MARGIN = 0.5
LONG_TEXT = 32767 // 2  # longer text may exceed 32,767 UTF-16 units: XlsxWriter checks it


@dataclass(frozen=True)
class Style:
    """How a cell looks; :meth:`Book.format` turns it into one shared XlsxWriter format."""

    bold: bool = False
    fill: str | None = None  # hex RGB
    colour: str | None = None  # text colour, hex RGB
    center: bool = False  # centred both ways (headers); else top-aligned
    number_format: str | None = None
    size: int | None = None  # points; None = the default 11
    border: bool = True  # a table cell (thin grey border); False: a line of text
    wrap: bool = True


PLAIN = Style()
HEADER = Style(bold=True, fill=HEADER_FILL, center=True)


class Book:
    """One workbook in memory; sheets are added in order, :meth:`to_bytes` closes it."""

    def __init__(self) -> None:
        self._buf = BytesIO()
        self.wb = xlsxwriter.Workbook(self._buf, {"in_memory": True})
        self._formats: dict[Style, Format] = {}

    def format(self, style: Style) -> Format:
        found = self._formats.get(style)
        if found is None:
            found = self._formats[style] = self.wb.add_format(_properties(style))
        return found

    def sheet(self, name: str, widths: Sequence[float], fit_from: int | None = None) -> Sheet:
        """A new sheet with column *widths*; rows from *fit_from* on get their height
        from their tallest wrapped text (:func:`reports.xlsx_text.row_height`)."""
        ws = self.wb.add_worksheet(name, worksheet_class=_FastCells)
        return Sheet(self, ws, widths, fit_from)

    def to_bytes(self) -> bytes:
        self.wb.close()
        return self._buf.getvalue()


class _FastCells(Worksheet):
    """XlsxWriter's worksheet, with cells :class:`Sheet` stores already as their XML
    (``<c r="B3" s="2" t="s"><v>17</v></c>``, as XlsxWriter would write them):
    XlsxWriter's own writer stores a tuple per cell and later builds and escapes an
    attribute list for it, most of the time of a 5,000-unit workbook."""

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        if cell.__class__ is str:
            self.fh.write(cell)
        else:
            super()._write_cell(row, col, cell)

    def _write_rows(self) -> None:
        """XlsxWriter's, without looking up every column of every row: a row's cells
        in column order, the row with its height and span as XlsxWriter writes it."""
        if self.comments:
            super()._write_rows()
            return
        self._calculate_spans()
        write, table, info, spans = self.fh.write, self.table, self.row_info, self.row_spans
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells = table.get(row)
            if cells:
                self._write_row(row, spans.get(row // 16), info.get(row))
                for col in sorted(cells):
                    cell = cells[col]
                    if cell.__class__ is str:
                        write(cell)
                    else:
                        super()._write_cell(row, col, cell)
                write("</row>")
            elif row in info:
                self._write_empty_row(row, spans.get(row // 16), info[row])

    def _calculate_spans(self) -> None:
        """The columns used in each block of 16 rows (XlsxWriter's, row by row)."""
        if self.comments:
            super()._calculate_spans()
            return
        blocks: dict[int, tuple[int, int]] = {}
        for row, cells in self.table.items():
            if cells:
                low, high = min(cells), max(cells)
                block = blocks.get(row // 16)
                if block is not None:
                    low, high = min(low, block[0]), max(high, block[1])
                blocks[row // 16] = (low, high)
        self.row_spans = {n: f"{low + 1}:{high + 1}" for n, (low, high) in blocks.items()}


COLUMNS_NAMED = 256
COLUMN_NAMES = [xl_col_to_name(c) for c in range(COLUMNS_NAMED)]  # A, B, … for column 0, 1, …


def _properties(style: Style) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if style.center:
        out |= {"align": "center", "valign": "vcenter"}
    elif style.border:  # a table cell: text from the top of a tall row
        out["valign"] = "top"
    if style.wrap:
        out["text_wrap"] = True
    if style.border:
        out |= {"border": 1, "border_color": f"#{BORDER_COLOUR}"}
    if style.bold:
        out["bold"] = True
    if style.colour:
        out["font_color"] = f"#{style.colour}"
    if style.size:
        out["font_size"] = style.size
    if style.fill:
        out |= {"pattern": 1, "bg_color": f"#{style.fill}"}
    if style.number_format:
        out["num_format"] = style.number_format
    return out


class Sheet:
    """One worksheet written cell by cell; tracks what openpyxl would call max_row/column."""

    def __init__(
        self, book: Book, ws: Worksheet, widths: Sequence[float], fit_from: int | None
    ) -> None:
        self.book, self.ws = book, ws
        self.widths = list(widths)
        self.fit_from = fit_from
        self.lines: dict[int, int] = {}  # row -> lines of its tallest wrapped text
        self.max_row = self.max_col = 0
        for i, w in enumerate(self.widths):
            # XlsxWriter pads a width given in characters as Excel's UI does; 7 pixels per
            # unit (Calibri 11) writes the width itself, as openpyxl did: same print scale.
            ws.set_column_pixels(i, i, round(w * 7))
        self._time = book.format(Style(number_format=TIME_FORMAT))
        self._plain = book.format(PLAIN)
        self._serials: dict[date, str] = {}

    def put(self, row: int, col: int, value: Any, style: Style = PLAIN) -> None:
        """Write one cell (bordered, wrapped unless *style* says otherwise)."""
        self.put_row(row, col, (value,), style)

    def put_row(self, row: int, col: int, values: Iterable[Any], style: Style = PLAIN) -> None:
        """Cells left to right from *col*, all in one *style*.

        Each cell is stored as its XML in XlsxWriter's table (:class:`_FastCells`), as
        XlsxWriter's ``write_*`` would write it: text as a shared string, a date as a
        serial number; the rows's height is measured from its wrapped text."""
        fmt = self._plain if style is PLAIN else self.book.format(style)
        ws, r = self.ws, row - 1
        cells, strings = ws.table[r], ws.str_table
        xf = f'{row}" s="{fmt._get_xf_index()}"'
        fit = self.fit_from is not None and row >= self.fit_from
        lines = self.lines.get(row, 1)
        c = first = col - 1
        for value in values:
            at = f'<c r="{COLUMN_NAMES[c] if c < COLUMNS_NAMED else xl_col_to_name(c)}{xf}'
            if value is None or value == "":
                cells[c] = f"{at}/>"
            elif isinstance(value, str):
                value = clean_text(value)
                if len(value) > LONG_TEXT:  # XlsxWriter cuts it at Excel's UTF-16 limit
                    ws.write_string(r, c, value, fmt)
                else:
                    cells[c] = f'{at} t="s"><v>{strings._get_shared_string_index(value)}</v></c>'
                if fit:
                    width = self.widths[c] if c < len(self.widths) else DEFAULT_WIDTH
                    n = line_count(value, width)
                    if n > lines:
                        lines = n
            else:
                cells[c] = self._number(row, c, value, fmt, style)
            c += 1
        if c == first:
            return
        if ws._check_dimensions(r, first) or (c - 1 > first and ws._check_dimensions(r, c - 1)):
            raise ValueError(f"cells outside the worksheet: row {row}, columns {col}..{c}")
        if lines > 1:
            self.lines[row] = lines
        if row > self.max_row:
            self.max_row = row
        if c > self.max_col:
            self.max_col = c

    def _number(self, row: int, c: int, value: Any, fmt: Format, style: Style) -> str:
        """The XML of a number or date cell (a date in *style* with a date format)."""
        if value.__class__ is int:
            number = f"{value:.16G}"
        elif isinstance(value, date):
            if isinstance(value, datetime):  # Excel has no time zones: local time
                fmt = self._time if style is PLAIN else self._dated(style, TIME_FORMAT)
                value = value.replace(tzinfo=None)
            else:
                fmt = self._dated(style, DATE_FORMAT)
            number = self._serials.get(value) or self._serial(value)
        elif isfinite(value):
            number = f"{value:.16G}"
        else:  # XlsxWriter refuses these too
            raise TypeError(f"not a number Excel can store: {value!r}")
        name = COLUMN_NAMES[c] if c < COLUMNS_NAMED else xl_col_to_name(c)
        return f'<c r="{name}{row}" s="{fmt._get_xf_index()}"><v>{number}</v></c>'

    def _serial(self, moment: date) -> str:
        """A (naive) date or time as Excel's serial number, as XlsxWriter computes it
        (kept: a unit's annexes mostly come in one mail, at one time)."""
        number = self._serials[moment] = f"{self.ws._convert_date_time(moment):.16G}"
        return number

    def _dated(self, style: Style, number_format: str) -> Format:
        if style.number_format:
            return self.book.format(style)
        return self.book.format(replace(style, number_format=number_format))

    def text(self, row: int, col: int, value: str, style: Style | None = None) -> None:
        """A cell of text without border or wrap (titles, lines above a table)."""
        fmt = self.book.format(style) if style else None
        self.ws.write_string(row - 1, col - 1, clean_text(value), fmt)
        self.max_row, self.max_col = max(self.max_row, row), max(self.max_col, col)

    def header_row(self, row: int, titles: Sequence[str], start: int = 1) -> None:
        self.put_row(row, start, titles, HEADER)

    def merge(self, row: int, first: int, last: int, value: str, style: Style) -> None:
        """One cell across columns *first*..*last* of *row*."""
        fmt = self.book.format(style)
        self.ws.merge_range(row - 1, first - 1, row - 1, last - 1, clean_text(value), fmt)
        self.max_row, self.max_col = max(self.max_row, row), max(self.max_col, last)

    def set_height(self, row: int, points: float) -> None:
        self.ws.set_row(row - 1, points)

    def fit_heights(self) -> None:
        """Write the heights measured while the cells were written."""
        for row, lines in self.lines.items():
            if (height := row_height(lines)) is not None:
                self.ws.set_row(row - 1, height)

    def table(self, header_rows: int, freeze_col: int = 1) -> None:
        """Frozen header (and first columns), autofilter over the data, print setup."""
        self.fit_heights()
        last_col, last_row = max(self.max_col, 1), max(self.max_row, header_rows)
        self.ws.freeze_panes(header_rows, freeze_col - 1)
        self.ws.autofilter(header_rows - 1, 0, last_row - 1, last_col - 1)
        self.ws.repeat_rows(0, header_rows - 1)
        self.print_setup()

    def print_setup(self, fit_width: bool = True) -> None:
        """Landscape A4, centred; all columns on one page width, as many pages down as
        needed (*fit_width*), else at the scale set elsewhere."""
        ws = self.ws
        ws.set_landscape()
        ws.set_paper(A4)
        if fit_width:
            ws.fit_to_pages(1, 0)
        ws.center_horizontally()
        ws.set_margins(**MARGINS)
        ws.set_header("", {"margin": HEADER_MARGIN})
        ws.set_footer("", {"margin": HEADER_MARGIN})

    def print_by_column_blocks(
        self, title_cols: tuple[int, int], breaks: Iterable[int], page_width: float
    ) -> None:
        """Print a wide sheet as several pages across (no fit to width): a page break
        after each column in *breaks*, columns *title_cols* (first, last) on every page,
        scaled so that *page_width* column units (titles + the widest block) fit one A4
        width."""
        self.print_setup(fit_width=False)
        self.ws.set_print_scale(block_scale(page_width))
        self.ws.repeat_columns(title_cols[0] - 1, title_cols[1] - 1)
        self.ws.set_v_pagebreaks(list(breaks))

"""xlsx / xlsb / ods / xls (BIFF8, also WPS .et) -> :class:`Document` with python-calamine.

calamine reads a 50-row form in under a millisecond (openpyxl: ~10 ms) and
reports merged ranges and sheet visibility for every format, so no fallback
reader is needed for merges. xls files calamine refuses are retried with xlrd
(older BIFF variants written by some government systems); bare BIFF2–5 streams
(no OLE2 container) go to xlrd directly.

Before calamine builds a sheet's grid, :mod:`parsers.sheet_guard` measures the
filled rectangle from the XML (xlsx, ods): an oversized sheet is skipped with a
warning, and a workbook with nothing else is refused with a Chinese reason.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from collections.abc import Sequence
from io import BytesIO, StringIO
from typing import Any

import python_calamine as pc

from parsers import ooxml, sheet_guard
from parsers.biff import has_codepage, is_biff_stream
from parsers.errors import EncryptedFile, ParseError
from parsers.model import Document, Table

__all__ = ["read_ods", "read_xls", "read_xlsb", "read_xlsx", "sheet_table"]

_Range = tuple[tuple[int, int], tuple[int, int]]
_MIN_HEADER_CELLS = 3  # a row with fewer filled cells above the table is a title/unit line


def read_xlsx(data: bytes) -> Document:
    """Read every visible worksheet of an .xlsx workbook."""
    try:  # the package detect_type and the XML guard opened, when it is held
        extents = sheet_guard.xlsx_extents(ooxml.package(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ParseError("文件已损坏，无法打开（xlsx）") from exc
    return _read(data, "xlsx", sheet_guard.too_big(extents))


def read_xlsb(data: bytes) -> Document:
    """Read every visible worksheet of an .xlsb (Excel binary) workbook."""
    return _read(data, "xlsb")


def read_ods(data: bytes) -> Document:
    """Read every visible sheet of an OpenDocument spreadsheet (no LibreOffice needed)."""
    try:
        extents = sheet_guard.ods_extents(data)
    except Exception as exc:  # zipfile/lxml errors: calamine would fail the same way
        raise ParseError("文件已损坏，无法打开（ods）") from exc
    for name, extent in sheet_guard.too_big(extents).items():
        # calamine reads every sheet of an .ods when it opens it: one is enough to refuse
        raise ParseError(sheet_guard.reason(name, extent, stopped=True))
    return _read(data, "ods")


def read_xls(data: bytes) -> Document:
    """Read every visible worksheet of a BIFF .xls (or WPS .et) workbook."""
    if is_biff_stream(data[:16]):  # Excel 2.x–5.0 without an OLE2 container
        return _read_xlrd(data, None if has_codepage(data) else "gb18030")
    try:
        return _read(data, "xls")
    except EncryptedFile:
        raise
    except ParseError:
        return _read_xlrd(data)


_SPOOL_BYTES = 4 * 1024 * 1024


def _open_book(data: bytes, kind: str) -> pc.CalamineWorkbook:
    """calamine copies a file-like whole; a large workbook (pictures inside) is read from
    a short-lived temp file instead, which it reads member by member."""
    if len(data) < _SPOOL_BYTES:
        return pc.CalamineWorkbook.from_filelike(BytesIO(data))
    with tempfile.NamedTemporaryFile(suffix=f".{kind}") as tmp:
        tmp.write(data)
        tmp.flush()
        return pc.CalamineWorkbook.from_path(tmp.name)


def _read(data: bytes, kind: str, skip: dict[str, sheet_guard.Extent] | None = None) -> Document:
    """All visible worksheets but those in *skip* (too big to read: a warning each)."""
    reason = f"文件已损坏，无法打开（{kind}）"
    skip = skip or {}
    try:
        book = _open_book(data, kind)
        visible = [
            meta.name
            for meta in book.sheets_metadata
            if meta.visible == pc.SheetVisibleEnum.Visible
            and meta.typ == pc.SheetTypeEnum.WorkSheet
        ]
        sheets = [(name, book.get_sheet_by_name(name)) for name in visible if name not in skip]
        grids = [
            (name, sheet.to_python(skip_empty_area=False), sheet.merged_cell_ranges or [])
            for name, sheet in sheets
        ]
    except pc.PasswordError as exc:
        raise EncryptedFile() from exc
    except Exception as exc:  # calamine raises CalamineError subclasses and pyo3 panics
        raise ParseError(reason) from exc
    except BaseException as exc:  # pyo3 PanicException derives from BaseException
        if type(exc).__name__ == "PanicException":
            raise ParseError(reason) from exc
        raise
    tables = [sheet_table(name, values, merges) for name, values, merges in grids]
    skipped = [sheet_guard.reason(name, skip[name]) for name in visible if name in skip]
    if skipped and not sheets:
        name = next(name for name in visible if name in skip)
        raise ParseError(sheet_guard.reason(name, skip[name], stopped=True))
    return _document(kind, [t for t in tables if t.rows or t.before], tuple(skipped))


def _document(kind: str, tables: list[Table], warnings: tuple[str, ...] = ()) -> Document:
    lines = tuple(line for t in tables for line in t.before)
    return Document(kind, tuple(tables), lines, warnings)


def sheet_table(name: str, values: Sequence[Sequence[Any]], merges: Sequence[_Range]) -> Table:
    """One sheet as a :class:`Table`: merges resolved, title rows moved to ``before``."""
    # calamine hands most cells over as str ("" when empty): those skip cell_text's checks
    grid = [[v.strip() if type(v) is str else cell_text(v) for v in row] for row in values]
    _resolve_merges(grid, merges)
    grid = _trim(grid)
    start = _table_start(grid)
    before = tuple(
        line for line in ("  ".join(c for c in row if c) for row in grid[:start]) if line
    )
    return Table(tuple(tuple(row) for row in grid[start:]), before, f"sheet {name}")


def cell_text(value: Any) -> str:
    """Cell text as a clerk would read it: ``5.0`` -> ``"5"``, dates as ISO dates."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _resolve_merges(grid: list[list[str]], merges: Sequence[_Range]) -> None:
    """Vertical merges repeat the top-left text down the left-most column; others stay ""."""
    height = len(grid)
    for (r0, c0), (r1, c1) in merges:
        if r0 >= height or c0 >= len(grid[r0]):
            continue
        text = grid[r0][c0]
        for r in range(r0, min(r1, height - 1) + 1):
            row = grid[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                row[c] = text if c == c0 else ""


def _trim(grid: list[list[str]]) -> list[list[str]]:
    """Drop trailing all-empty rows and columns; make the grid rectangular."""
    while grid and not any(grid[-1]):
        grid.pop()
    width = max((_last_filled(row) for row in grid), default=0)
    return [(row + [""] * (width - len(row)))[:width] for row in grid]


def _last_filled(row: list[str]) -> int:
    for i in range(len(row) - 1, -1, -1):
        if row[i]:
            return i + 1
    return 0


def _table_start(grid: list[list[str]]) -> int:
    """Index of the first row that looks like a table row (≥3 filled cells).

    Rows above it are the sheet title (merged across) and the 填报单位 row.
    """
    need = min(_MIN_HEADER_CELLS, len(grid[0]) if grid else 1)
    for i, row in enumerate(grid):
        if sum(1 for c in row if c) >= need:
            return i
    return next((i for i, row in enumerate(grid) if any(row)), 0)


def _read_xlrd(data: bytes, encoding: str | None = None) -> Document:
    """Old BIFF files calamine refuses; *encoding* for text without a CODEPAGE record."""
    import xlrd

    try:
        book = xlrd.open_workbook(
            file_contents=data, formatting_info=True, on_demand=True, logfile=StringIO(),
            encoding_override=encoding,
        )  # fmt: skip
        tables = [_xlrd_table(book, sheet) for sheet in book.sheets() if sheet.visibility == 0]
    except Exception as exc:  # xlrd raises XLRDError, CompDocError, struct.error, ...
        if "encrypted" in str(exc).lower():
            raise EncryptedFile() from exc
        raise ParseError("文件已损坏，无法打开（xls）") from exc
    return _document("xls", [t for t in tables if t.rows or t.before])


def _xlrd_table(book: Any, sheet: Any) -> Table:
    import xlrd

    values: list[list[Any]] = []
    for r in range(sheet.nrows):
        row: list[Any] = []
        for cell in sheet.row(r):
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
            elif cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_EMPTY):
                row.append("")
            else:
                row.append(cell.value)
        values.append(row)
    merges = [((r0, c0), (r1 - 1, c1 - 1)) for r0, r1, c0, c1 in sheet.merged_cells]
    return sheet_table(sheet.name, values, merges)

"""Cheap size checks on a spreadsheet's XML before python-calamine builds its grids.

calamine allocates the whole rectangle from A1 to the farthest filled cell: an
xlsx of a few KB with one cell at XFD1048576 asks for 549 GB and aborts the
process; an .ods cell repeated a billion times each way does the same through
``table:number-columns-repeated`` / ``number-rows-repeated``. These checks
stream the sheet parts once (a few ms for a form) and report every sheet whose
filled rectangle exceeds :data:`MAX_SHEET_CELLS`; the reader skips those sheets.

A sheet's ``<dimension>`` is not trusted either way: calamine only uses it as a
hint, and a lying one is harmless; the cells themselves decide.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import IO

from lxml import etree

MAX_SHEET_CELLS = 2_000_000  # rows × columns from A1: a form has a few thousand
_CHUNK = 4 << 20
_OVERLAP = 64  # longer than any cell tag up to its r attribute
_CELL_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\b[^<>]*?\sr="([A-Z]{1,3})([0-9]{1,7})"')
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODS_TAGS = tuple(
    f"{{{_TABLE}}}{t}" for t in ("table", "table-row", "table-cell", "covered-table-cell")
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class Extent:
    """The filled rectangle of one sheet, counted from A1."""

    rows: int
    columns: int

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def too_big(extents: dict[str, Extent]) -> dict[str, Extent]:
    """The sheets whose rectangle is over :data:`MAX_SHEET_CELLS`."""
    return {name: e for name, e in extents.items() if e.cells > MAX_SHEET_CELLS}


def reason(name: str, extent: Extent, stopped: bool = False) -> str:
    """Clerk-readable text for a sheet that was not read (*stopped*: nor anything else)."""
    size = f"{extent.rows}行×{extent.columns}列"
    if stopped:
        return f"表格范围过大（工作表“{name}”：{size}），文件过大或结构异常，已停止读取"
    return f"工作表“{name}”范围过大（{size}），疑似异常文件，未读取"


# --------------------------------------------------------------------------- xlsx


def xlsx_extents(zf: zipfile.ZipFile) -> dict[str, Extent]:
    """Sheet name -> filled extent, for every worksheet the workbook lists."""
    out: dict[str, Extent] = {}
    for name, part in _xlsx_sheets(zf):
        try:
            info = zf.getinfo(part)
        except KeyError:
            continue
        with zf.open(info) as f:
            out[name] = _scan_cells(f)
    return out


def _xlsx_sheets(zf: zipfile.ZipFile) -> Iterator[tuple[str, str]]:
    """(sheet name, part path) from xl/workbook.xml and its relationships."""
    try:
        book = etree.fromstring(zf.read("xl/workbook.xml"), _PARSER)
        rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"), _PARSER)
    except (KeyError, etree.LxmlError):
        return
    targets = {rel.get("Id"): str(rel.get("Target", "")) for rel in rels}
    for sheet in book.iter(f"{_S}sheet"):
        target = targets.get(sheet.get(_R_ID), "")
        if target:
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            yield str(sheet.get("name", "")), posixpath.normpath(path)


def _scan_cells(f: IO[bytes]) -> Extent:
    rows = cols = 0
    tail = b""
    while chunk := f.read(_CHUNK):
        text = tail + chunk
        refs = _CELL_REF.findall(text)
        if refs:  # a form's sheet has thousands of refs in a handful of columns
            letters, digits = zip(*refs, strict=True)
            rows = max(rows, *map(int, digits))
            cols = max(cols, *map(_column, set(letters)))
        tail = text[-_OVERLAP:]
    return Extent(rows, cols)


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


# --------------------------------------------------------------------------- ods


def ods_extents(data: bytes) -> dict[str, Extent]:
    """Table name -> filled extent, repeats included, from content.xml (streamed)."""
    with zipfile.ZipFile(BytesIO(data)) as zf, zf.open("content.xml") as f:
        return _scan_ods(f)


@dataclass
class _OdsState:
    row: int = 0
    col: int = 0
    max_row: int = 0
    max_col: int = 0
    row_filled: bool = False


def _scan_ods(f: IO[bytes]) -> dict[str, Extent]:
    out: dict[str, Extent] = {}
    state = _OdsState()
    table_tag, row_tag = _ODS_TAGS[0], _ODS_TAGS[1]
    for event, el in etree.iterparse(f, events=("start", "end"), tag=_ODS_TAGS, **_ITER):
        if event == "start":
            if el.tag == table_tag:
                state = _OdsState()
            elif el.tag == row_tag:
                state.col, state.row_filled = 0, False
            continue
        if el.tag == table_tag:
            out[str(el.get(f"{{{_TABLE}}}name", ""))] = Extent(state.max_row, state.max_col)
        elif el.tag == row_tag:
            state.row += _repeat(el, "number-rows-repeated")
            if state.row_filled:
                state.max_row = state.row
        else:
            _ods_cell(state, el)
        el.clear(keep_tail=False)
    return out


_ITER = {"resolve_entities": False, "no_network": True, "huge_tree": False}


def _ods_cell(state: _OdsState, el: etree._Element) -> None:
    state.col += _repeat(el, "number-columns-repeated")
    if len(el) or el.get(f"{{{_OFFICE}}}value-type") is not None:
        state.row_filled = True
        state.max_col = max(state.max_col, state.col)


def _repeat(el: etree._Element, attr: str) -> int:
    try:
        return max(1, int(el.get(f"{{{_TABLE}}}{attr}", "1")))
    except ValueError:
        return 1

"""Build a small .xlsb (Excel binary workbook) in code.

LibreOffice reads .xlsb but has no export filter for it, so the tests write one
with the few BIFF12 records a reader needs ([MS-XLSB] 2.1.4 record layout):
workbook.bin (BrtBeginBook, BrtBeginBundleShs, BrtBundleSh, BrtEndBundleShs,
BrtEndBook) and one worksheet (BrtBeginSheet, BrtWsDim, BrtBeginSheetData,
BrtRowHdr, BrtCellSt / BrtCellReal, BrtEndSheetData, BrtEndSheet).
"""

from __future__ import annotations

import io
import struct
import zipfile

_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def varint(n: int) -> bytes:
    """A 7-bit variable-length integer (BIFF12 record headers; RAR5 uses the same)."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _record(kind: int, body: bytes = b"") -> bytes:
    return varint(kind) + varint(len(body)) + body


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def _workbook(sheet: str) -> bytes:
    bundle = struct.pack("<II", 0, 1) + _wide("rId1") + _wide(sheet)  # visible, tab id
    return b"".join(
        [
            _record(0x0083),  # BrtBeginBook
            _record(0x008F),  # BrtBeginBundleShs
            _record(0x009C, bundle),  # BrtBundleSh
            _record(0x0090),  # BrtEndBundleShs
            _record(0x0084),  # BrtEndBook
        ]
    )


def _cell(col: int, value: str | float) -> bytes:
    head = struct.pack("<II", col, 0)  # column, style 0
    if isinstance(value, str):
        return _record(0x0006, head + _wide(value))  # BrtCellSt
    return _record(0x0005, head + struct.pack("<d", float(value)))  # BrtCellReal


def _sheet(cells: dict[tuple[int, int], str | float]) -> bytes:
    last_row = max((r for r, _ in cells), default=0)
    last_col = max((c for _, c in cells), default=0)
    dim = struct.pack("<IIII", 0, last_row, 0, last_col)
    out = [_record(0x0081), _record(0x0094, dim), _record(0x0091)]
    for r in sorted({r for r, _ in cells}):
        out.append(_record(0x0000, struct.pack("<IIHBBB", r, 0, 0, 0, 0, 0) + b"\x00" * 4))
        out.extend(_cell(c, cells[r, c]) for c in sorted(c for rr, c in cells if rr == r))
    out += [_record(0x0092), _record(0x0082)]  # BrtEndSheetData, BrtEndSheet
    return b"".join(out)


def xlsb_bytes(rows: list[list[str | float]], sheet: str = "Sheet1") -> bytes:
    """An .xlsb with one worksheet holding *rows* (strings inline, numbers as doubles)."""
    cells = {(r, c): v for r, row in enumerate(rows) for c, v in enumerate(row) if v != ""}
    return xlsb_cells(cells, sheet)


def xlsb_cells(cells: dict[tuple[int, int], str | float], sheet: str = "Sheet1") -> bytes:
    """An .xlsb with one worksheet holding *cells* at (row, column), both from 0."""
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
        '<Override PartName="/xl/worksheets/sheet1.bin" ContentType="application/vnd.ms-excel.worksheet"/>'
        "</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" Target="xl/workbook.bin"/>'
        "</Relationships>"
    )
    wb_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet1.bin"/>'
        "</Relationships>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr("_rels/.rels", root_rels)
        zf.writestr("xl/workbook.bin", _workbook(sheet))
        zf.writestr("xl/_rels/workbook.bin.rels", wb_rels)
        zf.writestr("xl/worksheets/sheet1.bin", _sheet(cells))
    return buf.getvalue()

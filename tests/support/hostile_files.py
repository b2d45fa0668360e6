"""Hostile and unusual office files, built in code (see tests/parsers, tests/integration).

Each builder returns the file's bytes. They reproduce files seen in the wild
(FIELD-NOTES "Measured in turn 2"): a sheet claiming the whole XFD1048576 grid,
a Word cell spanning thirty million columns, an .ods cell repeated a billion
times each way, plus old BIFF2 Excel, RAR5 symlinks and CSV in Chinese encodings.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from tests.support.xlsb import varint

_CT = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
{overrides}
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="{target}"/>
</Relationships>"""
_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _zip(parts: dict[str, str | bytes], stored_first: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if stored_first is not None:
            zf.writestr(zipfile.ZipInfo(stored_first), parts[stored_first], zipfile.ZIP_STORED)
        for name, data in parts.items():
            if name != stored_first:
                zf.writestr(name, data)
    return buf.getvalue()


def xlsx_with_cells(cells: dict[str, str], dimension: str | None = None) -> bytes:
    """A one-sheet xlsx with inline-string cells at the given refs (``{"A1": "x"}``)."""
    rows: dict[int, list[str]] = {}
    for ref, text in cells.items():
        row = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(row, []).append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_S}">{dim}<sheetData>{body}</sheetData></worksheet>'
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_S}" xmlns:r="{_R}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    )
    overrides = (
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    )
    return _zip(
        {
            "[Content_Types].xml": _CT.format(overrides=overrides),
            "_rels/.rels": _RELS.format(target="xl/workbook.xml"),
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": wb_rels,
            "xl/worksheets/sheet1.xml": sheet,
        }
    )


def xfd_xlsx() -> bytes:
    """A few KB of xlsx whose sheet claims (and uses) the whole A1:XFD1048576 grid."""
    return xlsx_with_cells({"A1": "附件4", "XFD1048576": "x"}, dimension="A1:XFD1048576")


def docx_with_body(body: str) -> bytes:
    """A minimal docx whose body is *body* (WordprocessingML, ``w:`` prefix)."""
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
    )
    overrides = (
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document.main+xml"/>'
    )
    return _zip(
        {
            "[Content_Types].xml": _CT.format(overrides=overrides),
            "_rels/.rels": _RELS.format(target="word/document.xml"),
            "word/document.xml": document,
        }
    )


def _tc(text: str, props: str = "") -> str:
    pr = f"<w:tcPr>{props}</w:tcPr>" if props else ""
    return f"<w:tc>{pr}<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"


def gridspan_docx(span: int = 30_000_000) -> bytes:
    """Under 1 KB compressed: one table cell spanning *span* grid columns."""
    row1 = "<w:tr>" + _tc("序号") + _tc("名称", f'<w:gridSpan w:val="{span}"/>') + "</w:tr>"
    row2 = "<w:tr>" + _tc("1", '<w:vMerge w:val="restart"/>') + _tc("x") + "</w:tr>"
    row3 = f'<w:tr><w:trPr><w:gridBefore w:val="{span}"/></w:trPr>' + _tc("y") + "</w:tr>"
    table = (
        "<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>" + row1 + row2 + row3 + "</w:tbl>"
    )
    return docx_with_body("<w:p><w:r><w:t>表格</w:t></w:r></w:p>" + table)


_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"'
)
_ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"


def ods_with_rows(rows_xml: str, manifest_extra: str = "") -> bytes:
    """An .ods whose one sheet holds *rows_xml* (``table:table-row`` elements)."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS}>'
        f'<office:body><office:spreadsheet><table:table table:name="Sheet1">{rows_xml}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{_ODS_MIME}"/>'
        f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{manifest_extra}'
        "</manifest:file-entry></manifest:manifest>"
    )
    return _zip(
        {"mimetype": _ODS_MIME, "content.xml": content, "META-INF/manifest.xml": manifest},
        stored_first="mimetype",
    )


def ods_cell(text: str, repeat: int = 1) -> str:
    rep = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return f'<table:table-cell office:value-type="string"{rep}><text:p>{text}</text:p></table:table-cell>'


def ods_row(cells: str, repeat: int = 1) -> str:
    rep = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-row{rep}>{cells}</table:table-row>"


def repeated_ods(n: int = 999_999_999) -> bytes:
    """About 1 KB: one filled cell repeated *n* times across and *n* times down."""
    return ods_with_rows(ods_row(ods_cell("附件4")) + ods_row(ods_cell("x", n), n))


def encrypted_ods_manifest() -> bytes:
    """An .ods whose manifest says content.xml is encrypted (as LibreOffice writes it)."""
    extra = (
        '<manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:'
        'xmlns:manifest:1.0#sha256-1k" manifest:checksum="AAAA">'
        '<manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc" '
        'manifest:initialisation-vector="AAAA"/></manifest:encryption-data>'
    )
    return ods_with_rows(ods_row(ods_cell("x")), manifest_extra=extra)


# --------------------------------------------------------------------------- BIFF2


def _biff(record: int, body: bytes) -> bytes:
    return struct.pack("<HH", record, len(body)) + body


def biff2_xls(rows: list[list[str | float]], codepage: int | None = 936) -> bytes:
    """An Excel 2.1 worksheet (BIFF2, no OLE container): BOF, CODEPAGE, DIMENSIONS, cells, EOF.

    Labels are GBK bytes; *codepage* None leaves the CODEPAGE record out (old files do).
    """
    height = len(rows)
    width = max((len(r) for r in rows), default=0)
    out = [_biff(0x0009, struct.pack("<HH", 0x0007, 0x0010))]  # BOF: version, worksheet
    if codepage is not None:
        out.append(_biff(0x0042, struct.pack("<H", codepage)))
    out.append(_biff(0x0000, struct.pack("<HHHH", 0, height, 0, width)))  # DIMENSIONS
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            attrs = b"\x00\x00\x00"
            if isinstance(value, str):
                text = value.encode("cp936")
                body = struct.pack("<HH", r, c) + attrs + bytes([len(text)]) + text
                out.append(_biff(0x0004, body))  # LABEL
            else:
                out.append(
                    _biff(0x0003, struct.pack("<HH", r, c) + attrs + struct.pack("<d", value))
                )
    out.append(_biff(0x000A, b""))  # EOF
    return b"".join(out)


def biff_with_filepass(biff: bytes) -> bytes:
    """*biff* with a FILEPASS record (XOR obfuscation) right after its BOF."""
    (size,) = struct.unpack_from("<H", biff, 2)
    head = 4 + size
    return biff[:head] + _biff(0x002F, struct.pack("<HH", 0x1234, 0x5678)) + biff[head:]


# --------------------------------------------------------------------------- RAR5


def _rar5_block(body: bytes) -> bytes:
    size = varint(len(body))
    return struct.pack("<I", zlib.crc32(size + body)) + size + body


def _rar5_file(name: str, data: bytes, mode: int, link: str | None = None) -> bytes:
    extra = b""
    if link is not None:  # file system redirection record: type 1 = unix symlink
        target = link.encode()
        record = varint(5) + varint(1) + varint(0) + varint(len(target)) + target
        extra = varint(len(record)) + record
    raw = name.encode()
    fields = (
        varint(0x04)  # file flags: CRC32 present
        + varint(len(data))  # unpacked size
        + varint(mode)  # attributes (unix mode)
        + struct.pack("<I", zlib.crc32(data))
        + varint(0)  # compression info: version 0, stored
        + varint(1)  # host OS: unix
        + varint(len(raw))
        + raw
    )
    flags = 0x02 | (0x01 if extra else 0)  # data area present (+ extra area)
    head = varint(2) + varint(flags) + (varint(len(extra)) if extra else b"") + varint(len(data))
    return _rar5_block(head + fields + extra) + data


def rar5_with_symlink(name: str = "表格.xlsx", payload: bytes = b"") -> bytes:
    """A stored RAR5 archive: one regular file and one symlink pointing at it."""
    signature = b"Rar!\x1a\x07\x01\x00"
    main = _rar5_block(varint(1) + varint(0) + varint(0))  # main header, no flags
    regular = _rar5_file(name, payload, 0o100644)
    link = _rar5_file("link-to-form", name.encode(), 0o120777, link=name)
    end = _rar5_block(varint(5) + varint(0) + varint(0))
    return signature + main + regular + link + end


def xfd_xlsb() -> bytes:
    """An .xlsb with cells at A1 and XFD1048576: python-calamine aborts (no guard reads .bin)."""
    from tests.support.xlsb import xlsb_cells

    return xlsb_cells({(0, 0): "附件4", (1_048_575, 16_383): "x"})


def ole_xls_with_filepass(xls: bytes) -> bytes:
    """*xls* (an OLE2 BIFF8 workbook) as a password-protected file would start.

    The first record after the BOF that has room (≥ 6 bytes) becomes a FILEPASS
    record of the same size (XOR obfuscation header), so the Workbook stream keeps
    its length and olefile can write it back in place.
    """
    import os
    import tempfile

    import olefile

    with tempfile.NamedTemporaryFile(suffix=".xls", delete=False) as tmp:
        tmp.write(xls)
    try:
        with olefile.OleFileIO(tmp.name, write_mode=True) as ole:
            stream = bytearray(ole.openstream("Workbook").read())
            pos = 4 + struct.unpack_from("<H", stream, 2)[0]  # past the BOF
            while struct.unpack_from("<H", stream, pos + 2)[0] < 6:
                pos += 4 + struct.unpack_from("<H", stream, pos + 2)[0]
            size = struct.unpack_from("<H", stream, pos + 2)[0]
            body = struct.pack("<HHH", 0, 0x1234, 0x5678).ljust(size, b"\x00")
            stream[pos : pos + 4 + size] = struct.pack("<HH", 0x002F, size) + body
            ole.write_stream("Workbook", bytes(stream))
        with open(tmp.name, "rb") as f:
            return f.read()
    finally:
        os.unlink(tmp.name)

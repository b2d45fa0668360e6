"""Build one file of each format and variant the units send — in code, with real tools.

- docx / xlsx: python-docx / openpyxl (the form builders of ``tests.forms``
  when that module provides them);
- doc / xls / wps / et / rtf / odt / text PDF: a real LibreOffice converts
  those (:func:`soffice_convert`, one batch call per target format);
- encrypted docx / xlsx: real ECMA-376 agile encryption by msoffcrypto-tool;
- a zip made "on Chinese Windows": GBK member names without the UTF-8 flag;
- 7z: py7zr;
- RAR: nothing here can *create* RAR (rar is non-free and absent from Debian
  main; rarfile and unar only read), so :func:`make_rar4_stored` writes a RAR 4
  archive byte by byte with STORED members (format: RARLAB technote, v4 blocks
  with CRC16-of-CRC32 headers). Compressed RAR members go through unar, which
  this corpus cannot exercise.
- scans: a PNG built with zlib, and a PDF that only holds that picture.
"""

from __future__ import annotations

import functools
import io
import shutil
import struct
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import docx

from tests.support.forms import (
    UNIT_LINE,
    cell_value,
    fields,
    make_docx_form,
    make_xlsx_form,
    sample_rows,
)

ANNEX = 4
ROWS = sample_rows(ANNEX, 3)
UNIT = UNIT_LINE.split("：", 1)[1]


# --------------------------------------------------------------------------- native forms


def make_docx(rows: Sequence[Mapping[str, Any]] = ROWS) -> bytes:
    """An annex 4 Word form (title, unit line, table, footer)."""
    return make_docx_form(ANNEX, rows)


def make_xlsx(rows: Sequence[Mapping[str, Any]] = ROWS) -> bytes:
    """An annex 4 Excel form."""
    return make_xlsx_form(ANNEX, rows)


def make_html_xls(rows: Sequence[Mapping[str, Any]] = ROWS) -> bytes:
    """What an old web system exports as ``.xls``: a GB2312-labelled HTML table."""
    names = fields(ANNEX)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell_value(row.get(n))}</td>" for n in names) + "</tr>"
        for row in rows
    )
    head = "<tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f"</head><body><p>附件{ANNEX}</p><p>{UNIT_LINE}</p>"
        f'<table border="1"><tr><td colspan="{len(names)}">考核任务申报表</td></tr>{head}{body}</table>'
        "</body></html>"
    )
    return page.encode("gbk")


# --------------------------------------------------------------------------- LibreOffice


def soffice_convert(files: dict[str, bytes], target: str, timeout: float = 300) -> dict[str, bytes]:
    """Convert ``{name: bytes}`` with one real ``soffice --convert-to`` call.

    Returns ``{stem + "." + target extension: bytes}``; missing outputs are absent.
    """
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is required to build the legacy corpus"
    work = Path(tempfile.mkdtemp(prefix="corpus-soffice-"))
    try:
        for name, data in files.items():
            (work / name).write_bytes(data)
        subprocess.run(
            [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
             "--norestore", "--convert-to", target, "--outdir", str(work / "out"),
             *[str(work / n) for n in files]],
            check=True, timeout=timeout, capture_output=True, env={"HOME": str(work), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        return {p.name: p.read_bytes() for p in (work / "out").iterdir()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- encryption


def encrypt_ooxml(data: bytes, password: str = "123456") -> bytes:
    """Real ECMA-376 agile encryption (what Office's "Encrypt with password" writes)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


# --------------------------------------------------------------------------- archives


class _RawNameZipInfo(zipfile.ZipInfo):
    """A ZipInfo that writes its name in a legacy code page with no UTF-8 flag,
    exactly as the zip tools of Chinese Windows do."""

    encoding = "gbk"

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's name)
        return self.filename.encode(self.encoding), self.flag_bits & ~0x800


def make_zip(
    members: dict[str, bytes],
    gbk: bool | Collection[str] = False,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of *members*; names in ``gbk`` (or all, for True) are GBK bytes without
    the UTF-8 flag, the others are written by zipfile (UTF-8 flag when non-ASCII)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            raw = gbk is True or (not isinstance(gbk, bool) and name in gbk)
            info = _RawNameZipInfo(name) if raw else zipfile.ZipInfo(name)
            info.compress_type = compression
            zf.writestr(info, data)
    return buf.getvalue()


def make_7z(members: dict[str, bytes]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as sz:
        for name, data in members.items():
            sz.writestr(data, name)
    return buf.getvalue()


def _rar_block(head_type: int, flags: int, body: bytes) -> bytes:
    size = 7 + len(body)
    rest = struct.pack("<BHH", head_type, flags, size) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def make_rar4_stored(members: dict[str, bytes]) -> bytes:
    """A RAR 4.x archive with STORED members and UTF-8 names (flag 0x200)."""
    out = [b"Rar!\x1a\x07\x00", _rar_block(0x73, 0, b"\x00" * 6)]
    for name, data in members.items():
        raw_name = name.encode("utf-8")
        body = struct.pack(
            "<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data), 0x50210000, 20, 0x30,
            len(raw_name), 0o100644,
        ) + raw_name  # fmt: skip
        out.append(_rar_block(0x74, 0x8000 | 0x0200, body) + data)
    out.append(_rar_block(0x7B, 0x4000, b""))
    return b"".join(out)


# --------------------------------------------------------------------------- scans


def make_png(width: int = 64, height: int = 48) -> bytes:
    """A grey-scale PNG 'photo' (gradient), built with zlib only."""
    raw = b"".join(b"\x00" + bytes((x * 4 + y) % 256 for x in range(width)) for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_picture_docx() -> bytes:
    """A Word file holding only a photo of the stamped form (converted to a scan PDF)."""
    document = docx.Document()
    document.add_picture(io.BytesIO(make_png(400, 300)))
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- hostile parts


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>&xxe;</w:t></w:r></w:p></w:body></w:document>"
)


def replace_part(ooxml: bytes, part: str, text: str) -> bytes:
    """Rewrite one part of a docx/xlsx (keeping every other member as is)."""
    src = zipfile.ZipFile(io.BytesIO(ooxml))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = text.encode("utf-8") if info.filename == part else src.read(info)
            dst.writestr(info, data)
    return buf.getvalue()


def sheet_with_dtd(entity_decl: str, use: str) -> str:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE worksheet [{entity_decl}]>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{use}</t></is></c></row></sheetData></worksheet>'
    )


def laughs_sheet() -> str:
    """A worksheet whose DTD nests entities ten deep (billion laughs)."""
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    return sheet_with_dtd(entities, "&a9;")


def make_zero_bomb(size: int = 1 << 30, name: str = "zeros.bin") -> bytes:
    """A zip whose one member inflates to *size* zero bytes (~1 MB packed for 1 GiB).

    Built in a fraction of a second: after a full flush deflate restarts from an
    empty window, so the compressed form of one 1 MiB zero block can be repeated.
    """
    block = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    count = size // len(block)
    deflated = unit * count + comp.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return _raw_zip(name.encode(), deflated, crc, count * len(block))


def _raw_zip(name: bytes, deflated: bytes, crc: int, size: int) -> bytes:
    """One deflated member, headers written by hand (sizes < 4 GiB, no zip64)."""
    local = (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(deflated), size, len(name), 0
        )
        + name
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(deflated),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + name
    )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(deflated), 0
    )
    return local + deflated + central + end


def make_nested_zip(depth: int, inner: bytes, inner_name: str = "附件4.xlsx") -> bytes:
    data, name = inner, inner_name
    for level in range(depth):
        data, name = make_zip({name: data}), f"level{level + 1}.zip"
    return data


# --------------------------------------------------------------------------- the corpus

SOFFICE_HINT = "apt-get install -y libreoffice-writer-nogui libreoffice-calc-nogui"


def require_soffice() -> None:
    """Skip without LibreOffice — but fail in CI, where dev.sh must have installed it."""
    import os

    import pytest

    if shutil.which("soffice"):
        return
    if os.environ.get("CI"):
        pytest.fail(f"LibreOffice is missing: {SOFFICE_HINT}")
    pytest.skip(f"LibreOffice is missing: {SOFFICE_HINT}")


@functools.cache
def legacy_files() -> dict[str, bytes]:
    """Files a real LibreOffice made from the native forms, by the name a unit would send.

    Keys: 附件4.doc, 附件4.wps (Word 97 bytes, as WPS writes them), 附件4.rtf,
    附件4-rtf.doc (RTF sent as .doc), 附件4.odt, 附件4.xls, 附件4.et, 附件4.ods,
    附件4.pdf (text layer), 扫描件.pdf (a picture only).
    """
    docx_in = {"form.docx": make_docx(), "scan.docx": make_picture_docx()}
    made: dict[str, bytes] = {}
    for target in ("doc", "rtf", "odt"):
        made.update(soffice_convert({"form.docx": docx_in["form.docx"]}, target))
    made.update(soffice_convert(docx_in, "pdf"))
    for target in ("xls", "ods"):
        made.update(soffice_convert({"form.xlsx": make_xlsx()}, target))
    return {
        "附件4.doc": made["form.doc"], "附件4.wps": made["form.doc"], "附件4.rtf": made["form.rtf"],
        "附件4-rtf.doc": made["form.rtf"], "附件4.odt": made["form.odt"],
        "附件4.xls": made["form.xls"], "附件4.et": made["form.xls"], "附件4.ods": made["form.ods"],
        "附件4.pdf": made["form.pdf"], "扫描件.pdf": made["scan.pdf"],
    }  # fmt: skip

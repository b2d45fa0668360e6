"""Excel's BIFF record stream: old non-OLE files and password records.

Excel 2.x–4.0 (and some 5.0 exports) wrote a bare record stream, not an OLE2
container: the file starts with a BOF record, id ``0x0009`` (BIFF2),
``0x0209`` (BIFF3), ``0x0409`` (BIFF4) or ``0x0809`` (BIFF5+), little-endian.
xlrd reads those; calamine only reads OLE2 workbooks.

A password-protected workbook (any BIFF version) has a FILEPASS record
(``0x002F``) in its globals substream, right after the BOF: everything after
it is obfuscated or RC4-encrypted. Old files without a CODEPAGE record were
written by a Chinese Excel: their text is GBK.
"""

from __future__ import annotations

import struct

BOF_IDS = (0x0009, 0x0209, 0x0409, 0x0809)
FILEPASS = 0x002F
CODEPAGE = 0x0042
_EOF = 0x000A
_BOUNDSHEET = (0x0085, 0x008E)  # BIFF5/8 sheet list: FILEPASS comes before it
# BOF "dt" (substream type): workbook globals, VB module, worksheet, chart, macro, workspace
_SUBSTREAM_TYPES = (0x0005, 0x0006, 0x0010, 0x0020, 0x0040, 0x0100)
_SCAN_RECORDS = 64


def is_biff_stream(head: bytes) -> bool:
    """True when *head* (the file's first bytes) is a bare BIFF2–5 BOF record."""
    if len(head) < 8:
        return False
    record, size = struct.unpack_from("<HH", head)
    if record not in BOF_IDS or not 4 <= size <= 20:
        return False
    (kind,) = struct.unpack_from("<H", head, 6)  # after the version word, in every BIFF
    return kind in _SUBSTREAM_TYPES


def has_filepass(stream: bytes) -> bool:
    """True when the globals substream starting at *stream* declares a password."""
    return _find(stream, FILEPASS) is not None


def has_codepage(stream: bytes) -> bool:
    """True when the stream names its text encoding (a CODEPAGE record before the sheets)."""
    return _find(stream, CODEPAGE) is not None


def _find(stream: bytes, wanted: int) -> int | None:
    """Offset of the first *wanted* record among the leading records of *stream*."""
    pos = 0
    for _ in range(_SCAN_RECORDS):
        if pos + 4 > len(stream):
            return None
        record, size = struct.unpack_from("<HH", stream, pos)
        if record == wanted:
            return pos
        if record == _EOF or record in _BOUNDSHEET:
            return None
        pos += 4 + size
    return None

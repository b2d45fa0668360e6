"""CSV / TSV forms -> :class:`Document` (one table, like one Excel sheet).

Offices export forms as CSV from Excel or WPS in UTF-8 (often with a BOM), GBK
or GB18030. The encoding is sniffed, never guessed from the name: a BOM first,
then a strict UTF-8 decode, then GB18030 (a superset of GBK). The delimiter is
the one (comma, tab, semicolon) that splits the first lines most consistently.
"""

from __future__ import annotations

import csv
import io
from collections import Counter

from parsers.errors import ParseError
from parsers.model import Document

__all__ = ["decode", "looks_delimited", "read_csv"]

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_DELIMITERS = (",", "\t", ";")
_SNIFF_LINES = 20
_MIN_FIELDS = 3
MAX_CELLS = 2_000_000
UNREADABLE = "CSV文件编码无法识别，无法读取"
TOO_BIG = "CSV文件过大（{rows}行×{cols}列），疑似异常文件，未读取"


def decode(data: bytes) -> str:
    """Text of *data*: BOM, else strict UTF-8, else GB18030; ParseError when neither fits."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError(UNREADABLE)


def looks_delimited(head: bytes) -> bool:
    """True when the first lines of *head* split into ≥3 fields consistently."""
    text = _decode_head(head)
    if text is None:
        return False
    lines = [line for line in text.splitlines() if line.strip()]
    if len(head) >= 4096 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut at the edge of the sample
    return len(lines) >= 2 and _delimiter(lines[:_SNIFF_LINES]) is not None


def _decode_head(head: bytes) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return head.decode(encoding)
        except UnicodeDecodeError as e:
            if e.start >= len(head) - 4:  # a character cut at the sample's edge
                return head[: e.start].decode(encoding, errors="replace")
    return None


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter most lines agree on (same field count, at least 3 fields)."""
    best: tuple[int, str] | None = None
    for delim in _DELIMITERS:
        counts = Counter(len(row) for row in csv.reader(lines, delimiter=delim))
        width, agree = counts.most_common(1)[0]
        if width >= _MIN_FIELDS and agree * 10 >= len(lines) * 6:
            if best is None or agree > best[0]:
                best = (agree, delim)
    return best[1] if best else None


def read_csv(data: bytes) -> Document:
    """Read a CSV form into one :class:`~parsers.model.Table` (title lines in ``before``)."""
    from parsers.excel import sheet_table

    text = decode(data)
    lines = [line for line in text.splitlines() if line.strip()][:_SNIFF_LINES]
    delim = _delimiter(lines) or ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=False))
    width = max((len(r) for r in rows), default=0)
    if len(rows) * width > MAX_CELLS:
        raise ParseError(TOO_BIG.format(rows=len(rows), cols=width))
    table = sheet_table("csv", rows, [])
    if not table.rows and not table.before:
        return Document("csv")
    return Document("csv", (table,), table.before)

"""PDF → :class:`Document`: the text layer of a form exported from Word, else a scan.

OCR is out of scope: a PDF without a text layer (a scanned, stamped form) raises
:class:`ScanOnly` so the pipeline records it as received (``仅扫描件``).

Tables are rebuilt from pypdf's *layout* text, where columns line up by
character offset: a line that splits into ≥ 3 fields (runs separated by two or
more spaces) starts a table and fixes the column positions; each later field
goes to the nearest column; a line with an empty first column continues the
row above (a cell that wrapped). A blank line or a single free-standing field
ends the table. When that heuristic finds nothing, the Document has lines only
and the form extractor reports no table.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field

from parsers.errors import EncryptedFile, ParseError, ScanOnly
from parsers.model import Document, Table

logger = logging.getLogger(__name__)

MAX_PAGES = 50  # a declaration form is a few pages; a huge PDF is not worth the time
BROKEN = "PDF文件已损坏，无法读取"
_MIN_TEXT = 10  # fewer meaningful characters than this: no usable text layer
_FIELD = re.compile(r"\S+(?: \S+)*")
_MIN_COLUMNS = 3


def read_pdf(data: bytes) -> Document:
    """Read the text layer; raises ScanOnly, EncryptedFile or ParseError."""
    pages = _page_texts(data)
    if sum(len(re.sub(r"\s", "", p)) for p in pages) < _MIN_TEXT:
        raise ScanOnly()
    lines = [line.rstrip() for page in pages for line in page.splitlines()]
    return _document(lines)


def _page_texts(data: bytes) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # owner-only passwords open with ""
            raise EncryptedFile()
        return [
            page.extract_text(extraction_mode="layout") or "" for page in reader.pages[:MAX_PAGES]
        ]
    except ParseError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError,
            RecursionError, NotImplementedError) as e:  # fmt: skip
        if "cryptography" in str(e) or "AES" in str(e):
            raise EncryptedFile() from e
        logger.info("pypdf could not read the PDF: %s", e)
        raise ParseError(BROKEN) from e


@dataclass
class _Builder:
    """Accumulates the rows of one table while lines stream past."""

    starts: list[int]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, fields: list[tuple[int, str]]) -> None:
        cells = [""] * len(self.starts)
        for start, text in fields:
            col = min(range(len(self.starts)), key=lambda c: abs(self.starts[c] - start))
            cells[col] = f"{cells[col]} {text}".strip() if cells[col] else text
        if cells[0] or not self.rows:
            self.rows.append(cells)
            return
        for col, text in enumerate(cells):  # a wrapped cell: glue onto the row above
            if text:
                self.rows[-1][col] = _join(self.rows[-1][col], text)


def _document(lines: list[str]) -> Document:
    tables: list[Table] = []
    free: list[str] = []
    pending: list[str] = []
    builder: _Builder | None = None
    for line in lines:
        fields = [(m.start(), m.group()) for m in _FIELD.finditer(line)]
        if builder is not None and _continues(builder, fields):
            builder.add(fields)
            continue
        if builder is not None:
            tables.append(_table(builder, pending, len(tables)))
            builder, pending = None, []
        if len(fields) >= _MIN_COLUMNS:
            builder = _Builder([start for start, _ in fields])
            builder.add(fields)
        elif fields:
            text = " ".join(t for _, t in fields)
            free.append(text)
            pending.append(text)
    if builder is not None:
        tables.append(_table(builder, pending, len(tables)))
    return Document(kind="pdf", tables=tuple(tables), lines=tuple(free))


def _continues(builder: _Builder, fields: list[tuple[int, str]]) -> bool:
    if not fields:
        return False  # a blank line ends the table
    if len(fields) == 1 and fields[0][0] <= builder.starts[0] + 1 and len(builder.starts) > 2:
        # one field at the left margin: a paragraph after the table, unless it is
        # short enough to be a lone 序号
        return len(fields[0][1]) <= 4
    return True


def _table(builder: _Builder, before: list[str], index: int) -> Table:
    rows = tuple(tuple(r) for r in builder.rows)
    return Table(rows=rows, before=tuple(before), source=f"page table {index + 1}")


def _join(left: str, right: str) -> str:
    """Join a wrapped cell's parts: no space between CJK characters."""
    if left and right and (_is_cjk(left[-1]) or _is_cjk(right[0])):
        return left + right
    return f"{left} {right}".strip()


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"

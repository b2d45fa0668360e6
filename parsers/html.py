"""HTML "spreadsheets": the ``.xls`` files old web systems export are HTML tables.

Read straight into a :class:`Document` with lxml (no LibreOffice round trip).
Merges follow the model's rule: a ``rowspan`` repeats the text downwards, a
``colspan`` keeps it in the left-most column only. Spans and grid size are
capped so a hostile ``colspan="999999"`` cannot eat memory.
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

from parsers.errors import ParseError
from parsers.model import Document, Table

MAX_SPAN = 1000
MAX_CELLS = 1_000_000
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)
_BLOCKS = ("p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "caption")
_MARK = "\ue000TABLE\ue000"  # a private-use character cannot occur in a real page


def read_html(data: bytes) -> Document:
    """Every top-level ``<table>`` becomes a :class:`Table`; other text becomes lines."""
    text = decode_html(data)
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as e:
        raise ParseError("网页格式的表格无法解析") from e
    for bad in root.xpath("//script|//style|//head"):
        bad.drop_tree()
    tables = [t for t in root.iter("table") if not any(a.tag == "table" for a in t.iterancestors())]
    grids = [_grid(t) for t in tables]
    for t in tables:
        marker = lxml.html.Element("p")
        marker.text = _MARK
        marker.tail = t.tail
        t.getparent().replace(t, marker)
    chunks = _text_lines(root).split(_MARK)
    lines = tuple(line for chunk in chunks for line in _split(chunk))
    built = tuple(
        Table(rows=grid, before=tuple(_split(chunks[i])), source=f"table {i + 1}")
        for i, grid in enumerate(grids)
    )
    return Document(kind="html", tables=built, lines=lines)


def decode_html(data: bytes) -> str:
    """Decode by BOM, then the page's own charset, then UTF-8, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    declared = _CHARSET.search(data[:4096])
    candidates = [declared.group(1).decode("ascii").lower()] if declared else []
    if candidates and candidates[0] in ("gb2312", "gbk", "cp936", "euc-cn", "x-gbk"):
        candidates = ["gb18030"]
    for encoding in [*candidates, "utf-8", "gb18030"]:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("gb18030", "replace")


def _grid(table: lxml.html.HtmlElement) -> tuple[tuple[str, ...], ...]:
    rows = [tr for tr in table.iter("tr") if _owner(tr) is table]
    grid: dict[tuple[int, int], str] = {}
    width = 0
    for r, tr in enumerate(rows):
        c = 0
        for cell in tr:
            if cell.tag not in ("td", "th"):
                continue
            while (r, c) in grid:
                c += 1
            rowspan, colspan = _span(cell, "rowspan"), _span(cell, "colspan")
            text = _cell_text(cell)
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid[(r + dr, c + dc)] = text if dc == 0 else ""
            if len(grid) > MAX_CELLS:
                raise ParseError("网页表格过大，已拒绝")
            c += colspan
            width = max(width, c)
    height = max((r for r, _ in grid), default=-1) + 1
    return tuple(tuple(grid.get((r, c), "") for c in range(width)) for r in range(height))


def _owner(tr: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    return next((a for a in tr.iterancestors() if a.tag == "table"), None)


def _span(cell: lxml.html.HtmlElement, name: str) -> int:
    try:
        return max(1, min(int(cell.get(name, "1")), MAX_SPAN))
    except ValueError:
        return 1


def _cell_text(cell: lxml.html.HtmlElement) -> str:
    for br in cell.iter("br"):
        br.tail = "\n" + (br.tail or "")
    raw = cell.text_content().replace("\xa0", " ")
    return "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())


def _text_lines(root: lxml.html.HtmlElement) -> str:
    for el in root.iter(*_BLOCKS):
        el.tail = "\n" + (el.tail or "")
    return str(root.text_content())


def _split(chunk: str) -> list[str]:
    return [" ".join(line.split()) for line in chunk.splitlines() if line.strip()]

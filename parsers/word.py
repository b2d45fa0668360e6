"""docx -> :class:`Document` by a direct lxml walk of the main document part.

python-docx builds a proxy object per cell and recomputes ``cell.text`` on each
access (≈30 ms per 30-row form); reading ``word/document.xml`` with lxml and
walking ``w:p``/``w:tbl`` in body order costs about a tenth of that. The grid
follows what python-docx 1.2 reports: a vertically merged continuation cell
repeats the text of the cell that starts the merge (``row.cells`` hands back
the same ``_tc``), while a horizontally merged cell (``w:gridSpan``) keeps its
text in the left-most grid column only.

Spans come from the file and are not trusted: ``w:gridSpan``/``w:gridBefore``
are clamped so that no row grows past the table's grid (``w:tblGrid``, at least
64 and at most 512 columns), and a table whose grid would exceed a million
cells is refused. A 949-byte docx with ``gridSpan="30000000"`` once took 34 s
and 1.7 GB here.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Iterator

from lxml import etree

from parsers import ooxml
from parsers.errors import EncryptedFile, ParseError
from parsers.model import Document, Table

__all__ = ["read_docx"]

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _TR, _TC, _SDT = f"{_W}p", f"{_W}tbl", f"{_W}tr", f"{_W}tc", f"{_W}sdt"
_R, _T, _TAB, _BR, _CR = f"{_W}r", f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"
_VAL = f"{_W}val"
_TRPR, _TCPR, _GRID_BEFORE = f"{_W}trPr", f"{_W}tcPr", f"{_W}gridBefore"
_TBLGRID, _GRIDCOL = f"{_W}tblGrid", f"{_W}gridCol"
_GRID_SPAN, _VMERGE, _HMERGE = f"{_W}gridSpan", f"{_W}vMerge", f"{_W}hMerge"
# Run containers whose runs are visible text (deleted runs live in w:del and are skipped).
_RUN_PARENTS = frozenset(
    f"{_W}{tag}" for tag in ("hyperlink", "ins", "smartTag", "fldSimple", "customXml", "sdtContent")
)
_WRAPPERS = _RUN_PARENTS | {_SDT}  # looked through by every walk
_MAX_PART = 64 * 1024 * 1024  # a filled form's document.xml is well under 1 MB
_OFFICE_DOC = "/officeDocument"
# resolve_entities=False: no XXE, no entity expansion (same stance as python-docx).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_CORRUPT = "文件已损坏，无法打开（docx）"
_MIN_COLUMNS, _MAX_COLUMNS = 64, 512  # bounds of a row's width, whatever tblGrid says
_MAX_TABLE_CELLS = 1_000_000
_TABLE_TOO_BIG = "表格过大（{rows}行×{cols}列），文件过大或结构异常，已停止读取"


def read_docx(data: bytes) -> Document:
    """Read a .docx (or .docm/.dotx) into tables and text lines in body order.

    Raises :class:`ParseError` with a Chinese reason for anything that is not a
    readable Word package.
    """
    body = _load_body(data)
    lines: list[str] = []
    tables: list[Table] = []
    pending: list[str] = []
    for kind, element in _walk_body(body):
        if kind == "p":
            text = _paragraph_text(element).strip()
            if text:
                lines.append(text)
                pending.append(text)
        else:
            for rows in _table_grids(element):
                tables.append(Table(rows, tuple(pending), f"table {len(tables) + 1}"))
                pending = []
    return Document("docx", tuple(tables), tuple(lines))


def _load_body(data: bytes) -> etree._Element:
    try:
        package = ooxml.package(data)  # shared with detect_type and the XML guard
        name = _main_part_name(package)
        if package.getinfo(name).file_size > _MAX_PART:
            raise ParseError("文件过大，无法读取（docx）")
        root = etree.fromstring(package.read(name), _PARSER)
    except ParseError:
        raise
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        EOFError,
        zlib.error,
        etree.LxmlError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
            raise EncryptedFile() from exc
        raise ParseError(_CORRUPT) from exc
    body = root.find(f"{_W}body")
    if body is None:
        raise ParseError(_CORRUPT)
    return body


def _main_part_name(package: zipfile.ZipFile) -> str:
    """The main document part named by ``_rels/.rels`` (``word/document.xml`` usually)."""
    try:
        rels = etree.fromstring(package.read("_rels/.rels"), _PARSER)
    except KeyError:
        return "word/document.xml"
    for rel in rels:
        if str(rel.get("Type", "")).endswith(_OFFICE_DOC):
            target = str(rel.get("Target", ""))
            return posixpath.normpath(target.lstrip("/"))
    return "word/document.xml"


def _walk_body(parent: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Yield ("p", el) and ("tbl", el) in body order, looking through content controls."""
    for child in parent:
        tag = child.tag
        if tag == _P:
            yield "p", child
        elif tag == _TBL:
            yield "tbl", child
        elif tag == _SDT or tag in _RUN_PARENTS:
            content = child.find(f"{_W}sdtContent") if tag == _SDT else child
            if content is not None:
                yield from _walk_body(content)


def _paragraph_text(p: etree._Element) -> str:
    # Only direct runs (and runs inside hyperlinks/insertions/fields): text in
    # drawings and text boxes is out of scope and would otherwise appear twice
    # (mc:Choice and mc:Fallback carry the same text).
    parts: list[str] = []
    _collect_runs(p, parts)
    return "".join(parts)


def _collect_runs(parent: etree._Element, parts: list[str]) -> None:
    for child in parent:
        tag = child.tag
        if tag == _R:
            for item in child:
                itag = item.tag
                if itag == _T:
                    parts.append(item.text or "")
                elif itag == _TAB:
                    parts.append("\t")
                elif itag == _BR or itag == _CR:
                    parts.append("\n")
        elif tag in _WRAPPERS:
            _collect_runs(child, parts)


def _table_grids(tbl: etree._Element) -> list[tuple[tuple[str, ...], ...]]:
    """The grid of ``tbl`` followed by the grids of tables nested in its cells."""
    nested: list[etree._Element] = []
    grid = _grid(tbl, nested)
    result = [grid]
    for inner in nested:
        result.extend(_table_grids(inner))
    return result


def _grid(tbl: etree._Element, nested: list[etree._Element]) -> tuple[tuple[str, ...], ...]:
    limit = _column_limit(tbl)
    rows: list[list[str]] = []
    for tr in _children(tbl, _TR):
        rows.append(_row(tr, rows[-1] if rows else None, limit, nested))
    width = max((len(r) for r in rows), default=0)
    if width * len(rows) > _MAX_TABLE_CELLS:
        raise ParseError(_TABLE_TOO_BIG.format(rows=len(rows), cols=width))
    return tuple(tuple(r + [""] * (width - len(r))) for r in rows)


def _row(
    tr: etree._Element, above: list[str] | None, limit: int, nested: list[etree._Element]
) -> list[str]:
    """One table row's cells, no wider than *limit* grid columns."""
    row: list[str] = [""] * min(_grid_before(tr), limit)
    for child in tr:
        tag = child.tag
        if tag == _TC:
            if not _cell(child, row, above, limit, nested):
                break
        elif tag in _WRAPPERS:  # a content control or custom XML around cells
            content = _content(child)
            if content is not None and not all(
                _cell(tc, row, above, limit, nested) for tc in _children(content, _TC)
            ):
                break
    return row


def _cell(
    tc: etree._Element,
    row: list[str],
    above: list[str] | None,
    limit: int,
    nested: list[etree._Element],
) -> bool:
    """Append cell *tc*'s grid columns to *row*; False (nothing added) when it is full."""
    col = len(row)
    if col >= limit:
        return False
    span, merge = 1, None
    content: list[etree._Element] = []  # the cell's paragraphs, tables and wrappers
    for child in tc:  # one pass: the properties, and the content kept for its text
        tag = child.tag
        if tag != _TCPR:
            if tag == _P or tag == _TBL or tag in _WRAPPERS:
                content.append(child)
            continue
        for item in child:
            tag = item.tag
            if tag == _GRID_SPAN:
                span = max(1, _int(item.get(_VAL), 1))
            elif tag == _VMERGE:
                merge = "restart" if item.get(_VAL) == "restart" else "continue"
            elif tag == _HMERGE and merge is None and item.get(_VAL, "continue") == "continue":
                merge = "hcontinue"  # legacy horizontal merge: continuation cells stay ""
    if span > limit - col:
        span = limit - col
    if merge == "continue" and above is not None:
        row.extend(above[col + i] if col + i < len(above) else "" for i in range(span))
    elif merge == "hcontinue":
        row.extend([""] * span)
    else:
        row.append(_cell_text(content, nested))
        if span > 1:
            row.extend([""] * (span - 1))
    return True


def _column_limit(tbl: etree._Element) -> int:
    """The table's declared grid width, kept within [_MIN_COLUMNS, _MAX_COLUMNS]."""
    declared = sum(1 for grid in _child(tbl, _TBLGRID) for _ in _child(grid, _GRIDCOL))
    return min(max(declared, _MIN_COLUMNS), _MAX_COLUMNS)


def _children(parent: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Direct children with ``tag``, looking through w:sdt/w:customXml wrappers."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag == _SDT or child.tag in _RUN_PARENTS:
            content = child.find(f"{_W}sdtContent") if child.tag == _SDT else child
            if content is not None:
                yield from _children(content, tag)


def _grid_before(tr: etree._Element) -> int:
    for prop in _child(tr, _TRPR):
        for item in _child(prop, _GRID_BEFORE):
            return _int(item.get(_VAL), 0)
    return 0


def _child(parent: etree._Element, tag: str) -> Iterator[etree._Element]:
    # Plain iteration: lxml's find() goes through ElementPath, ~30× slower per call.
    for item in parent:
        if item.tag == tag:
            yield item


def _cell_text(content: list[etree._Element], nested: list[etree._Element]) -> str:
    """The text of a cell's *content* (its child elements); its tables go to *nested*."""
    lines: list[str] = []
    for child in content:
        tag = child.tag
        if tag == _P:
            lines.append(_paragraph_text(child))
        elif tag == _TBL:
            nested.append(child)
        elif tag in _WRAPPERS:  # a content control or custom XML around paragraphs
            inner = _content(child)
            for kind, element in _walk_body(inner) if inner is not None else ():
                if kind == "p":
                    lines.append(_paragraph_text(element))
                else:
                    nested.append(element)
    return (lines[0] if len(lines) == 1 else "\n".join(lines)).strip()


def _content(wrapper: etree._Element) -> etree._Element | None:
    """What a wrapper holds: a w:sdt its w:sdtContent, the others themselves."""
    return wrapper.find(f"{_W}sdtContent") if wrapper.tag == _SDT else wrapper


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default

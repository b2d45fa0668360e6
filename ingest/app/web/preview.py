"""What the clerk sees of an attachment before deciding: the first rows as read.

The stored file is read again with the same readers the pipeline used, in the
same parse sandbox (a hostile file stops a capped worker, never the console;
no LibreOffice here: old .doc/.wps files say "download to look"). Only the
first rows and columns are kept, and every cell is text that the template escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.match.untrusted import detect_and_read
from parsers import ParseError

MAX_ROWS = 12
MAX_COLS = 10
MAX_CELL = 80
MAX_LINES = 8
MAX_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True)
class Preview:
    """The head of a file: lines before the table, the table's first rows, or why not."""

    lines: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    more_rows: int = 0
    note: str = ""


def _cell(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def preview_file(path: Path, filename: str) -> Preview:
    """The first rows of *path*'s first table (or its first text lines)."""
    try:
        _kind, doc = detect_and_read(path.read_bytes(), filename, MAX_BYTES)
    except Exception:  # the sandbox itself failed (e.g. no memory for a worker)
        return Preview(note="无法读取这个文件，请下载后查看")
    if isinstance(doc, ParseError):
        return Preview(note=f"无法读取：{doc}")
    if doc is None:
        return Preview(note="这种文件无法在网页中预览，请下载后查看")
    if not doc.tables:
        lines = tuple(_cell(x) for x in doc.lines[:MAX_LINES])
        return Preview(lines=lines, note="" if lines else "文件中没有读到文字")
    table = doc.tables[0]
    rows = tuple(tuple(_cell(c) for c in r[:MAX_COLS]) for r in table.rows[:MAX_ROWS])
    lines = tuple(_cell(x) for x in table.before[-MAX_LINES:])
    return Preview(lines=lines, rows=rows, more_rows=max(0, len(table.rows) - MAX_ROWS))

"""Plain data shared by every parser: what a document looks like once read.

Readers (word, excel, legacy, pdf) turn bytes into a :class:`Document`;
``classify`` picks the annex; ``table`` maps a Document onto an annex schema
and yields :class:`FormResult`. Nothing here touches IMAP, the database or the
config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    """One table as a rectangular grid of cell texts.

    Merges are already resolved: a vertically merged cell repeats its text in
    every row it spans; a horizontally merged cell keeps its text in the
    left-most column only (the others are ""). ``before`` holds the text lines
    (paragraphs, or sheet rows that are not part of the table) between the
    previous table and this one, in document order: titles and the
    ``填报单位：…`` line live there.
    """

    rows: tuple[tuple[str, ...], ...]
    before: tuple[str, ...] = ()
    source: str = ""  # e.g. "table 1", "sheet 附件4 (2)"


@dataclass(frozen=True)
class Document:
    """Everything a reader got out of one file."""

    kind: str  # detected type: docx, xlsx, doc, xls, pdf, ...
    tables: tuple[Table, ...] = ()
    lines: tuple[str, ...] = ()  # all text lines outside tables, in order
    warnings: tuple[str, ...] = ()

    @property
    def head_lines(self) -> tuple[str, ...]:
        """Lines before the first table (or all lines when there is none)."""
        if self.tables:
            return self.tables[0].before
        return self.lines[:20]


@dataclass(frozen=True)
class AnnexGuess:
    """Result of classification: the annex (or None) and why."""

    annex: int | None
    evidence: str  # clerk-readable, e.g. "标题：区直部门…考核任务申报表"
    source: str = ""  # "title" | "header" | "filename" | "subject" | ""
    ambiguous: tuple[int, ...] = ()  # candidates when more than one fits


@dataclass(frozen=True)
class FormResult:
    """Rows of one annex form read from a Document."""

    annex: int
    rows: tuple[dict[str, Any], ...]  # canonical field -> value ("分值" a number where it is one)
    unit_line: str | None = None  # value of the form's own 填报单位/单位名称 line, if any
    warnings: tuple[str, ...] = ()
    header: tuple[str, ...] = ()  # canonical field per column as located ("" = unmapped)

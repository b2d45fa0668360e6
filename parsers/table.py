"""Map a :class:`Document` onto an annex schema: locate the header, read the rows.

A header is the first row (within the top of a table) naming ≥2 canonical
fields of the annex, optionally with a child row under it (two-row headers).
A data row is a row under the header with a non-empty canonical field other
than 序号 (CONTRACT §4); column-number rows, repeated headers, section rows and
signature/date lines are not data rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parsers.errors import NoFormTable
from parsers.model import Document, FormResult, Table
from parsers.schema import AnnexSchema, map_header, normalise_header

__all__ = ["HeaderMemo", "extract_form", "find_unit_line", "locate_header"]

_HEADER_SCAN = 15  # header rows sit at the top of a table
_Row = tuple[str, ...]


@dataclass(frozen=True)
class Header:
    """Where a table's header is and what each column means."""

    start: int  # first header row
    end: int  # first row after the header (and its column-number row)
    fields: tuple[str | None, ...]  # canonical field per column
    labels: tuple[str, ...]  # header text per column, for the "extra" keys
    sources: tuple[str, ...]  # the header cell text each field was mapped from
    texts: frozenset[str]  # normalised header cell texts, to spot repeated headers


class HeaderMemo:
    """Each table's header per annex schema in one Document, located once.

    Classification locates the header of every table for every annex; extraction
    and the template check then reuse what it found. A memo serves one analysis of
    one document: make a new one for another document (it keeps the schemas it
    was asked about, so the ids it files them under stay theirs).
    """

    __slots__ = ("doc", "_found")

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._found: dict[int, tuple[AnnexSchema, dict[int, Header | None]]] = {}

    def header(self, index: int, schema: AnnexSchema) -> Header | None:
        """The header of ``doc.tables[index]`` for ``schema`` (:func:`locate_header`)."""
        entry = self._found.get(id(schema))
        if entry is None:
            entry = self._found[id(schema)] = (schema, {})
        headers = entry[1]
        try:
            return headers[index]
        except KeyError:
            header = headers[index] = locate_header(self.doc.tables[index].rows, schema)
            return header

    @classmethod
    def of(cls, doc: Document, memo: HeaderMemo | None) -> HeaderMemo:
        """``memo`` when given (it must be ``doc``'s), else a new one for ``doc``."""
        if memo is None:
            return cls(doc)
        if memo.doc is not doc:
            raise ValueError("HeaderMemo of another document")
        return memo


def extract_form(
    doc: Document,
    annex: int,
    schemas: Mapping[int, AnnexSchema],
    memo: HeaderMemo | None = None,
) -> FormResult:
    """Rows of ``annex`` from every matching table of ``doc``, in order.

    Raises :class:`NoFormTable` when no table has a header of that annex. A form
    whose header matches but has no data rows gives ``rows=()`` (空白模板).
    ``memo`` holds the headers classification already located in ``doc``.
    """
    schema = schemas[annex]
    located = list(_matching_tables(doc.tables, schema, HeaderMemo.of(doc, memo)))
    if not located:
        raise NoFormTable(f"未找到附件{annex}的表格（表头不符）")
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    names = schema.field_names
    numeric = schema.numeric_fields
    for table, header in located:
        for row in _data_rows(table.rows, header):
            rows.append(_record(row, header, names, numeric, len(rows) + 1, warnings))
    first = located[0][1]
    unit = find_unit_line(_unit_candidates(doc, located))
    header_names = tuple(name or "" for name in first.fields)
    return FormResult(annex, tuple(rows), unit, tuple(warnings), header_names)


def _matching_tables(
    tables: Sequence[Table], schema: AnnexSchema, memo: HeaderMemo
) -> Iterator[tuple[Table, Header]]:
    """Tables with this annex's header, plus header-less continuations of them."""
    seen: set[tuple[_Row, ...]] = set()
    previous: Header | None = None
    for index, table in enumerate(tables):
        if not table.rows or table.rows in seen:
            continue  # the same table reported twice counts once
        seen.add(table.rows)
        header = memo.header(index, schema)
        if header is None and previous is not None and _continues(table, previous):
            header = Header(
                -1, 0, previous.fields, previous.labels, previous.sources, previous.texts
            )
        if header is not None:
            previous = header
            yield table, header
        else:
            previous = None


def _continues(table: Table, previous: Header) -> bool:
    """A header-less table right after a form table, as wide: the form went on."""
    return not table.before and len(table.rows[0]) == len(previous.fields)


def locate_header(rows: Sequence[_Row], schema: AnnexSchema) -> Header | None:
    """The header of ``rows`` for ``schema`` (one or two rows), or None."""
    for r in range(min(len(rows), _HEADER_SCAN)):
        mapped = [map_header(cell, schema) for cell in rows[r]]
        if len({m for m in mapped if m}) < 2:
            continue
        start = r
        if r > 0 and any(map_header(c, schema) for c in rows[r - 1]):
            if _is_child_row(rows[r - 1], rows[r], schema):
                start = r - 1
        if start == r and r + 1 < len(rows) and _is_child_row(rows[r], rows[r + 1], schema):
            fields, labels, sources = _combine(rows[r], rows[r + 1], schema)
            end = r + 2
        elif start < r:
            fields, labels, sources = _combine(rows[start], rows[r], schema)
            end = r + 1
        else:
            fields, labels, sources = _dedupe(mapped), tuple(rows[r]), tuple(rows[r])
            end = r + 1
        if end < len(rows) and _is_number_row(rows[end]):
            end += 1
        texts = frozenset(normalise_header(c) for row in rows[start:end] for c in row if c.strip())
        return Header(start, end, fields, labels, sources, texts)
    return None


def _group_texts(parent: _Row) -> list[str]:
    """Per column, the parent text spanning it (a horizontal merge leaves "" to its right)."""
    groups: list[str] = []
    current = ""
    for cell in parent:
        current = cell or current
        groups.append(current)
    return groups


def _is_child_row(parent: _Row, child: _Row, schema: AnnexSchema) -> bool:
    """Is ``child`` the second row of a two-row header under ``parent``?

    Every filled child cell must repeat the cell above (vertical merge), name a
    field, or sit under a parent cell spanning several filled child cells.
    """
    groups = _group_texts(parent)
    span_children: dict[str, int] = {}
    for i, cell in enumerate(child):
        if cell and cell != parent[i]:
            span_children[groups[i]] = span_children.get(groups[i], 0) + 1
    new = False
    for i, cell in enumerate(child):
        if not cell or cell == parent[i]:
            continue
        if map_header(cell, schema):
            new = True
        elif groups[i] and span_children.get(groups[i], 0) >= 2:
            new = True
        else:
            return False
    return new


def _combine(
    parent: _Row, child: _Row, schema: AnnexSchema
) -> tuple[tuple[str | None, ...], _Row, _Row]:
    """Fields, labels and sources of a two-row header: a naming child wins over its parent."""
    groups = _group_texts(parent)
    fields: list[str | None] = []
    labels: list[str] = []
    sources: list[str] = []
    for i, (top, below) in enumerate(zip(parent, child, strict=False)):
        if not below or below == top:
            fields.append(map_header(top, schema) if top else None)
            labels.append(top)
            sources.append(top)
            continue
        name = map_header(below, schema)
        sources.append(below if name else groups[i])
        if name is None and groups[i]:
            name = map_header(groups[i], schema)
        fields.append(name)
        labels.append(f"{groups[i]}/{below}" if groups[i] else below)
    return _dedupe(fields), tuple(labels), tuple(sources)


def _dedupe(fields: Iterable[str | None]) -> tuple[str | None, ...]:
    """Each canonical field maps to its first column only; later ones go to "extra"."""
    seen: set[str] = set()
    result: list[str | None] = []
    for name in fields:
        result.append(name if name and name not in seen else None)
        if name:
            seen.add(name)
    return tuple(result)


_INT = re.compile(r"^\d+$")


def _is_number_row(row: _Row) -> bool:
    """A column-number row "1 2 3 4 …" printed under the header (≥3 filled cells)."""
    expected = 1  # the filled cells must read 1, 2, 3 …: stop at the first that does not
    for cell in row:
        if not cell.strip():
            continue
        text = unicodedata.normalize("NFKC", cell).strip()
        if not _INT.match(text) or int(text) != expected:
            return False
        expected += 1
    return expected > 3


_FOOTER = re.compile(
    r"^(?:(?:填表人|填报人|制表人|审核人|审核|单位主要负责人|主要负责人|单位负责人|负责人"
    r"|填报日期|填表日期|日期|联系人|联系电话|电话|填报单位|单位名称|单位)(?:\([^)]*\))?(?::|$)"
    r"|注\d*[:.、]|说明[:])"
)
_SECTION = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十]+\))")


def _data_rows(rows: Sequence[_Row], header: Header) -> Iterator[_Row]:
    named = [i for i, name in enumerate(header.fields) if name and name != "序号"]
    for row in rows[header.end :]:
        filled = [c for c in row if c]
        if not filled or _FOOTER.match(normalise_header(filled[0])):
            continue
        if _is_number_row(row) or _is_repeat(filled, header):
            continue
        if len(filled) == 1 and _SECTION.match(normalise_header(filled[0])):
            continue  # "一、经济发展类" merged across the row
        width = len(row)
        if any(row[i] for i in named if i < width):
            yield row


def _is_repeat(filled: list[str], header: Header) -> bool:
    """The header printed again (on each page)."""
    same = sum(1 for c in filled if normalise_header(c) in header.texts)
    return same >= 2 and same * 2 >= len(filled)


def _record(
    row: _Row,
    header: Header,
    names: tuple[str, ...],
    numeric: frozenset[str],
    number: int,
    warnings: list[str],
) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(names)
    extra: dict[str, str] = {}
    fields = header.fields
    width = len(fields)
    for i, cell in enumerate(row):
        name = fields[i] if i < width else None
        if name is None:
            if cell:
                label = header.labels[i] if i < len(header.labels) else ""
                extra[label.strip() or f"第{i + 1}列"] = cell
        elif cell:
            record[name] = _number(cell, name, number, warnings) if name in numeric else cell
    if extra:
        record["extra"] = extra
    return record


_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)分?$")
_SPACES = re.compile(r"\s+")


def _number(text: str, name: str, number: int, warnings: list[str]) -> int | float | str:
    """ "5", "5分", "５", "5.0", " 3.5 " -> 5 / 3.5; other text kept with a warning."""
    match = _NUMBER.match(_SPACES.sub("", unicodedata.normalize("NFKC", text)))
    if match is None:
        warnings.append(f"第{number}行“{name}”不是数字：{text}")
        return text
    value = float(match.group(1))
    return int(value) if value.is_integer() else value


def _unit_candidates(doc: Document, located: list[tuple[Table, Header]]) -> Iterator[str]:
    yield from doc.head_lines
    for table, header in located:
        yield from table.before
        for row in table.rows[: max(header.start, 0)]:
            yield "  ".join(c for c in row if c)
    for table, header in located:
        for row in table.rows[header.end :]:
            filled = [c for c in row if c]
            if filled and _FOOTER.match(normalise_header(filled[0])):
                yield "  ".join(filled)
    yield from doc.lines


_S = r"[\s\u3000]*"
_LABEL = (
    _S.join("填报单位")
    + "|"
    + _S.join("申报单位")
    + "|"
    + _S.join("报送单位")
    + "|"
    + _S.join("单位名称")
)
_SEAL = (
    r"[（(]"
    + _S
    + r"(?:盖"
    + _S
    + "章|公"
    + _S
    + "章|签"
    + _S
    + "章|签"
    + _S
    + r"字|章)"
    + _S
    + r"[)）]"
)
_UNIT_RE = re.compile(
    rf"(?:(?:{_LABEL}){_S}(?:{_SEAL})?{_S}[:：]?|单{_S}位{_S}(?:{_SEAL}{_S}[:：]?|[:：])){_S}(?P<value>.*)"
)
_TRAILER = re.compile(
    "|".join(
        _S.join(word)
        for word in (
            "填报日期",
            "填表日期",
            "报送日期",
            "日期",
            "联系人",
            "联系电话",
            "电话",
            "填表人",
            "时间",
        )
    )
    + rf"|{_SEAL}|\d{{4}}{_S}年"
)
_JUNK = re.compile(r"[\s\u3000_＿:：;；,，。.、]+")


def find_unit_line(lines: Iterable[str]) -> str | None:
    """The unit named on a ``填报单位（盖章）：…`` / ``单位名称：…`` line, or None.

    Handles full/half-width brackets and colons, spaced-out labels and a
    trailing 填报日期/日期/联系人 part; a blank template line is skipped.
    """
    for line in lines:
        match = _UNIT_RE.search(line)
        if match is None:
            continue
        value = match.group("value")
        cut = _TRAILER.search(value)
        if cut is not None:
            value = value[: cut.start()]
        value = _JUNK.sub("", value)
        if len(value) >= 2:
            return value
    return None

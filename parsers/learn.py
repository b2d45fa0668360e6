"""Learn a campaign's annexes from the office's own blank forms (CONTRACT §11).

A template is a submission with no rows: the same readers give a
:class:`Document`; here its header row(s) become the fields instead of being
matched against known ones. :func:`learn_template` returns a
:class:`LearnedAnnex` with the warnings of everything it had to guess;
:func:`render_toml` writes them as an editable, commented ``annexes.toml``
that :func:`parsers.schema.schemas_from_toml` reads back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from parsers import read_document
from parsers.detect import detect_type
from parsers.errors import ParseError
from parsers.legacy import Converter
from parsers.model import Document
from parsers.schema import AnnexSchema, FieldSpec, normalise_header

__all__ = ["LearnedAnnex", "learn_document", "learn_templates", "to_schemas"]

_ANNEX_NO = re.compile(r"附\s*件\s*([0-9]{1,2}|[一二三四五六七八九十])(?![0-9])")
_NUMERALS = dict(zip("一二三四五六七八九十", range(1, 11), strict=True))
_NUMERIC_WORDS = ("分值", "权重", "金额", "分数", "得分", "资金", "投资")
_NUMERIC_SUFFIX = re.compile(r"[(（]\s*(?:分|万元|亿元|元|%|％)\s*[)）]\s*$")
_UNIT_LABELS = ("填报单位", "申报单位", "报送单位", "单位名称")
_SEQ = ("序号", "编号")
_NAME_HINT = re.compile(r"(名称|事项)$")
_TITLE_MAX = 80
_HEADER_SCAN = 15
_YEAR_PART = re.compile(r"^(?:申报)?20\d\d\s*年度?")


@dataclass(frozen=True)
class LearnedAnnex:
    """One annex as read from a blank form, with what had to be guessed."""

    number: int | None
    title: str
    fields: tuple[FieldSpec, ...]
    unit_line: str
    source: str  # the template's file name
    warnings: tuple[str, ...] = ()

    @property
    def keywords(self) -> tuple[str, ...]:
        """The title without its ``申报2021年度`` part: last year's forms name it too."""
        rest = _YEAR_PART.sub("", re.sub(r"\s+", "", self.title))
        return (rest,) if rest and rest != re.sub(r"\s+", "", self.title) and len(rest) >= 4 else ()


def learn_templates(
    files: Sequence[tuple[str, bytes]], timeout_seconds: float = 120.0
) -> list[LearnedAnnex]:
    """Learn every blank form (name, bytes); legacy ones go through one LibreOffice run.

    Raises :class:`ParseError` (Chinese, naming the file) for a file that cannot be read.
    """
    out: list[LearnedAnnex] = []
    with Converter(timeout_seconds=timeout_seconds) as converter:
        for name, data in files:
            kind = detect_type(data, name)
            try:
                doc = read_document(data, kind, converter)
            except ParseError as e:
                raise ParseError(f"{name}：{e}") from None
            out.append(learn_document(doc, name))
    return out


def learn_document(doc: Document, filename: str) -> LearnedAnnex:
    """Read the annex number, title, fields and unit line of one blank form."""
    warnings: list[str] = []
    grid, before = _main_table(doc)
    start, names = _header(grid, warnings)
    lines = [*doc.head_lines, *before, *(c for row in grid[:start] for c in row if c)]
    footer = [c for row in grid[start:] for c in row if c]
    sheets = [t.source for t in doc.tables]  # an Excel sheet is often named 附件N
    number = _annex_number(filename, [*lines[:8], *sheets])
    if number is None:
        warnings.append("文件名和表格开头都没有“附件N”，附件编号需要手工填写")
    title = _title(lines)
    if not title:
        warnings.append("没有找到表格标题，请手工填写 title")
    example = _example_row(grid, start + (2 if _is_child(grid, start) else 1), len(names))
    fields = _fields(names, example, warnings)
    unit = _unit_label([*lines, *footer, *doc.lines])
    if unit is None:
        warnings.append("没有找到“填报单位”一行，按“填报单位”处理")
    return LearnedAnnex(number, title, fields, unit or "填报单位", filename, tuple(warnings))


def _main_table(doc: Document) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    """The widest table (a form's grid); its rows and the lines above it."""
    if not doc.tables:
        return [], ()
    table = max(
        doc.tables, key=lambda t: (max((len(r) for r in t.rows), default=0), -len(t.before))
    )
    return [tuple(c.strip() for c in row) for row in table.rows], table.before


def _filled(row: Sequence[str]) -> list[str]:
    return [c for c in row if c]


def _header(grid: list[tuple[str, ...]], warnings: list[str]) -> tuple[int, list[str]]:
    """The first row with ≥2 filled cells that is not a title or unit line: its field names."""
    for r, row in enumerate(grid[:_HEADER_SCAN]):
        filled = _filled(row)
        if len(filled) < 2 or any(_is_unit_line(c) for c in filled):
            continue
        if _is_child(grid, r):
            return r, _joined(row, grid[r + 1])
        return r, list(row)
    warnings.append("没有找到表头行（至少两格有字的一行）")
    return len(grid), []


def _groups(parent: Sequence[str]) -> list[str]:
    """Per column, the parent text spanning it (a horizontal merge leaves "" to its right)."""
    out: list[str] = []
    current = ""
    for cell in parent:
        current = cell or current
        out.append(current)
    return out


def _is_child(grid: list[tuple[str, ...]], r: int) -> bool:
    """Is row r+1 the second row of a two-row header (merged parent cells above it)?"""
    if r + 1 >= len(grid):
        return False
    parent, child = grid[r], grid[r + 1]
    spans = [i for i, c in enumerate(parent) if not c and i > 0 and _groups(parent)[i]]
    new = [i for i, c in enumerate(child) if c and c != parent[i]]
    if not new or _is_numbers(child):
        return False
    groups = _groups(parent)
    spanned = {groups[i] for i in spans}
    return all(groups[i] in spanned for i in new)


def _joined(parent: Sequence[str], child: Sequence[str]) -> list[str]:
    """Field names of a two-row header: the child's text, joined to its group when repeated."""
    groups = _groups(parent)
    below = [c if c and c != parent[i] else "" for i, c in enumerate(child)]
    keys = [normalise_header(c) for c in below]
    names = []
    for i, top in enumerate(parent):
        if below[i]:
            repeated = keys.count(keys[i]) > 1
            names.append(groups[i] + below[i] if repeated else below[i])
        else:
            names.append(top)
    return names


def _is_numbers(row: Sequence[str]) -> bool:
    filled = [unicodedata.normalize("NFKC", c) for c in row if c]
    return len(filled) >= 3 and all(c.isdigit() for c in filled)


def _example_row(grid: list[tuple[str, ...]], start: int, width: int) -> tuple[str, ...]:
    """The first filled row under the header that is not a column-number or footer row."""
    for row in grid[start : start + 3]:
        if _filled(row) and not _is_numbers(row) and not _is_unit_line(_filled(row)[0]):
            return row
    return ("",) * width


def _fields(raw: list[str], example: Sequence[str], warnings: list[str]) -> tuple[FieldSpec, ...]:
    """Canonical fields in form order; numeric ones by name, unit suffix or example value."""
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    for i, text in enumerate(raw):
        name = normalise_header(text)
        if not name:
            warnings.append(f"第{i + 1}列没有表头，已跳过（该列内容会记入“其他列”）")
            continue
        if name in seen:
            warnings.append(f"第{i + 1}列“{name}”与前面的列同名，已改为“{name}{i + 1}”")
            name = f"{name}{i + 1}"
        seen.add(name)
        value = example[i] if i < len(example) else ""
        specs.append(FieldSpec(name, numeric=_is_numeric(text, name, value)))
    return _mark_required(specs, warnings)


def _is_numeric(text: str, name: str, example: str) -> bool:
    if name in _SEQ:
        return False
    folded = unicodedata.normalize("NFKC", re.sub(r"\s+", "", text))
    if any(w in name for w in _NUMERIC_WORDS) or _NUMERIC_SUFFIX.search(folded):
        return True
    cleaned = unicodedata.normalize("NFKC", example).strip().removesuffix("分")
    return bool(re.fullmatch(r"[+-]?\d+(?:\.\d+)?", cleaned))


def _mark_required(specs: list[FieldSpec], warnings: list[str]) -> tuple[FieldSpec, ...]:
    """The row's name field (``…名称``/``…事项``, else the first after 序号) must be filled."""
    candidates = [s for s in specs if s.name not in _SEQ]
    if not candidates:
        return tuple(specs)
    named = [s for s in candidates if _NAME_HINT.search(s.name)]
    chosen = (named or candidates)[0]
    if not named:
        warnings.append(f"猜测“{chosen.name}”是每行必填的名称列（required），请核对")
    return tuple(FieldSpec(s.name, numeric=s.numeric, required=s is chosen) for s in specs)


def _annex_number(filename: str, lines: Sequence[str]) -> int | None:
    for text in (filename, *lines[:8]):
        match = _ANNEX_NO.search(unicodedata.normalize("NFKC", text))
        if match is not None:
            token = match.group(1)
            return _NUMERALS[token] if token in _NUMERALS else int(token)
    return None


def _title(lines: Sequence[str]) -> str:
    """The first short line naming a table (``…表``), not the 附件N or unit line."""
    for line in lines:
        text = line.strip()
        plain = re.sub(r"\s+", "", text)
        if not plain or len(plain) > _TITLE_MAX or _is_unit_line(plain):
            continue
        if _ANNEX_NO.fullmatch(plain) or not re.search(r"(表|单|清单)$", plain):
            continue
        return text
    return ""


def _is_unit_line(text: str) -> bool:
    plain = re.sub(r"[\s\u3000]+", "", text)
    return plain.startswith(_UNIT_LABELS)


def _unit_label(lines: Sequence[str]) -> str | None:
    for line in lines:
        plain = re.sub(r"[\s\u3000]+", "", line)
        for label in _UNIT_LABELS:
            if plain.startswith(label):
                return label
    return None


def to_schemas(learned: Sequence[LearnedAnnex]) -> dict[int, AnnexSchema]:
    """The learned annexes as schemas (those with a number)."""
    return {
        a.number: AnnexSchema(a.number, a.title, a.fields, a.keywords, a.unit_line)
        for a in sorted(learned, key=lambda a: a.number or 0)
        if a.number is not None
    }

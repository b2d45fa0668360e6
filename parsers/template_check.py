"""Does a filled form follow this campaign's template? (CONTRACT §11: old templates)

A unit that fills in last year's form (``申报2019年度…``, a renamed column, a
column dropped or added) is still read with what maps, but the clerk is told
exactly how it differs, so the unit can be asked to resend on the new form.
Nothing here guesses a field: an unknown column stays in ``extra``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from parsers.model import Document
from parsers.schema import AnnexSchema, normalise_header, title_year
from parsers.table import HeaderMemo

__all__ = ["OLD_TEMPLATE", "WRONG_UNIT", "TemplateDiff", "is_template_note", "template_diff"]

OLD_TEMPLATE = "使用了旧模板"
HEADER_CHANGED = "表头与本次模板不同"
WRONG_UNIT = "表上单位不符"  # noted by ingest.match.form_unit
_TITLE_MAX = 80
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TemplateDiff:
    """How a filled form differs from the campaign's template of its annex."""

    title_year: int | None  # the year its title names, when it differs from the template's
    expected_year: int | None
    missing: tuple[str, ...]  # template columns the form lacks (renamed ones too)
    extra: tuple[str, ...]  # form columns the template does not have

    @property
    def old(self) -> bool:
        """An older year in the title, or a template column missing: not this year's form."""
        older = self.title_year is not None and self.expected_year is not None
        return (older and (self.title_year or 0) < (self.expected_year or 0)) or bool(self.missing)

    def notes(self) -> list[str]:
        """One Chinese sentence for the clerk (and the 退回修改 mail), or none."""
        parts = []
        if self.title_year is not None and self.expected_year is not None:
            parts.append(f"标题是{self.title_year}年度的（本次为{self.expected_year}年度）")
        if self.missing:
            parts.append("缺少列" + "、".join(f"“{m}”" for m in self.missing))
        if self.extra:
            parts.append("多出列" + "、".join(f"“{e}”" for e in self.extra))
        if not parts:
            return []
        head = OLD_TEMPLATE if self.old else HEADER_CHANGED
        return [f"{head}：{'；'.join(parts)}"]


def is_template_note(line: str) -> bool:
    return line.startswith((OLD_TEMPLATE + "：", HEADER_CHANGED + "：", WRONG_UNIT + "："))


def template_diff(
    doc: Document, schema: AnnexSchema, memo: HeaderMemo | None = None
) -> TemplateDiff:
    """Compare the form's title year and header columns with ``schema``.

    ``memo`` (of ``doc``) holds the headers classification already located.
    """
    year = _title_year(doc, schema)
    expected = schema.year
    wrong_year = year if year is not None and expected is not None and year != expected else None
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    memo = HeaderMemo.of(doc, memo)
    for index in range(len(doc.tables)):
        header = memo.header(index, schema)
        if header is None:
            continue
        found = {f for f in header.fields if f}
        missing = tuple(f for f in schema.field_names if f not in found)
        extra = tuple(
            normalise_header(label) or f"第{i + 1}列"
            for i, (label, name) in enumerate(zip(header.labels, header.fields, strict=False))
            if name is None and label.strip()
        )
        break
    return TemplateDiff(wrong_year, expected if wrong_year else None, missing, extra)


def _title_year(doc: Document, schema: AnnexSchema) -> int | None:
    """The year of the first short title line that names a table (``…表``)."""
    for line in _title_lines(doc):
        if "表" not in line:
            continue  # no other character becomes 表 under NFKC
        plain = _SPACE.sub("", unicodedata.normalize("NFKC", line))
        if len(plain) <= _TITLE_MAX and "表" in plain and title_year(plain) is not None:
            return title_year(plain)
    return None


def _title_lines(doc: Document) -> Iterator[str]:
    yield from doc.head_lines[:8]
    for table in doc.tables[:2]:
        yield from table.before[-8:]
        for row in table.rows[:2]:
            yield from (c for c in row if c)

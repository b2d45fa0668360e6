"""Build annex forms (.docx with python-docx, .xlsx with openpyxl) from values.

Shared by every test that needs a declaration form. The core use is a round
trip: ``extract_form(read_docx(make_docx_form(4, rows)), 4, schemas).rows == rows``
for ``rows = sample_rows(4, 5)``. Values are canonical field -> str, int/float
(分值) or None (empty cell).

Knobs (both builders):
- ``title``: the annex title (from the notice) above the table;
- ``unit_line``: the ``填报单位（盖章）：…`` line (None: no line);
- ``header_style``: ``plain`` canonical names, ``spaced`` (``指 标 名 称``, full-width
  spaces, line breaks), ``suffix`` (``分值（分）``, ``完成时限(年月)``, trailing colon),
  ``synonym`` (first synonym of each field), ``two_row`` (fields 2–3 under a
  merged parent ``申报内容``; the other columns merged vertically);
- ``merge_vertical``: a field whose runs of equal values are merged vertically;
- ``merge_horizontal_title``: the title as a first row merged across the table
  (xlsx default) instead of a paragraph (docx default);
- ``footer``: 填表人/负责人/日期 lines under the table;
- ``split_tables``: the rows split over two tables (docx) or sheets (xlsx);
  ``split_header``: whether the second part repeats the header;
- ``column_numbers``: a ``1 2 3 …`` row under the header;
- ``sections``: {data row index: "一、…"} section rows merged across.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import docx
import openpyxl
from docx.table import Table as DocxTable

from parsers.schema import DEFAULT_SCHEMAS

HeaderStyle = Literal["plain", "spaced", "suffix", "synonym", "two_row"]
UNIT_LINE = "填报单位（盖章）：南郑区财政局"
GROUP = "申报内容"
FOOTER_ROW = "填表人：张伟    审核人：李娜    联系电话：0916-5511051"
FOOTER_LINES = ("单位主要负责人（签字）：", "填报日期：2020年3月12日")


def fields(annex: int) -> tuple[str, ...]:
    """Canonical fields of an annex, in form order."""
    return DEFAULT_SCHEMAS[annex].field_names


def header_rows(annex: int, style: HeaderStyle = "plain") -> list[list[str]]:
    """The header row(s) as written in the form (two rows for ``two_row``)."""
    names = fields(annex)
    if style == "two_row":
        top = [GROUP if i == 1 else "" if i == 2 else n for i, n in enumerate(names)]
        return [top, list(names)]
    return [[_header_text(annex, i, name, style) for i, name in enumerate(names)]]


def _header_text(annex: int, i: int, name: str, style: HeaderStyle) -> str:
    if style == "spaced":
        return (" ".join(name), "\u3000".join(name), f"{name[:2]}\n{name[2:]}")[i % 3]
    if style == "suffix":
        if name == "分值":
            return "分值（分）" if i % 2 else "分值(分)"
        return f"{name}(年月)" if name == "完成时限" else f"{name}：" if i % 2 else name
    if style == "synonym":
        spec = DEFAULT_SCHEMAS[annex].fields[i]
        return spec.synonyms[0] if spec.synonyms else name
    return name


def cell_value(value: Any) -> str:
    """How a value is written into a Word cell."""
    return "" if value is None else str(value)


def _vertical_runs(rows: Sequence[Mapping[str, Any]], field: str | None) -> list[tuple[int, int]]:
    """(first, last) data row indexes of runs of equal values in ``field``."""
    if field is None:
        return []
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i].get(field) != rows[start].get(field):
            if i - 1 > start:
                runs.append((start, i - 1))
            start = i
    return runs


# ---------------------------------------------------------------- docx


def make_docx_form(
    annex: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: bool = True,
    unit_line: str | None = UNIT_LINE,
    header_style: HeaderStyle = "plain",
    merge_vertical: str | None = None,
    merge_horizontal_title: bool = False,
    footer: bool = True,
    split_tables: bool = False,
    split_header: bool = True,
    column_numbers: bool = False,
    sections: Mapping[int, str] | None = None,
) -> bytes:
    """A Word form of ``annex`` holding ``rows`` (see the module docstring)."""
    document = docx.Document()
    document.add_paragraph(f"附件{annex}")
    if title and not merge_horizontal_title:
        document.add_paragraph(DEFAULT_SCHEMAS[annex].title)
    if unit_line is not None:
        document.add_paragraph(unit_line)
    parts = [rows[: len(rows) // 2], rows[len(rows) // 2 :]] if split_tables else [rows]
    for n, part in enumerate(parts):
        if n:
            document.add_paragraph("")  # Word keeps two tables apart with a paragraph
        first = n == 0
        _docx_table(
            document,
            annex,
            part,
            header=first or split_header,
            title=title and merge_horizontal_title and first,
            style=header_style,
            merge_vertical=merge_vertical,
            column_numbers=column_numbers and first,
            sections=(sections or {}) if first else {},
            footer=footer and n == len(parts) - 1,
        )
    if footer:
        for line in FOOTER_LINES:
            document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_table(
    document: Any,
    annex: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    header: bool,
    title: bool,
    style: HeaderStyle,
    merge_vertical: str | None,
    column_numbers: bool,
    sections: Mapping[int, str],
    footer: bool,
) -> None:
    names = fields(annex)
    grid: list[list[str]] = []
    if title:
        grid.append([DEFAULT_SCHEMAS[annex].title] + [""] * (len(names) - 1))
    heads = header_rows(annex, style) if header else []
    grid.extend(heads)
    if column_numbers:
        grid.append([str(i + 1) for i in range(len(names))])
    merges: list[tuple[int, int, int, int]] = [(0, 0, 0, len(names) - 1)] if title else []
    merges += _header_merges(len(grid) - len(heads) - column_numbers, heads)
    row_at: dict[int, int] = {}
    for i, row in enumerate(rows):
        if i in sections:
            merges.append((len(grid), 0, len(grid), len(names) - 1))
            grid.append([sections[i]] + [""] * (len(names) - 1))
        row_at[i] = len(grid)
        grid.append([cell_value(row.get(n)) for n in names])
    for first, last in _vertical_runs(rows, merge_vertical):
        col = names.index(merge_vertical or "")
        merges.append((row_at[first], col, row_at[last], col))
    if footer:
        merges.append((len(grid), 0, len(grid), len(names) - 1))
        grid.append([FOOTER_ROW] + [""] * (len(names) - 1))
    table = document.add_table(rows=len(grid), cols=len(names))
    table.style = "Table Grid"
    _fill_docx(table, grid, merges)


def _header_merges(top: int, heads: list[list[str]]) -> list[tuple[int, int, int, int]]:
    """Merges of a two-row header: the parent across its children, the rest downwards."""
    if len(heads) != 2:
        return []
    merges = [(top, 1, top, 2)]
    merges += [(top, c, top + 1, c) for c in range(len(heads[0])) if c not in (1, 2)]
    return merges


def _fill_docx(table: DocxTable, grid: list[list[str]], merges: list[tuple[int, ...]]) -> None:
    covered = {
        (r, c)
        for r0, c0, r1, c1 in merges
        for r in range(r0, r1 + 1)
        for c in range(c0, c1 + 1)
        if (r, c) != (r0, c0)
    }
    for r, row in enumerate(grid):
        for c, text in enumerate(row):
            if (r, c) not in covered and text:
                table.cell(r, c).text = text
    for r0, c0, r1, c1 in merges:
        table.cell(r0, c0).merge(table.cell(r1, c1))


# ---------------------------------------------------------------- xlsx


def make_xlsx_form(
    annex: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: bool = True,
    unit_line: str | None = UNIT_LINE,
    header_style: HeaderStyle = "plain",
    merge_vertical: str | None = None,
    merge_horizontal_title: bool = True,
    footer: bool = True,
    split_tables: bool = False,
    split_header: bool = True,
    column_numbers: bool = False,
    sections: Mapping[int, str] | None = None,
) -> bytes:
    """An Excel form of ``annex`` holding ``rows`` (see the module docstring)."""
    book = openpyxl.Workbook()
    parts = [rows[: len(rows) // 2], rows[len(rows) // 2 :]] if split_tables else [rows]
    for n, part in enumerate(parts):
        sheet = book.active if n == 0 else book.create_sheet()
        sheet.title = f"附件{annex}" if n == 0 else f"附件{annex}（续）"
        first = n == 0
        _xlsx_sheet(
            sheet,
            annex,
            part,
            title=title and first,
            merge_title=merge_horizontal_title,
            unit_line=unit_line if first else None,
            header=first or split_header,
            style=header_style,
            merge_vertical=merge_vertical,
            column_numbers=column_numbers and first,
            sections=(sections or {}) if first else {},
            footer=footer and n == len(parts) - 1,
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_sheet(
    sheet: Any,
    annex: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: bool,
    merge_title: bool,
    unit_line: str | None,
    header: bool,
    style: HeaderStyle,
    merge_vertical: str | None,
    column_numbers: bool,
    sections: Mapping[int, str],
    footer: bool,
) -> None:
    names = fields(annex)
    width = len(names)
    if title:
        sheet.append([DEFAULT_SCHEMAS[annex].title])
        if merge_title:
            _merge(sheet, sheet.max_row, 0, sheet.max_row, width - 1)
    if unit_line is not None:
        sheet.append([unit_line] + [None] * (width - 2) + ["填报日期：2020年3月"])
    heads = header_rows(annex, style) if header else []
    top = sheet.max_row if sheet.max_row > 1 or sheet["A1"].value is not None else 0
    for head in heads:
        sheet.append([h or None for h in head])
    for r0, c0, r1, c1 in _header_merges(top + 1, heads):
        _merge(sheet, r0, c0, r1, c1)
    if column_numbers:
        sheet.append(list(range(1, width + 1)))
    row_at: dict[int, int] = {}
    for i, row in enumerate(rows):
        if i in sections:
            sheet.append([sections[i]])
            _merge(sheet, sheet.max_row, 0, sheet.max_row, width - 1)
        sheet.append([_xlsx_value(row.get(n)) for n in names])
        row_at[i] = sheet.max_row
    for first, last in _vertical_runs(rows, merge_vertical):
        col = names.index(merge_vertical or "")
        for r in range(row_at[first] + 1, row_at[last] + 1):
            sheet.cell(r, col + 1).value = None
        _merge(sheet, row_at[first], col, row_at[last], col)
    if footer:
        sheet.append([FOOTER_ROW])
        sheet.append([FOOTER_LINES[0], None, None, FOOTER_LINES[1]])


def _xlsx_value(value: Any) -> Any:
    """Numbers as numbers (序号 too, as clerks type them), other text as text."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _merge(sheet: Any, r0: int, c0: int, r1: int, c1: int) -> None:
    """Merge 1-based rows r0..r1 and 0-based columns c0..c1."""
    sheet.merge_cells(start_row=r0, start_column=c0 + 1, end_row=r1, end_column=c1 + 1)


# ---------------------------------------------------------------- values

_CONTENT: dict[str, tuple[str, ...]] = {
    "指标名称": (
        "地区生产总值增速",
        "固定资产投资增速",
        "社会消费品零售总额增速",
        "城镇居民人均可支配收入",
    ),
    "考核对象": ("各镇（街道办）", "区直部门", "各镇（街道办）、工业园区"),
    "评价方法": ("完成目标得满分，每低1个百分点扣0.5分", "按全市排名计分，第一名满分"),
    "统计口径": ("区统计局年报数据", "市统计局反馈数据"),
    "牵头部门": ("区发展和改革局", "区统计局", "区财政局"),
    "考核内容": ("落实全面从严治党主体责任", "基层党组织标准化建设", "意识形态工作责任制落实"),
    "评分标准": ("未按时完成的每项扣1分", "发现问题一次扣2分，扣完为止"),
    "任务类别": ("重点工作", "重点工作", "职能任务", "职能任务", "综合职能任务"),
    "任务名称": ("财政收入目标任务", "预算绩效管理改革", "政府债务风险防控", "国库集中支付"),
    "目标要求": ("一般公共预算收入完成3.2亿元", "绩效目标覆盖率达到100%", "债务率控制在警戒线以内"),
    "完成时限": ("2020年12月", "2020年6月底", "全年"),
    "责任科室": ("预算股", "国库股", "综合股"),
    "文件依据": ("汉南政发〔2020〕3号", "区委一届五次全会报告"),
    "负面清单事项": ("发生较大及以上安全生产事故", "被中省市通报批评", "信访积案未按期化解"),
    "扣分标准": ("每发生一起扣2分", "每通报一次扣1分"),
    "认定依据": ("以应急管理部门事故认定为准", "以上级正式通报文件为准"),
    "特色亮点名称": ("智慧财政平台建设", "预算公开透明度提升", "涉农资金整合试点"),
    "主要内容": ("建成覆盖全区的预算一体化系统", "全面公开部门预决算"),
    "预期成效": ("获省级表彰或经验推广", "透明度排名全市第一"),
    "责任领导": ("王建国", "刘晓梅"),
}
_SCORES: tuple[int | float, ...] = (5, 3, 2.5, 10, 4)


def sample_rows(annex: int, n: int) -> list[dict[str, Any]]:
    """``n`` realistic rows of ``annex``: every canonical field, 备注 empty on odd rows."""
    schema = DEFAULT_SCHEMAS[annex]
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {}
        for spec in schema.fields:
            if spec.name == "序号":
                row[spec.name] = str(i + 1)
            elif spec.numeric:
                row[spec.name] = _SCORES[i % len(_SCORES)]
            elif spec.name == "备注":
                row[spec.name] = None if i % 2 else "新增指标"
            else:
                options = _CONTENT[spec.name]
                row[spec.name] = options[i % len(options)]
        rows.append(row)
    return rows

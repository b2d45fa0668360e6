"""The consolidated tables (汇总表) as a Word document, for the 考委会's review.

Landscape A4, one table per annex (each on its own page) under the annex's title,
``单位名称`` first, the header row repeated on every page, 宋体 at a readable size.
The committee reads and annotates it; the xlsx export is the one to compute with.
"""

from __future__ import annotations

import io
from datetime import datetime, tzinfo

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table, _Cell

from reports.model import ExportTable

FONT = "宋体"
TITLE_PT = 16
BODY_PT = 10.5  # 五号
TABLE_PT = 9  # 小五: a wide annex still fits the page
TEXT_WIDTH_MM = 297 - 2 * 15  # landscape A4 less the margins
# Columns of long sentences get the room; numbers and dates little (also the xlsx widths).
WIDE_FIELDS = frozenset(
    {
        "目标要求",
        "主要内容",
        "评价方法",
        "评分标准",
        "考核内容",
        "扣分标准",
        "预期成效",
        "认定依据",
        "文件依据",
    }
)
NARROW_FIELDS = frozenset({"序号", "分值", "版本"})


def export_docx(tables: list[ExportTable], tz: tzinfo, campaign: str, now: datetime) -> bytes:
    """All *tables* in one document; *now* is printed under each title."""
    doc = Document()
    _page_and_font(doc)
    for i, table in enumerate(tables):
        if i:
            doc.add_page_break()
        _title(doc, f"{table.label}汇总表", TITLE_PT, bold=True)
        units = len({r.unit for r in table.rows})
        _title(
            doc,
            f"{campaign}　{table.title}　截至 {now.astimezone(tz):%Y-%m-%d %H:%M}，"
            f"{units} 个单位，{len(table.rows)} 行",
            BODY_PT,
        )
        _table(doc, table)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _page_and_font(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(15))
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    # Chinese text takes the East Asian font of the run properties, not w:ascii.
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)


def _title(doc: DocxDocument, text: str, size: float, bold: bool = False) -> None:
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)


def _table(doc: DocxDocument, table: ExportTable) -> None:
    columns = ("单位名称", *table.fields, "版本")
    t = doc.add_table(rows=1, cols=len(columns))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    for cell, name in zip(t.rows[0].cells, columns, strict=True):
        _fill(cell, name, bold=True)
    _repeat_header(t)
    for r in table.rows:
        cells = t.add_row().cells
        for cell, value in zip(cells, (r.unit, *r.values, str(r.version)), strict=True):
            _fill(cell, value)
    for column, width in zip(t.columns, _widths(columns), strict=True):
        column.width = width  # the grid (LibreOffice reads this) and each cell (Word does)
        for cell in column.cells:
            cell.width = width


def _widths(columns: tuple[str, ...]) -> list[Mm]:
    """Column widths sharing the text width: long sentences 4 parts, numbers 1, others 2."""
    weights = [4 if c in WIDE_FIELDS else 1 if c in NARROW_FIELDS else 2 for c in columns]
    weights[0] = 3  # 单位名称
    return [Mm(TEXT_WIDTH_MM * w / sum(weights)) for w in weights]


def _fill(cell: _Cell, text: str, bold: bool = False) -> None:
    run = cell.paragraphs[0].add_run(text)
    run.bold = bold
    run.font.size = Pt(TABLE_PT)


def _repeat_header(t: Table) -> None:
    """Mark the first row as a header row: Word repeats it at the top of every page."""
    tr_pr = t.rows[0]._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    tr_pr.append(flag)

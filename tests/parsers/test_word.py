"""docx reader: body order, merges, nested tables, corrupt files; docx round trips."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest

from parsers import build_schemas, extract_form, read_document
from parsers.errors import ParseError, UnsupportedFormat
from parsers.word import read_docx
from tests.support.forms import FOOTER_LINES, make_docx_form, sample_rows

SCHEMAS = build_schemas()


def _saved(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _merged_document() -> bytes:
    document = docx.Document()
    document.add_paragraph("标题")
    document.add_paragraph("   ")
    table = document.add_table(rows=3, cols=3)
    for r in range(3):
        for c in range(3):
            if (r, c) not in ((0, 1), (2, 2)):
                table.cell(r, c).text = f"{r}{c}"
    table.cell(0, 0).merge(table.cell(0, 1))  # horizontal
    table.cell(1, 2).merge(table.cell(2, 2))  # vertical
    inner = table.cell(2, 0).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "嵌套"
    document.add_paragraph("表后")
    document.add_table(rows=1, cols=1).cell(0, 0).text = "第二表"
    return _saved(document)


def test_body_order_lines_and_before() -> None:
    doc = read_docx(_merged_document())
    assert doc.kind == "docx"
    assert doc.lines == ("标题", "表后")
    assert [t.before for t in doc.tables] == [("标题",), (), ("表后",)]
    assert [t.source for t in doc.tables] == ["table 1", "table 2", "table 3"]


def test_merges_horizontal_left_only_vertical_repeated() -> None:
    grid = read_docx(_merged_document()).tables[0].rows
    assert grid[0] == ("00", "", "02")
    assert grid[1] == ("10", "11", "12")
    assert grid[2] == ("20", "21", "12")


def test_vertical_merge_matches_python_docx() -> None:
    """python-docx hands back the restart cell for a continuation: same text in each row."""
    data = _merged_document()
    table = docx.Document(io.BytesIO(data)).tables[0]
    theirs = [row.cells[2].text for row in table.rows]
    ours = [row[2] for row in read_docx(data).tables[0].rows]
    assert ours == theirs == ["02", "12", "12"]


def test_nested_table_follows_parent() -> None:
    tables = read_docx(_merged_document()).tables
    assert tables[1].rows == (("嵌套", ""),)
    assert tables[2].rows == (("第二表",),)


def test_cell_paragraphs_joined_with_newline() -> None:
    document = docx.Document()
    cell = document.add_table(rows=1, cols=1).cell(0, 0)
    cell.text = "第一段"
    cell.add_paragraph("第二段")
    assert read_docx(_saved(document)).tables[0].rows == (("第一段\n第二段",),)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40],
    ids=["empty", "text", "zip-header"],
)
def test_corrupt_bytes_raise_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        read_docx(data)
    assert info.value.reason == "文件已损坏，无法打开（docx）"


def test_truncated_and_partless_packages() -> None:
    whole = make_docx_form(4, sample_rows(4, 2))
    with pytest.raises(ParseError, match="docx"):
        read_docx(whole[: len(whole) // 2])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("word/other.xml", "<x/>")
    with pytest.raises(ParseError, match="已损坏"):
        read_docx(buffer.getvalue())


def test_malformed_xml_and_entities() -> None:
    def package(xml: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("word/document.xml", xml)
        return buffer.getvalue()

    with pytest.raises(ParseError):
        read_docx(package("<w:document><w:body>"))
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8))
        + ']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>"
    )
    try:
        doc = read_docx(package(laughs))
    except ParseError:
        return
    assert sum(len(line) for line in doc.lines) < 1000  # never expanded


def test_round_trip_with_every_knob() -> None:
    rows = sample_rows(4, 7)
    data = make_docx_form(
        4,
        rows,
        merge_vertical="任务类别",
        merge_horizontal_title=True,
        column_numbers=True,
        split_tables=True,
        sections={0: "一、重点工作", 4: "二、职能任务"},
    )
    doc = read_docx(data)
    assert len(doc.tables) == 2
    assert doc.lines[-2:] == FOOTER_LINES
    assert list(extract_form(doc, 4, SCHEMAS).rows) == rows


def test_read_document_dispatch() -> None:
    data = make_docx_form(6, sample_rows(6, 1))
    assert read_document(data, "docx").tables[0].rows == read_docx(data).tables[0].rows
    with pytest.raises(UnsupportedFormat) as info:
        read_document(b"x", "nonsense")
    assert "nonsense" in info.value.reason  # parsers.legacy, when present, words it itself


def test_wrappers_runs_and_legacy_merges() -> None:
    """Content controls around cells and paragraphs, custom XML, hyperlinks, deleted
    runs, gridBefore, hMerge and a bad gridSpan — the body walk looks through them all."""

    def p(*runs: str) -> str:
        return "<w:p><w:pPr/>" + "".join(runs) + "</w:p>"

    def r(text: str) -> str:
        return f"<w:r><w:rPr/><w:t>{text}</w:t></w:r>"

    def tc(body: str, props: str = "") -> str:
        return f"<w:tc><w:tcPr>{props}</w:tcPr>{body}</w:tc>"

    def sdt(inner: str) -> str:
        return f"<w:sdt><w:sdtPr/><w:sdtContent>{inner}</w:sdtContent></w:sdt>"

    link = "<w:hyperlink><w:r><w:t>链</w:t><w:tab/><w:t>接</w:t><w:br/></w:r></w:hyperlink>"
    deleted = "<w:del><w:r><w:delText>删</w:delText></w:r></w:del>"
    custom = "<w:customXml><w:r><w:t>乙</w:t></w:r></w:customXml>"
    nested = "<w:tbl><w:tr>" + tc(p(r("内"))) + "</w:tr></w:tbl>"
    body = (
        p(r("标题"), sdt(r("甲")), link, deleted, custom)
        + sdt(p(r("控件段")))
        + "<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>"
        + "<w:tr><w:trPr><w:gridBefore w:val='1'/></w:trPr>"
        + tc(p(r("a1")))
        + tc(p(r("跨")), "<w:gridSpan w:val='2'/>")
        + "</w:tr><w:tr>"
        + tc(p(r("b0")), "<w:vMerge w:val='restart'/>")
        + sdt(tc(p(r("b1"))) + tc(sdt(p(r("b2"))) + p(r("第二行"))))
        + "<w:customXml>"
        + tc(p(r("b3")))
        + "</w:customXml></w:tr><w:tr>"
        + tc(p(), "<w:vMerge/>")
        + tc(p(r("h")), "<w:hMerge w:val='restart'/>")
        + tc(p(r("hc")), "<w:hMerge/>")
        + tc(nested + p(r("外")), "<w:gridSpan w:val='bad'/>")
        + tc(p(r("尾")))
        + "</w:tr></w:tbl>"
        + p(r("  表后  "))
    )
    xml = (
        '<?xml version="1.0"?><w:document xmlns:w='
        '"http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}<w:sectPr/></w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("word/document.xml", xml)
    doc = read_docx(buffer.getvalue())
    assert doc.lines == ("标题甲链\t接\n乙", "控件段", "表后")
    first, inner = doc.tables
    assert first.before == doc.lines[:2]
    assert first.rows == (
        ("", "a1", "跨", "", ""),
        ("b0", "b1", "b2\n第二行", "b3", ""),
        ("b0", "h", "", "外", "尾"),
    )
    assert inner.rows == (("内",),) and inner.before == ()

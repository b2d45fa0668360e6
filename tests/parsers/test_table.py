"""Header location and mapping, data rows, numbers, split forms, unit lines."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import parsers.table
from parsers import build_schemas, classify, extract_form, find_unit_line, normalise_header
from parsers.errors import NoFormTable
from parsers.excel import read_xlsx
from parsers.model import Document, Table
from parsers.schema import AnnexSchema, map_header
from parsers.table import HeaderMemo
from parsers.template_check import template_diff
from parsers.word import read_docx
from tests.support.forms import fields, make_docx_form, make_xlsx_form, sample_rows

SCHEMAS = build_schemas()
H4 = (
    "序号",
    "任务类别",
    "任务名称",
    "目标要求",
    "完成时限",
    "分值",
    "责任科室",
    "文件依据",
    "备注",
)


def _doc(*tables: tuple[tuple[str, ...], ...], before: tuple[str, ...] = ()) -> Document:
    built = tuple(Table(rows, before if i == 0 else ()) for i, rows in enumerate(tables))
    return Document("docx", built, before)


def _row(*cells: str, width: int = 9) -> tuple[str, ...]:
    return tuple(cells) + ("",) * (width - len(cells))


DATA1 = _row("1", "重点工作", "财政收入", "3.2亿元", "2020年12月", "5", "预算股", "文件", "")
DATA2 = _row("2", "职能任务", "绩效管理", "覆盖100%", "全年", "3.5", "绩效股", "", "新增")


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("指 标 名 称", "指标名称"),
        ("任\u3000务\u3000名\u3000称", "任务名称"),
        ("目标\n要求", "目标要求"),
        ("分值（分）", "分值"),
        ("分值(分)", "分值"),
        ("权重（%）", "权重"),
        ("投资额（万元）", "投资额"),
        ("备注：", "备注"),
        ("备注:", "备注"),
        ("完成时限（年月）", "完成时限(年月)"),
        ("\t序号 ", "序号"),
    ],
)
def test_normalise_header(text: str, normal: str) -> None:
    assert normalise_header(text) == normal


@pytest.mark.parametrize(
    ("annex", "text", "field"),
    [
        (2, "考核指标", "指标名称"),
        (2, "建议分值（分）", "分值"),
        (2, "责任单位", "牵头部门"),
        (3, "主要内容", "考核内容"),
        (3, "评价方法", "评分标准"),
        (4, "完成时限（年月）", "完成时限"),
        (4, "考核指标名称", None),
        (2, "考核指标名称", "指标名称"),
        (5, "扣分事项", "负面清单事项"),
        (5, "评价方法", "认定依据"),
        (6, "项目名称", "特色亮点名称"),
        (6, "分管领导", "责任领导"),
        (4, "统计口径", None),
        (4, "", None),
    ],
)
def test_map_header(annex: int, text: str, field: str | None) -> None:
    assert map_header(text, SCHEMAS[annex]) == field


def test_extended_synonyms() -> None:
    schemas = build_schemas({4: {"责任科室": ("承办科室", "牵头股室")}})
    assert map_header("承办科室", schemas[4]) == "责任科室"
    assert map_header("承办科室", SCHEMAS[4]) is None
    header = ("序号", "任务名称", "承办科室")
    result = extract_form(_doc((header, ("1", "财政收入", "预算股"))), 4, schemas)
    assert result.rows[0]["责任科室"] == "预算股"
    assert "extra" not in result.rows[0]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({4: {"负责人": ("x",)}}, "负责人"),
        ({9: {"序号": ("x",)}}, "9"),
        ({4: {"备注": ("任务名称",)}}, "任务名称"),
    ],
)
def test_build_schemas_rejects_unknown(
    extra: dict[int, dict[str, tuple[str, ...]]], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        build_schemas(extra)


def test_header_found_below_title_rows_in_table() -> None:
    result = extract_form(
        _doc((_row("考核任务申报表"), _row("填报单位：南郑区财政局"), H4, DATA1)), 4, SCHEMAS
    )
    assert len(result.rows) == 1
    assert result.rows[0]["任务名称"] == "财政收入"
    assert result.unit_line == "南郑区财政局"


def test_two_row_header_parent_over_canonical_children() -> None:
    parent = ("序号", "考核任务", "", "", "分值", "备注")
    child = ("序号", "任务名称", "目标要求", "完成时限", "分值", "备注")
    data = ("1", "财政收入", "3.2亿元", "12月", "5", "")
    result = extract_form(_doc((parent, child, data)), 4, SCHEMAS)
    assert result.header == ("序号", "任务名称", "目标要求", "完成时限", "分值", "备注")
    assert result.rows[0]["任务名称"] == "财政收入"
    assert result.rows[0]["分值"] == 5


def test_two_row_header_parent_score_over_unmapped_children() -> None:
    parent = ("序号", "指标名称", "分值", "", "评价方法")
    child = ("序号", "指标名称", "基础分", "加分", "评价方法")
    data = ("1", "GDP增速", "8", "2", "按排名")
    result = extract_form(_doc((parent, child, data)), 2, SCHEMAS)
    assert result.header == ("序号", "指标名称", "分值", "", "评价方法")
    assert result.rows[0]["分值"] == 8
    assert result.rows[0]["extra"] == {"分值/加分": "2"}


def test_column_numbers_repeated_header_section_and_footer_rows_skipped() -> None:
    grid = (
        H4,
        _row(*(str(i) for i in range(1, 10))),
        _row("一、重点工作"),
        DATA1,
        ("序 号",) + H4[1:],  # header repeated on the next page
        H4,
        DATA2,
        _row("填表人：张伟", "", "联系电话：5511051"),
        _row("单位主要负责人（签字）："),
        _row("填 报 日 期：2020年3月"),
        _row("注：分值保留一位小数"),
        _row("审核人"),
    )
    result = extract_form(_doc(grid), 4, SCHEMAS)
    assert [r["序号"] for r in result.rows] == ["1", "2"]


def test_section_text_in_name_column_alone_is_not_a_row() -> None:
    result = extract_form(_doc((H4, _row("", "", "（一）重点工作"), DATA1)), 4, SCHEMAS)
    assert [r["任务名称"] for r in result.rows] == ["财政收入"]


def test_row_with_only_sequence_number_is_not_data() -> None:
    result = extract_form(_doc((H4, DATA1, _row("2"), _row("3"))), 4, SCHEMAS)
    assert len(result.rows) == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [("5", 5), ("5分", 5), ("５", 5), ("5.0", 5), (" 3.5 ", 3.5), ("0.5 分", 0.5), ("", None)],
)
def test_score_numbers(text: str, value: float | None) -> None:
    row = _row("1", "重点工作", "财政收入", "", "", text)
    result = extract_form(_doc((H4, row)), 4, SCHEMAS)
    assert result.rows[0]["分值"] == value
    assert type(result.rows[0]["分值"]) is type(value)
    assert result.warnings == ()


def test_score_text_kept_with_warning() -> None:
    rows = (H4, DATA1, _row("2", "职能任务", "绩效", "", "", "按实际"))
    result = extract_form(_doc(rows), 4, SCHEMAS)
    assert result.rows[1]["分值"] == "按实际"
    assert result.warnings == ("第2行“分值”不是数字：按实际",)


def test_unmapped_columns_go_to_extra_when_filled() -> None:
    header = ("序号", "任务名称", "分值", "联系人", "")
    rows = (header, ("1", "财政收入", "5", "张伟", "附表"), ("2", "国库", "3", "", ""))
    result = extract_form(_doc(rows), 4, SCHEMAS)
    assert result.rows[0]["extra"] == {"联系人": "张伟", "第5列": "附表"}
    assert "extra" not in result.rows[1]
    assert result.rows[1]["目标要求"] is None


def test_form_split_over_tables_with_and_without_header() -> None:
    doc = _doc((H4, DATA1), (DATA2,))
    assert [r["序号"] for r in extract_form(doc, 4, SCHEMAS).rows] == ["1", "2"]
    doc = _doc((H4, DATA1), (H4, DATA2))
    assert [r["序号"] for r in extract_form(doc, 4, SCHEMAS).rows] == ["1", "2"]


def test_headerless_table_after_text_is_not_a_continuation() -> None:
    doc = Document("docx", (Table((H4, DATA1)), Table((DATA2,), ("说明",))))
    assert len(extract_form(doc, 4, SCHEMAS).rows) == 1


def test_table_reported_twice_counts_once() -> None:
    table = Table((H4, DATA1, DATA2))
    doc = Document("docx", (table, Table(table.rows)))
    assert len(extract_form(doc, 4, SCHEMAS).rows) == 2


def test_docx_split_tables_round_trip() -> None:
    rows = sample_rows(2, 5)
    doc = read_docx(make_docx_form(2, rows, split_tables=True, split_header=False))
    assert len(doc.tables) == 2
    assert list(extract_form(doc, 2, SCHEMAS).rows) == rows


def test_no_matching_table() -> None:
    with pytest.raises(NoFormTable) as info:
        extract_form(_doc((("姓名", "电话"), ("张伟", "1"))), 6, SCHEMAS)
    assert info.value.reason == "未找到附件6的表格（表头不符）"
    with pytest.raises(NoFormTable):
        extract_form(Document("docx"), 4, SCHEMAS)


def test_blank_template_has_no_rows() -> None:
    blank = make_docx_form(
        4, [{"序号": str(i)} for i in range(1, 4)], unit_line="填报单位（盖章）："
    )
    result = extract_form(read_docx(blank), 4, SCHEMAS)
    assert result.rows == ()
    assert result.unit_line is None


@pytest.mark.parametrize(
    ("line", "unit"),
    [
        ("填报单位（盖章）：南郑区发展和改革局   填报日期：2020年3月", "南郑区发展和改革局"),
        ("填报单位(盖章):南郑区财政局", "南郑区财政局"),
        ("填 报 单 位：南郑区 财政局      日期：3月12日", "南郑区财政局"),
        ("单位名称：南郑区统计局  联系人：王芳  联系电话：5511051", "南郑区统计局"),
        ("申报单位：大河坎镇人民政府2020年3月10日", "大河坎镇人民政府"),
        ("单位（盖章）：南郑区审计局", "南郑区审计局"),
        ("填报单位：________  填报日期：", None),
        ("单位主要负责人（签字）：张三", None),
        ("区直部门考核任务申报表", None),
    ],
)
def test_find_unit_line(line: str, unit: str | None) -> None:
    assert find_unit_line([line]) == unit


def test_find_unit_line_skips_blank_lines_to_filled_one() -> None:
    assert find_unit_line(["填报单位：", "标题", "单位名称：南郑区林业局"]) == "南郑区林业局"


def test_unit_line_in_footer_row() -> None:
    rows = (H4, DATA1, _row("填报单位：南郑区水利局", "", "", "填报日期：2020年3月"))
    assert extract_form(_doc(rows), 4, SCHEMAS).unit_line == "南郑区水利局"


@pytest.mark.parametrize(
    ("make", "read"),
    [(make_xlsx_form, read_xlsx), (make_docx_form, read_docx)],
    ids=["xlsx", "docx"],
)
@pytest.mark.parametrize("annex", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("style", ["plain", "spaced", "suffix", "synonym", "two_row"])
def test_round_trip(
    make: Callable[..., bytes], read: Callable[[bytes], Document], annex: int, style: str
) -> None:
    """A form built in code reads back row for row, whatever the header style."""
    rows = sample_rows(annex, 6)
    result = extract_form(read(make(annex, rows, header_style=style)), annex, SCHEMAS)
    assert list(result.rows) == rows
    assert result.unit_line == "南郑区财政局"
    assert result.header == fields(annex)
    assert result.warnings == ()


@pytest.mark.parametrize("numbers", [("01", "02", "03", "04"), ("１", "２", "３", "４")])
def test_column_numbers_with_leading_zeros_or_full_width_digits_skipped(
    numbers: tuple[str, ...],
) -> None:
    result = extract_form(_doc((H4, _row(*numbers), DATA1)), 4, SCHEMAS)
    assert [r["序号"] for r in result.rows] == ["1"]


def test_headers_located_once_for_classification_extraction_and_template_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One memo per document: each table's header per annex is located once."""
    doc = _doc((H4, DATA1), (H4, DATA2))
    plain = (
        classify(doc, "", "", SCHEMAS),
        extract_form(doc, 4, SCHEMAS),
        template_diff(doc, SCHEMAS[4]),
    )
    calls: list[tuple[int, int]] = []
    locate = parsers.table.locate_header

    def counted(rows: tuple[tuple[str, ...], ...], schema: AnnexSchema) -> object:
        calls.append((id(rows), schema.number))
        return locate(rows, schema)

    monkeypatch.setattr(parsers.table, "locate_header", counted)
    memo = HeaderMemo(doc)
    guess = classify(doc, "", "", SCHEMAS, memo)
    form = extract_form(doc, 4, SCHEMAS, memo)
    diff = template_diff(doc, SCHEMAS[4], memo)
    assert (guess, form, diff) == plain and guess.source == "header" and guess.annex == 4
    assert len(calls) == len(set(calls)) == 2 * len(SCHEMAS)


def test_a_memo_serves_its_own_document_only() -> None:
    doc, other = _doc((H4, DATA1)), _doc((H4, DATA2))
    with pytest.raises(ValueError):
        extract_form(other, 4, SCHEMAS, HeaderMemo(doc))


def test_rows_of_numbers_that_are_not_column_numbers_are_data() -> None:
    grid = (H4, _row("1", "2", "4"), _row("1", "2"), _row("2", "3", "4"))
    assert len(extract_form(_doc(grid), 4, SCHEMAS).rows) == 3

"""A form on last year's template: read with what maps, its differences named."""

from __future__ import annotations

from parsers import extract_form, read_document
from parsers.schema import DEFAULT_SCHEMAS
from parsers.template_check import template_diff
from tests.support.campaign_forms import docx_form
from tests.support.forms import make_xlsx_form, sample_rows

OLD_TITLE = "申报2019年度镇（街道办）经济社会发展指标建议表"
OLD_HEAD = [["序号", "指标名称", "考核对象", "分值", "统计范围", "牵头部门", "联系人", "备注"]]
OLD_ROWS = [["1", "地区生产总值增速", "各镇（街道办）", "5", "全口径", "区发改局", "张三", ""]]


def test_a_2019_form_is_flagged_with_its_differences_and_read_with_what_maps() -> None:
    doc = read_document(docx_form("附件2", OLD_TITLE, OLD_HEAD, OLD_ROWS, "大河坎镇"), "docx")
    diff = template_diff(doc, DEFAULT_SCHEMAS[2])
    assert diff.old
    assert diff.notes() == [
        "使用了旧模板：标题是2019年度的（本次为2020年度）；缺少列“评价方法”、“统计口径”；"
        "多出列“统计范围”、“联系人”"
    ]
    [row] = extract_form(doc, 2, DEFAULT_SCHEMAS).rows
    assert row["指标名称"] == "地区生产总值增速" and row["分值"] == 5
    assert row["统计口径"] is None and row["评价方法"] is None  # never guessed
    assert row["extra"] == {"统计范围": "全口径", "联系人": "张三"}


def test_this_years_form_has_no_notes_and_an_added_column_alone_is_not_old() -> None:
    doc = read_document(make_xlsx_form(2, sample_rows(2, 2)), "xlsx")
    assert template_diff(doc, DEFAULT_SCHEMAS[2]).notes() == []
    head = [[*DEFAULT_SCHEMAS[2].field_names, "联系人"]]
    title = DEFAULT_SCHEMAS[2].title
    doc = read_document(
        docx_form("附件2", title, head, [["1", "x", "", "", "", "", "", "", "李四"]]), "docx"
    )
    diff = template_diff(doc, DEFAULT_SCHEMAS[2])
    assert not diff.old and diff.notes() == ["表头与本次模板不同：多出列“联系人”"]

"""Annex classification: title, header signature, file name, subject, ambiguity."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from parsers import build_schemas, classify
from parsers.excel import read_xlsx
from parsers.model import Document, Table
from parsers.word import read_docx
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows

SCHEMAS = build_schemas()
H23 = ("序号", "指标名称", "考核对象", "分值", "评价方法", "牵头部门", "备注")
DATA = ("1", "GDP增速", "各镇", "5", "按排名", "发改局", "")


def _headed(*header: str, before: tuple[str, ...] = ()) -> Document:
    return Document("docx", (Table((tuple(header), DATA[: len(header)]), before),), before)


def test_title_wins_over_filename() -> None:
    doc = read_docx(make_docx_form(4, sample_rows(4, 2)))
    guess = classify(doc, "附件6 特色亮点.docx", "附件6", SCHEMAS)
    assert guess.annex == 4
    assert guess.source == "title"
    assert guess.evidence.startswith("标题：区直部门、驻区垂管单位…考核任务申报表")
    assert "文件名：附件6" in guess.evidence


def test_xlsx_title_row() -> None:
    doc = read_xlsx(make_xlsx_form(5, sample_rows(5, 1)))
    guess = classify(doc, "新建 Microsoft Excel 工作表.xlsx", "", SCHEMAS)
    assert (guess.annex, guess.source) == (5, "title")
    assert guess.evidence == f"标题：{SCHEMAS[5].title}"


def test_literal_annex_number_at_top_counts_as_content() -> None:
    doc = Document("docx", (Table((("姓名", "职务"),), ("附件 3",)),), ("附件 3",))
    guess = classify(doc, "表.docx", "", SCHEMAS)
    assert (guess.annex, guess.source, guess.evidence) == (3, "title", "标题：附件3")


def test_notice_heading_without_form_word_is_not_a_title() -> None:
    doc = Document("docx", (), ("关于申报2020年度考核指标及特色亮点工作的通知",))
    assert classify(doc, "通知.docx", "", SCHEMAS).annex is None


@pytest.mark.parametrize(
    ("extra", "annex", "word"),
    [(("统计口径",), 2, "统计口径"), (("考核内容",), 3, "考核内容")],
)
def test_header_signature_separates_2_and_3(extra: tuple[str, ...], annex: int, word: str) -> None:
    guess = classify(_headed(*H23, *extra), "表.xlsx", "", SCHEMAS)
    assert (guess.annex, guess.source) == (annex, "header")
    assert guess.evidence == f"表头：{word}"


def test_header_without_distinctive_cell_is_ambiguous() -> None:
    guess = classify(_headed(*H23), "表.xlsx", "", SCHEMAS)
    assert guess.annex is None
    assert guess.ambiguous == (2, 3)
    assert guess.evidence.startswith("可能是附件2、附件3（表头：")


def test_ambiguous_header_broken_by_filename() -> None:
    guess = classify(_headed(*H23), "附件3.xlsx", "", SCHEMAS)
    assert (guess.annex, guess.source) == (3, "filename")
    assert "文件名：附件3" in guess.evidence


def test_ambiguous_header_not_broken_by_unrelated_filename() -> None:
    guess = classify(_headed(*H23), "附件4.xlsx", "", SCHEMAS)
    assert (guess.annex, guess.ambiguous) == (None, (2, 3))


@pytest.mark.parametrize(
    ("annex", "header"),
    [
        (4, ("序号", "任务名称", "目标要求", "完成时限", "分值")),
        (5, ("序号", "负面清单事项", "扣分标准", "认定依据")),
        (6, ("序号", "特色亮点名称", "主要内容", "预期成效", "完成时限")),
    ],
)
def test_header_signature_other_annexes(annex: int, header: tuple[str, ...]) -> None:
    assert classify(_headed(*header), "", "", SCHEMAS).annex == annex


def test_header_evidence_lists_distinctive_fields() -> None:
    guess = classify(_headed("序号", "任务名称", "目标要求", "分值"), "", "", SCHEMAS)
    assert guess.evidence == "表头：任务名称、目标要求"


@pytest.mark.parametrize(
    ("filename", "annex", "word"),
    [
        ("附件4.docx", 4, "附件4"),
        ("附件 4 考核任务.xlsx", 4, "附件4"),
        ("附件四.doc", 4, "附件四"),
        ("附4南郑区财政局.xls", 4, "附4"),
        ("负面清单建议表.xlsx", 5, "负面清单"),
        ("特色亮点一览表（财政局）.docx", 6, "特色亮点"),
        ("共性考核指标.xlsx", 3, "共性考核指标"),
    ],
)
def test_filename_only(filename: str, annex: int, word: str) -> None:
    guess = classify(None, filename, "2020年度考核", SCHEMAS)
    assert (guess.annex, guess.source, guess.evidence) == (annex, "filename", f"文件名：{word}")


def test_year_digits_are_not_annex_numbers() -> None:
    assert classify(None, "2020年度申报材料.docx", "", SCHEMAS).annex is None


def test_subject_only_when_it_names_one_annex() -> None:
    guess = classify(None, "财政局.docx", "财政局报送附件6", SCHEMAS)
    assert (guess.annex, guess.source, guess.evidence) == (6, "subject", "邮件主题：附件6")
    assert classify(None, "财政局.docx", "附件4、附件6", SCHEMAS).annex is None


def test_filename_naming_two_annexes_is_ambiguous() -> None:
    guess = classify(None, "附件2、附件5.xlsx", "", SCHEMAS)
    assert (guess.annex, guess.ambiguous) == (None, (2, 5))


def test_two_titles_are_ambiguous() -> None:
    lines = (SCHEMAS[2].title, SCHEMAS[5].title)
    guess = classify(Document("docx", (), lines), "汇总.xlsx", "", SCHEMAS)
    assert (guess.annex, guess.ambiguous) == (None, (2, 5))
    assert "标题：" in guess.evidence


def test_nothing_found() -> None:
    guess = classify(Document("docx", (), ("你好",)), "scan.jpg", "材料", SCHEMAS)
    assert guess.annex is None
    assert guess.evidence == "表格标题、表头和文件名都看不出是附件几"
    assert guess.ambiguous == ()


def test_only_the_characters_themselves_normalise_to_biao_and_fu() -> None:
    """Title lines without 表 or 附 are skipped before NFKC; that is only right while no
    other character (a compatibility ideograph, say) becomes one of them under NFKC."""
    sources = {
        target: [
            hex(c)
            for c in range(sys.maxunicode + 1)
            if chr(c) != target and target in unicodedata.normalize("NFKC", chr(c))
        ]
        for target in "表附"
    }
    assert sources == {"表": [], "附": []}

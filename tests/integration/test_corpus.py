"""The whole corpus through ``analyse_message``: one mail per unit, every format variant.

Asserts the contract type, outcome, reason and rows of each attachment, so a
regression anywhere between detection and extraction shows up here.
"""

from __future__ import annotations

import pytest

from ingest.match.analyse import analyse_message
from ingest.match.analysis_data import AnalysisContext, AttachmentAnalysis
from ingest.match.roster import load_roster
from parsers import build_schemas
from parsers.legacy import Converter
from tests.support.clerk_words import clerk_texts, english_words
from tests.support.corpus import (
    ROWS,
    encrypt_ooxml,
    legacy_files,
    make_7z,
    make_docx,
    make_html_xls,
    make_png,
    make_rar4_stored,
    make_xlsx,
    make_zip,
    require_soffice,
)
from tests.support.forms import make_xlsx_form
from tests.support.mails import make_mail
from tests.support.paths import DEMO_DATA

ROSTER = DEMO_DATA / "roster.csv"
N = len(ROWS)


@pytest.fixture(scope="module")
def analysed() -> dict[str, AttachmentAnalysis]:
    require_soffice()
    legacy = legacy_files()
    files = [
        ("附件4.docx", make_docx()), ("附件4.xlsx", make_xlsx()),
        *[(name, data) for name, data in legacy.items()],
        ("附件4-html.xls", make_html_xls()), ("附件4-real-xlsx.xls", make_xlsx()),
        ("附件4-加密.xlsx", encrypt_ooxml(make_xlsx())), ("附件4-加密.docx", encrypt_ooxml(make_docx())),
        ("附件4-空白.xlsx", make_xlsx_form(4, [])), ("附件4-零字节.docx", b""),
        ("附件4盖章扫描.png", make_png(900, 700)),
        ("材料.zip", make_zip({"附件4（zip）.xlsx": make_xlsx(), "说明/附件4（zip）.docx": make_docx()},
                            gbk=True)),
        ("嵌套.zip", make_zip({"内层.zip": make_zip({"附件4（嵌套）.xlsx": make_xlsx()}, gbk=True)})),
        ("材料.7z", make_7z({"附件4（7z）.xlsx": make_xlsx()})),
        ("材料.rar", make_rar4_stored({"附件4（rar）.xlsx": make_xlsx()})),
    ]  # fmt: skip
    ctx = AnalysisContext(schemas=build_schemas(), roster=load_roster(ROSTER))
    with Converter(timeout_seconds=120) as conv:
        ctx.converter = conv
        result = analyse_message(make_mail(attachments=files), ctx)
    return {a.filename: a for a in result.attachments}


PARSED = {
    "附件4.docx": "docx", "附件4.xlsx": "xlsx", "附件4.doc": "doc", "附件4.wps": "doc",
    "附件4.rtf": "doc", "附件4-rtf.doc": "doc", "附件4.odt": "other", "附件4.xls": "xls",
    "附件4.et": "xls", "附件4.ods": "other", "附件4.pdf": "pdf", "附件4-html.xls": "text",
    "附件4-real-xlsx.xls": "xlsx", "附件4（zip）.xlsx": "xlsx", "附件4（zip）.docx": "docx",
    "附件4（嵌套）.xlsx": "xlsx", "附件4（7z）.xlsx": "xlsx", "附件4（rar）.xlsx": "xlsx",
}  # fmt: skip


@pytest.mark.parametrize(("name", "type_"), sorted(PARSED.items()))
def test_every_readable_variant_yields_the_rows(
    analysed: dict[str, AttachmentAnalysis], name: str, type_: str
) -> None:
    att = analysed[name]
    assert (att.type, att.outcome, att.annex, att.unit) == (type_, "parsed", 4, "南郑区财政局")
    assert len(att.rows) == N
    assert [r["任务名称"] for r in att.rows] == [r["任务名称"] for r in ROWS]


@pytest.mark.parametrize(
    ("name", "type_", "reason"),
    [
        ("附件4-加密.xlsx", "xlsx", "加密文件，无法读取"),
        ("附件4-加密.docx", "docx", "加密文件，无法读取"),
        ("扫描件.pdf", "pdf", "仅扫描件"),
        ("附件4盖章扫描.png", "image", "仅扫描件"),
        ("附件4-空白.xlsx", "xlsx", "空白模板"),
        ("附件4-零字节.docx", "other", "空文件"),
    ],
)
def test_unreadable_variants_are_received_and_explained(
    analysed: dict[str, AttachmentAnalysis], name: str, type_: str, reason: str
) -> None:
    att = analysed[name]
    assert att.type == type_
    assert att.rows == []
    assert att.outcome in ("unparsed", "unassigned")
    assert reason in (att.reason or "")


def test_archives_are_expanded_with_containers(analysed: dict[str, AttachmentAnalysis]) -> None:
    assert analysed["材料.zip"].outcome == "expanded"
    assert analysed["附件4（zip）.docx"].container == "材料.zip"
    assert analysed["内层.zip"].outcome == "expanded"
    assert analysed["附件4（嵌套）.xlsx"].container == "内层.zip"
    assert analysed["材料.rar"].type == "rar" and analysed["材料.7z"].type == "7z"


def test_no_reason_or_evidence_speaks_english(analysed: dict[str, AttachmentAnalysis]) -> None:
    outcomes = {a.outcome for a in analysed.values()}
    assert {"parsed", "unparsed", "expanded"} <= outcomes
    bad = [
        (name, text, words)
        for name, att in analysed.items()
        for text in clerk_texts(att)
        if (words := english_words(text, [name, att.container or "", name.rsplit(".", 1)[0]]))
    ]
    assert bad == []

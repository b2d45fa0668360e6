"""No reason or evidence the clerk reads carries English (beyond format and command names).

Walks every attachment outcome of the demo inbox (31 realistic mails), of a mail
with hostile and odd files, of forwarded mail and of large-attachment links; the
format corpus is walked in ``test_corpus.py`` with the same check.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.match.analyse import analyse_message
from ingest.match.analysis_data import AnalysisContext, MessageAnalysis
from ingest.match.roster import load_roster
from parsers import build_schemas
from parsers.legacy import Converter
from tests.support.bigattach import netease_html, netease_text, qq_html
from tests.support.clerk_words import english_words, violations
from tests.support.corpus import make_xlsx, make_zip, require_soffice
from tests.support.forms import make_docx_form, sample_rows
from tests.support.hostile_files import biff2_xls, rar5_with_symlink, xfd_xlsx
from tests.support.mails import Att, make_mail
from tests.support.paths import DEMO_DATA


@pytest.fixture(scope="module")
def ctx() -> Iterator[AnalysisContext]:
    require_soffice()
    context = AnalysisContext(schemas=build_schemas(), roster=load_roster(DEMO_DATA / "roster.csv"))
    with Converter(timeout_seconds=120) as conv:
        context.converter = conv
        yield context


def odd_mails() -> list[bytes]:
    """Mails whose attachments end in every outcome: ignored, unassigned, refused, links."""
    inner = make_mail(sender="x@qq.com", subject="材料", attachments=[("表.xlsx", make_xlsx())])
    files = [("附件.zip", "56.32M", "2020年3月30日 10:32")]
    return [
        make_mail(
            sender="someone@qq.com",
            subject="材料",
            attachments=[
                ("notes.txt", b"hello world, see attachment"),
                ("data.bin", bytes(range(256)) * 40),
                ("附件.xlsx", xfd_xlsx()),
                ("old.xls", biff2_xls([["任务名称", "分值"], ["a", 1]])),
                ("link.rar", rar5_with_symlink()),
                ("空.zip", make_zip({})),
                ("说明.docx", make_docx_form(6, sample_rows(6, 1), unit_line=None)),
            ],
        ),
        make_mail(attachments=[Att("fw.eml", inner, content_type="message/rfc822", cte="8bit")]),
        make_mail(
            sender="x@qq.com", subject="材料", body=netease_text(files), html=netease_html(files)
        ),
        make_mail(subject="财政局附件4", html=qq_html([("附件4.xlsx", "12.5M", "无限期")])),
    ]


def all_analyses(ctx: AnalysisContext) -> Iterator[MessageAnalysis]:
    for path in sorted((DEMO_DATA / "inbox").glob("*.eml")):
        yield analyse_message(path.read_bytes(), ctx)
    for raw in odd_mails():
        yield analyse_message(raw, ctx)


def test_every_reason_and_evidence_is_chinese(ctx: AnalysisContext) -> None:
    analyses = list(all_analyses(ctx))
    outcomes = {a.outcome for m in analyses for a in m.attachments}
    assert {"parsed", "unparsed", "unassigned", "ignored", "expanded"} <= outcomes  # a real walk
    bad = [v for m in analyses for v in violations(m)]
    assert bad == []


def test_the_check_itself_catches_english() -> None:
    assert english_words("不是表格文件（other），无法读取") == ["other"]
    assert english_words("依据：title: 附件4") == ["title"]
    assert english_words("处理失败（ValueError）") == ["ValueError"]
    assert english_words("发件人：nzczj@163.com；文件名：附件4.docx，请用 `kaohe add` 导入") == []
    assert english_words("文件名：report-final.xlsx", ["report-final.xlsx"]) == []

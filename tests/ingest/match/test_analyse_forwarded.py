"""Forwarded mail and large-attachment links, through poll, report and inspect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.store.pipeline import poll
from tests.support.bigattach import netease_html, netease_text
from tests.support.campaign import Campaign, make_campaign
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows
from tests.support.mails import Att, make_mail

AS_OF = "2020-03-23T08:00:00+08:00"
OFFICE = "office-clerk@163.com"  # a colleague who forwards; not in the roster


def forward(inner: bytes, name: str | None, sender: str = OFFICE, subject: str = "转发") -> bytes:
    return make_mail(
        sender=sender,
        sender_name="办公室",
        subject=subject,
        body="转发给你，请查收。",
        attachments=[Att(name, inner, content_type="message/rfc822", cte="8bit")],
    )


def run(c: Campaign, *args: str) -> Any:
    res = CliRunner().invoke(cli, ["-c", str(c.config_path), *args])
    assert res.exit_code == 0, res.output
    return res.output


def report(c: Campaign) -> dict[str, Any]:
    return json.loads(run(c, "report", "--as-of", AS_OF, "--format", "json", "-o", "-"))


def annex(r: dict[str, Any], unit: str, n: int) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in r["units"] if u["unit"] == unit)["annexes"][str(n)]
    return found


def test_forwarded_form_counts_for_the_unit_it_names(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    inner = make_mail(
        sender="nzzjj@163.com",
        sender_name="住建局",
        subject="住建局考核任务申报",
        attachments=[("附件4.xlsx", make_xlsx_form(4, sample_rows(4, 3), unit_line=None))],
    )
    c.deliver("fw.eml", forward(inner, "住建局考核任务申报.eml"), "2020-03-12T09:00:00")
    poll(c.cfg)
    a4 = annex(report(c), "南郑区住房和城乡建设局", 4)
    assert (a4["status"], a4["rows"]) == ("submitted", 3)


def test_nested_two_levels_and_the_outer_sender_as_fallback(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    form = make_docx_form(6, sample_rows(6, 2), unit_line=None)
    innermost = make_mail(
        sender="someone@qq.com", sender_name="", subject="材料", body="见附件",
        attachments=[("表.docx", form)],
    )  # fmt: skip
    middle = forward(innermost, "材料.eml", sender="helper@qq.com")
    c.deliver(
        "fw.eml", forward(middle, "转发材料.eml", sender="dhkz2020@163.com"), "2020-03-12T09:00"
    )
    poll(c.cfg)
    a6 = annex(report(c), "大河坎镇人民政府", 6)  # named by nobody inside: the outer sender
    assert (a6["status"], a6["rows"]) == ("submitted", 2)
    out = json.loads(run(c, "inspect", str(c.root / "inbox/fw.eml"), "--format", "json"))
    listed = [(a["filename"], a["container"], a["outcome"]) for a in out["attachments"]]
    assert listed == [
        ("转发材料.eml", None, "expanded"),
        ("材料.eml", "转发材料.eml", "expanded"),
        ("表.docx", "材料.eml", "parsed"),
    ]
    assert out["attachments"][2]["unit_evidence"] == "转发人：dhkz2020@163.com"


def test_inspect_text_lists_the_eml_and_its_members(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    inner = make_mail(attachments=[("附件4.xlsx", make_xlsx_form(4, sample_rows(4, 1)))])
    path = c.deliver("fw.eml", forward(inner, "财政局申报.eml"), "2020-03-12T09:00:00")
    text = run(c, "inspect", str(path))
    assert "附件 1：财政局申报.eml" in text and "转发的邮件（原发件人 nzczj@163.com" in text
    assert "附件 2：附件4.xlsx（来自转发的邮件 财政局申报.eml）" in text
    assert "单位：南郑区财政局" in text


def test_163_large_attachment_is_flagged_for_the_unit(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    files = [("附件4：考核任务申报表.xlsx", "56.32M", "2020年3月30日 10:32")]
    mail = make_mail(
        subject="南郑区财政局附件4", body=netease_text(files), html=netease_html(files)
    )
    path = c.deliver("big.eml", mail, "2020-03-16T10:00:00")
    poll(c.cfg)
    a4 = annex(report(c), "南郑区财政局", 4)
    assert a4["status"] == "unparsed"  # not silent: the unit sent something, the clerk must act
    assert a4["reason"] == (
        "超大附件链接（56.32 MB，网易邮箱超大附件），请在 2020-03-30 前手动下载后用 `kaohe add` 导入"
    )
    text = run(c, "inspect", str(path))
    assert "附件 1：附件4：考核任务申报表.xlsx" in text
    assert "下载链接：https://mail.163.com/large-attachment-download/" in text


def test_large_attachment_of_an_unknown_sender_goes_to_the_clerk(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    files = [("材料.zip", "120M", "2020年3月31日 09:00")]
    mail = make_mail(sender="x@qq.com", sender_name="", subject="材料", body=netease_text(files))
    c.deliver("big.eml", mail, "2020-03-16T10:00:00")
    poll(c.cfg)
    [item] = report(c)["unassigned"]
    assert item["filename"] == "材料.zip"
    assert "请在 2020-03-31 前手动下载" in item["reason"]


def test_inspect_of_a_file_that_is_not_a_mail_says_so_in_chinese(tmp_path: Path) -> None:
    """A clerk's slip (a text file, not a .eml): the defect in Chinese, no "None" anywhere."""
    c = make_campaign(tmp_path)
    note = tmp_path / "说明.txt"
    note.write_text("请查收附件。\n", encoding="utf-8")
    text = run(c, "inspect", str(note))
    assert "邮件格式问题：不是邮件格式：找不到邮件头" in text
    assert "Message-ID：（无）" in text and "None" not in text

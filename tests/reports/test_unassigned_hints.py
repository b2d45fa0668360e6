"""待认领 entries carry the unit and annex the evidence points to, pre-filled in the command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.store.pipeline import poll
from reports.output import build_report
from reports.summary import assign_command
from tests.support.campaign import make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

AS_OF = datetime(2020, 3, 22, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_partial_names_in_subject_and_sender_name_prefill_the_command(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    form4 = make_xlsx_form(4, sample_rows(4, 2), unit_line=None)
    form6 = make_xlsx_form(6, sample_rows(6, 2), unit_line=None)
    mails = [
        # "财政" is no roster name or alias, but the core of 南郑区财政局
        make_mail(
            sender="1@qq.com",
            sender_name="张三",
            subject="财政考核任务表",
            attachments=[("表.xlsx", form4)],
        ),
        # only the sender's display name says who it is; 大河坎镇 must report annex 6 only
        make_mail(
            sender="2@qq.com",
            sender_name="大河坎 王强",
            subject="表",
            attachments=[("a.xlsx", form6)],
        ),
        # nothing points anywhere
        make_mail(
            sender="3@qq.com", sender_name="李四", subject="考核表", attachments=[("b.xlsx", form4)]
        ),
    ]
    for i, raw in enumerate(mails):
        c.deliver(f"{i}.eml", raw, f"2020-03-1{i + 2}T09:00:00")
    poll(c.cfg)
    items = build_report(c.cfg, AS_OF).unassigned
    got = [(i.filename, i.suggested_unit, i.suggested_annex) for i in items]
    assert got == [
        ("表.xlsx", "南郑区财政局", 4),
        ("a.xlsx", "大河坎镇人民政府", 6),
        ("b.xlsx", None, 4),
    ]
    assert assign_command(items[0]).endswith("--unit 南郑区财政局 --annex 4")
    assert assign_command(items[2]).endswith("--unit 〈单位名称〉 --annex 4")


def test_the_forms_own_unit_line_naming_a_unit_partially_is_the_first_hint(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    form = make_xlsx_form(4, sample_rows(4, 2), unit_line="填报单位（盖章）：区住建")
    mail = make_mail(
        sender="1@qq.com", sender_name="财政局", subject="表", attachments=[("表.xlsx", form)]
    )
    c.deliver("m.eml", mail, "2020-03-12T09:00:00")
    poll(c.cfg)
    [item] = build_report(c.cfg, AS_OF).unassigned
    assert "不在单位名单中" in item.reason
    assert (item.suggested_unit, item.suggested_annex) == ("南郑区住房和城乡建设局", 4)

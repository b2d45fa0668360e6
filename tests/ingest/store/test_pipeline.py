"""End to end on a local maildir: poll → database → status → JSON report (contract §6, §7)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.store.pipeline import poll, reparse
from tests.support.campaign import Campaign, make_campaign
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows
from tests.support.mails import make_mail

CZ = "南郑区财政局"


def xlsx4(n: int, unit: str | None = CZ) -> bytes:
    return make_xlsx_form(
        4, sample_rows(4, n), unit_line=f"填报单位（盖章）：{unit}" if unit else None
    )


def report_json(c: Campaign, as_of: str) -> dict[str, Any]:
    res = CliRunner().invoke(
        cli, ["-c", str(c.config_path), "report", "--as-of", as_of, "--format", "json", "-o", "-"]
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def unit_of(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(u for u in report["units"] if u["unit"] == name)


def poll_one_form(
    c: Campaign, annex: int, rows: int, unit_line: str | None, sender: str, subject: str, name: str
) -> None:
    """One mail with one xlsx form, received before the deadline, then one poll."""
    form = make_xlsx_form(annex, sample_rows(annex, rows), unit_line=unit_line)
    mail = make_mail(sender=sender, subject=subject, body="见附件", attachments=[(name, form)])
    c.deliver("m.eml", mail, "2020-03-12T09:00:00")
    poll(c.cfg)


def send(c: Campaign, eml: str, subject: str, name: str, data: bytes, when: str) -> None:
    """One mail from the default sender with one attachment, received at *when*."""
    c.deliver(eml, make_mail(subject=subject, attachments=[(name, data)]), when)


@pytest.fixture
def season(tmp_path: Path) -> Campaign:
    """财政局: annex 4 sent, resubmitted; annex 6 late; annex 2 corrupt; annex 5 never."""
    c = make_campaign(tmp_path)
    send(c, "a.eml", "财政局附件4", "附件4.xlsx", xlsx4(3), "2020-03-12T09:30:00")
    send(c, "b.eml", "财政局附件4修改版", "附件4.xlsx", xlsx4(5), "2020-03-15T16:02:11")
    corrupt = b"PK\x03\x04 this is not a workbook"
    send(
        c,
        "c.eml",
        "财政局附件2",
        "附件2：经济社会发展指标建议表.xlsx",
        corrupt,
        "2020-03-16T10:00:00",
    )
    form6 = make_docx_form(6, sample_rows(6, 2))
    send(c, "d.eml", "财政局特色亮点", "附件6.docx", form6, "2020-03-22T08:00:00")
    summary = poll(c.cfg)
    assert (summary.fetched, summary.stored, summary.failed) == (4, 4, 0)
    return c


def test_report_after_deadline_field_by_field(season: Campaign) -> None:
    r = report_json(season, "2020-03-23T08:00:00+08:00")
    assert r["campaign"] == "测试活动"
    assert r["as_of"] == "2020-03-23T08:00:00+08:00"
    assert r["deadline"] == "2020-03-20T23:59:59+08:00"
    assert [u["unit"] for u in r["units"]][:3] == [
        CZ,
        "南郑区发展和改革局",
        "南郑区住房和城乡建设局",
    ]
    cz = unit_of(r, CZ)
    assert cz["category"] == "区直部门"
    assert set(cz["annexes"]) == {"2", "4", "5", "6"}
    assert cz["annexes"]["4"] == {
        "required": True,
        "status": "submitted",
        "first_received": "2020-03-12T09:30:00+08:00",
        "latest_received": "2020-03-15T16:02:11+08:00",
        "versions": 2,
        "rows": 5,
        "reason": None,
    }
    assert cz["annexes"]["6"] == {
        "required": True,
        "status": "late",
        "first_received": "2020-03-22T08:00:00+08:00",
        "latest_received": "2020-03-22T08:00:00+08:00",
        "versions": 1,
        "rows": 2,
        "reason": None,
    }
    a2 = cz["annexes"]["2"]
    assert (a2["status"], a2["versions"], a2["rows"]) == ("unparsed", 1, 0)
    assert a2["reason"] and "损坏" in a2["reason"]
    assert cz["annexes"]["5"] == {
        "required": True,
        "status": "overdue",
        "first_received": None,
        "latest_received": None,
        "versions": 0,
        "rows": 0,
        "reason": None,
    }
    fg = unit_of(r, "南郑区发展和改革局")
    assert {k: v["status"] for k, v in fg["annexes"].items()} == {"4": "overdue", "6": "overdue"}
    assert r["unassigned"] == []


def test_as_of_before_deadline_counts_only_mail_received_by_then(season: Campaign) -> None:
    r = report_json(season, "2020-03-13T00:00:00+08:00")
    cz = unit_of(r, CZ)["annexes"]
    assert (cz["4"]["status"], cz["4"]["versions"], cz["4"]["rows"]) == ("submitted", 1, 3)
    assert cz["4"]["latest_received"] == "2020-03-12T09:30:00+08:00"
    assert cz["6"]["status"] == "missing" and cz["2"]["status"] == "missing"
    assert cz["5"]["status"] == "missing"
    # a bare date means the end of that day
    r2 = report_json(season, "2020-03-20")
    assert r2["as_of"] == "2020-03-20T23:59:59+08:00"
    assert unit_of(r2, CZ)["annexes"]["6"]["status"] == "missing"


def test_resubmission_rows_come_from_latest_parsed_version(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    send(c, "1.eml", "财政局附件4", "附件4.xlsx", xlsx4(4), "2020-03-10T09:00:00")
    garbage = b"garbage that no reader opens"
    send(c, "2.eml", "财政局附件4（新）", "附件4.xlsx", garbage, "2020-03-21T09:00:00")
    poll(c.cfg)
    a4 = unit_of(report_json(c, "2020-03-22"), CZ)["annexes"]["4"]
    # timeliness from the earliest receipt, rows from the latest version that parsed
    assert (a4["status"], a4["versions"], a4["rows"]) == ("submitted", 2, 4)
    assert a4["latest_received"] == "2020-03-21T09:00:00+08:00"


def test_same_mail_twice_counts_once(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    raw = make_mail(
        subject="财政局附件4", attachments=[("附件4.xlsx", xlsx4(2))], message_id="<same@163.com>"
    )
    c.deliver("1.eml", raw, "2020-03-10T09:00:00")
    c.deliver("2.eml", raw, "2020-03-11T09:00:00")
    # same Message-ID and attachments, different bytes (another Received line): still once
    c.deliver("3.eml", b"Received: from relay.example.cn\r\n" + raw, "2020-03-12T09:00:00")
    s = poll(c.cfg)
    assert (s.stored, s.duplicates) == (2, 1)
    a4 = unit_of(report_json(c, "2020-03-22"), CZ)["annexes"]["4"]
    assert (a4["versions"], a4["first_received"]) == (1, "2020-03-10T09:00:00+08:00")
    again = poll(c.cfg)
    assert again.fetched == 0  # keys already done are not read again


@pytest.mark.parametrize(
    ("kw", "expected", "evidence"),
    [
        # the form's own line wins over everything else
        (
            dict(
                unit_line="填报单位（盖章）：南郑区发展和改革局",
                filename="财政局附件4.xlsx",
                subject="住建局",
                sender="nzczj@163.com",
            ),
            "南郑区发展和改革局",
            "表内单位",
        ),
        (
            dict(
                unit_line=None,
                filename="发改局附件4.xlsx",
                subject="住建局申报",
                sender="nzczj@163.com",
            ),
            "南郑区发展和改革局",
            "文件名",
        ),
        (
            dict(
                unit_line=None,
                filename="附件4.xlsx",
                subject="住 建 局 考核任务申报",
                sender="nzczj@163.com",
            ),
            "南郑区住房和城乡建设局",
            "邮件主题",
        ),
        (
            dict(
                unit_line=None,
                filename="附件4.xlsx",
                subject="考核任务申报",
                sender="NZCZJ@163.com",
            ),
            CZ,
            "发件人",
        ),
        (
            dict(
                unit_line=None,
                filename="附件4.xlsx",
                subject="申报表",
                sender="123@qq.com",
                body="宋老师好，这是（南郑区）发改局的申报表。",
            ),
            "南郑区发展和改革局",
            "正文",
        ),
    ],
)
def test_identification_order(
    tmp_path: Path, kw: dict[str, Any], expected: str, evidence: str
) -> None:
    c = make_campaign(tmp_path)
    form = make_xlsx_form(4, sample_rows(4, 2), unit_line=kw["unit_line"])
    c.deliver(
        "m.eml",
        make_mail(
            sender=kw["sender"],
            sender_name="",
            subject=kw["subject"],
            body=kw.get("body", "请查收"),
            attachments=[(kw["filename"], form)],
        ),
        "2020-03-12T09:00:00",
    )
    res = CliRunner().invoke(
        cli, ["-c", str(c.config_path), "inspect", str(c.root / "inbox/m.eml"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    att = json.loads(res.output)["attachments"][0]
    assert att["unit"] == expected
    assert att["unit_evidence"].startswith(evidence + "：")


def test_ambiguous_and_unknown_units_go_to_the_clerk(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    form = make_xlsx_form(4, sample_rows(4, 2), unit_line=None)
    c.deliver(
        "amb.eml",
        make_mail(
            sender="1@qq.com", subject="财政局、住建局联合申报", attachments=[("附件4.xlsx", form)]
        ),
        "2020-03-12T09:00:00",
    )
    c.deliver(
        "unk.eml",
        make_mail(
            sender="2@qq.com", subject="申报表", body="请查收", attachments=[("表.xlsx", form)]
        ),
        "2020-03-12T10:00:00",
    )
    poll(c.cfg)
    r = report_json(c, "2020-03-22")
    assert [u["filename"] for u in r["unassigned"]] == ["附件4.xlsx", "表.xlsx"]
    amb, unk = r["unassigned"]
    assert amb["annex"] == 4 and amb["from"] == "1@qq.com"
    assert "南郑区财政局" in amb["reason"] and "南郑区住房和城乡建设局" in amb["reason"]
    assert "找不到" in unk["reason"]
    assert unk["received"] == "2020-03-12T10:00:00+08:00"
    # nothing was guessed: neither unit is credited
    assert unit_of(r, CZ)["annexes"]["4"]["status"] == "overdue"
    assert unit_of(r, "南郑区住房和城乡建设局")["annexes"]["4"]["status"] == "overdue"


def test_longest_name_wins_in_text(tmp_path: Path) -> None:
    """南郑区委办公室 is named; 南郑区委 (a substring) must not make it ambiguous."""
    c = make_campaign(tmp_path)
    poll_one_form(c, 3, 2, "填报单位：南郑区委办公室", "x@qq.com", "指标建议", "附件3.xlsx")
    r = report_json(c, "2020-03-22")
    assert unit_of(r, "南郑区委办公室")["annexes"]["3"]["status"] == "submitted"
    assert unit_of(r, "南郑区委")["annexes"]["3"]["status"] == "overdue"


def test_assign_survives_reparse_all(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    poll_one_form(c, 4, 3, None, "9@qq.com", "表", "表.xlsx")
    [item] = report_json(c, "2020-03-22")["unassigned"]
    runner = CliRunner()
    res = runner.invoke(
        cli, ["-c", str(c.config_path), "assign", item["attachment"][:8], "--unit", "住建局"]
    )
    assert res.exit_code == 0, res.output
    assert "南郑区住房和城乡建设局" in res.output
    for _ in range(2):
        r = report_json(c, "2020-03-22")
        assert r["unassigned"] == []
        a4 = unit_of(r, "南郑区住房和城乡建设局")["annexes"]["4"]
        assert (a4["status"], a4["rows"], a4["versions"]) == ("submitted", 3, 1)
        res = runner.invoke(cli, ["-c", str(c.config_path), "reparse", "--all"])
        assert res.exit_code == 0 and "1 封" in res.output, res.output


def test_assign_rejects_unknown_unit_and_attachment(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    poll(c.cfg)
    res = CliRunner().invoke(
        cli, ["-c", str(c.config_path), "assign", "abcdef", "--unit", "不存在局"]
    )
    assert res.exit_code == 1 and "单位名单中没有“不存在局”" in res.output
    res = CliRunner().invoke(
        cli, ["-c", str(c.config_path), "assign", "abcdef", "--unit", "财政局"]
    )
    assert res.exit_code == 1 and "不存在" in res.output


def test_reparse_after_roster_fix_assigns_the_unit(tmp_path: Path) -> None:
    """A unit missing from the roster is unassigned; after the roster is fixed, reparse finds it."""
    c = make_campaign(tmp_path)
    poll_one_form(c, 6, 2, "填报单位：协税镇人民政府", "xs@163.com", "特色亮点", "附件6.xlsx")
    assert len(report_json(c, "2020-03-22")["unassigned"]) == 1
    roster = c.root / "roster.csv"
    roster.write_text(
        roster.read_text(encoding="utf-8") + "协税镇人民政府,镇（街道办）,6,,,,\n", encoding="utf-8"
    )
    assert reparse(c.cfg) == 1
    r = report_json(c, "2020-03-22")
    assert r["unassigned"] == []
    assert unit_of(r, "协税镇人民政府")["annexes"]["6"]["rows"] == 2


def test_mail_before_not_before_is_archived_but_not_counted(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    c.deliver(
        "old.eml",
        make_mail(subject="财政局附件4", attachments=[("附件4.xlsx", xlsx4(2))]),
        "2020-01-15T09:00:00",
    )
    s = poll(c.cfg)
    assert s.stored == 1
    assert len(list((c.root / "data" / "raw").rglob("*.eml"))) == 1
    assert unit_of(report_json(c, "2020-03-01"), CZ)["annexes"]["4"]["status"] == "missing"


def test_unrequired_annex_is_listed_as_not_required(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    c.deliver(
        "m.eml",
        make_mail(
            sender="dhkz2020@163.com",
            subject="大河坎镇附件4",
            attachments=[("附件4.xlsx", xlsx4(2, "大河坎镇人民政府"))],
        ),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    annexes = unit_of(report_json(c, "2020-03-22"), "大河坎镇人民政府")["annexes"]
    assert annexes["4"]["required"] is False and annexes["4"]["status"] == "submitted"
    assert annexes["6"]["required"] is True and annexes["6"]["status"] == "overdue"


def test_raw_archive_is_byte_for_byte(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    raw = make_mail(subject="财政局附件4", attachments=[("附件4.xlsx", xlsx4(1))])
    c.deliver("m.eml", raw, "2020-03-12T09:00:00")
    poll(c.cfg)
    [stored] = list((c.root / "data" / "raw").rglob("*.eml"))
    assert stored.read_bytes() == raw
    assert (
        datetime.fromtimestamp(stored.stat().st_mtime).year >= 2024
    )  # not a copy of the inbox file


def test_export_cli_latest_version_in_roster_order(season: Campaign, tmp_path: Path) -> None:
    import csv
    import io

    res = CliRunner().invoke(
        cli, ["-c", str(season.config_path), "export", "--annex", "4", "--format", "csv", "-o", "-"]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.output.lstrip("\ufeff"))))
    assert rows[0][0] == "单位名称" and rows[0][1] == "序号" and "任务名称" in rows[0]
    assert [r[0] for r in rows[1:]] == [CZ] * 5  # the 5 rows of version 2, not 3 + 5
    out = tmp_path / "all.xlsx"
    res = CliRunner().invoke(
        cli, ["-c", str(season.config_path), "export", "--all", "-o", str(out)]
    )
    assert res.exit_code == 0 and out.exists(), res.output
    import openpyxl

    assert [ws.title for ws in openpyxl.load_workbook(out).worksheets][-5:] == [
        f"附件{n}" for n in range(2, 7)
    ]


def test_scores_are_stored_as_numbers_where_they_are_numbers(tmp_path: Path) -> None:
    from ingest.store.db import open_db

    c = make_campaign(tmp_path)
    rows = sample_rows(4, 3)
    rows[2]["分值"] = "按实际完成情况"
    c.deliver(
        "m.eml",
        make_mail(subject="财政局附件4", attachments=[("附件4.xlsx", make_xlsx_form(4, rows))]),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    db = open_db(c.cfg.db_path)
    got = db.execute('select "分值", typeof("分值") from annex4_rows order by row_no').fetchall()
    assert got == [(5, "integer"), (3, "integer"), ("按实际完成情况", "text")]


@pytest.mark.integration
def test_poll_converts_old_word_files_of_several_mails_in_one_libreoffice_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three mails with a .doc each: one soffice start, all rows read, each mail counted."""
    from tests.support.corpus import require_soffice, soffice_convert

    require_soffice()
    units = ["南郑区财政局", "南郑区发展和改革局", "南郑区住房和城乡建设局"]
    docs = {
        f"{i}.docx": make_docx_form(4, sample_rows(4, i + 2), unit_line=f"填报单位：{u}")
        for i, u in enumerate(units)
    }
    converted = soffice_convert(docs, "doc")
    calls = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "soffice"
    wrapper.write_text(f'#!/bin/sh\necho call >> {calls}\nexec /usr/bin/soffice "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    c = make_campaign(tmp_path / "c")
    for i, unit in enumerate(units):
        c.deliver(
            f"{i}.eml",
            make_mail(
                sender="x@qq.com",
                subject="附件4",
                attachments=[(f"附件4（{unit}）.doc", converted[f"{i}.doc"])],
            ),
            f"2020-03-1{i}T09:00:00",
        )
    summary = poll(c.cfg)
    assert (summary.stored, summary.attachments) == (3, {"parsed": 3})
    assert calls.read_text().count("call") == 1
    r = report_json(c, "2020-03-22")
    assert [unit_of(r, u)["annexes"]["4"]["rows"] for u in units] == [2, 3, 4]
    # a reparse of the archive batches the same way
    assert reparse(c.cfg) == 3
    assert calls.read_text().count("call") == 2


def test_a_killed_pollers_half_written_files_are_removed(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    work = c.root / "data" / "raw" / ".tmp"
    work.mkdir(parents=True)
    (work / ".tmp-abc123").write_bytes(b"half a mail")
    c.deliver(
        "m.eml",
        make_mail(subject="财政局附件4", attachments=[("附件4.xlsx", xlsx4(1))]),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    assert list(work.iterdir()) == []
    assert len(list((c.root / "data" / "raw").glob("*/*.eml"))) == 1


def test_a_message_the_source_could_not_fetch_is_recorded_and_retried(tmp_path: Path) -> None:
    """A per-message fetch failure is a row (shown to the clerk), not a blocked mailbox."""
    from datetime import UTC
    from datetime import datetime as dt

    from ingest.mail.sources.base import SourceItem
    from ingest.store.db import DbSourceState, open_db

    class OneBadMessage:
        def __init__(self) -> None:
            self.calls = 0
            self.done: list[str] = []

        def fetch_new(self, state: DbSourceState) -> Any:
            self.calls += 1
            when = dt(2020, 3, 12, 1, 0, tzinfo=UTC)
            if "test:1" in state.retry_keys("test:") or self.calls == 1:
                ok = self.calls >= 3
                yield SourceItem(
                    "test:1",
                    when,
                    xlsx_mail if ok else None,
                    10,
                    failed_reason=None if ok else "服务器没有返回这封邮件的内容",
                )

        copy_warning = None

        def mark_done(self, item: SourceItem) -> None:
            self.done.append(item.key)

        def close(self) -> None:
            pass

    c = make_campaign(tmp_path)
    xlsx_mail = make_mail(subject="财政局附件4", attachments=[("附件4.xlsx", xlsx4(2))])
    src = OneBadMessage()
    assert poll(c.cfg, source=src).failed == 1
    db = open_db(c.cfg.db_path)
    row = db.execute("select status, attempts, reason from source_items").fetchone()
    assert row == ("failed", 1, "服务器没有返回这封邮件的内容")
    from reports.output import build_report

    failures = build_report(c.cfg, dt(2020, 3, 22, tzinfo=UTC)).failures
    assert [f.key for f in failures] == ["test:1"]
    assert poll(c.cfg, source=src).failed == 1  # retried, failed again
    assert poll(c.cfg, source=src).stored == 1  # retried, fetched
    assert db.execute("select status, attempts from source_items").fetchone() == ("stored", 2)
    assert unit_of(report_json(c, "2020-03-22"), CZ)["annexes"]["4"]["rows"] == 2

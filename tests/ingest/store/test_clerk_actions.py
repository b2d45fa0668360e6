"""The clerk's actions as library calls: assign/undo, dismiss/undo, paper, add, the stored file.

Each action must show in the report at once, survive ``reparse --all``, never silently
overwrite an earlier decision, and leave one audit line per change.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.store.audit import list_actions
from ingest.store.clerk import (
    ClerkActionError,
    add_file,
    assign_attachment,
    dismiss_attachment,
    record_paper,
    save_copy,
    stored_file,
    undo_assignment,
    undo_dismissal,
)
from ingest.store.clerk_base import open_store
from ingest.store.files import safe_name
from ingest.store.pipeline import poll, reparse
from reports.model import StatusReport
from reports.output import build_report
from tests.support.campaign import Campaign, make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2020, 3, 22, 8, 0, tzinfo=TZ)
ZJJ = "南郑区住房和城乡建设局"
CZ = "南郑区财政局"


def report(c: Campaign) -> StatusReport:
    return build_report(c.cfg, AS_OF)


def annex(r: StatusReport, unit: str, n: int) -> tuple[str, int, int]:
    a = next(u for u in r.units if u.unit == unit).annexes[n]
    return a.status.value, a.rows, a.versions


@pytest.fixture
def stray(tmp_path: Path) -> tuple[Campaign, str]:
    """One form from a QQ address that names no unit: it waits in 待认领."""
    c = make_campaign(tmp_path)
    form = make_xlsx_form(4, sample_rows(4, 3), unit_line=None)
    c.deliver(
        "m.eml",
        make_mail(sender="9@qq.com", subject="表", body="见附件", attachments=[("表.xlsx", form)]),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    [item] = report(c).unassigned
    return c, item.attachment


def test_assign_by_short_name_then_reassign_says_what_it_replaced(
    stray: tuple[Campaign, str],
) -> None:
    c, att = stray
    done = assign_attachment(c.cfg, att[:6], "住建", None, actor="张三")
    assert f"认领为 {ZJJ} 的附件4" in done and "读出 3 行" in done
    assert annex(report(c), ZJJ, 4) == ("submitted", 3, 1)
    again = assign_attachment(c.cfg, att, "发改局", 4, actor="李四")
    assert f"替换了之前的认领：{ZJJ} 的附件4" in again
    r = report(c)
    assert annex(r, "南郑区发展和改革局", 4) == ("submitted", 3, 1)
    assert annex(r, ZJJ, 4) == ("overdue", 0, 0)
    same = assign_attachment(c.cfg, att, "区发改局", 4)
    assert "未作改动" in same
    with open_store(c.cfg) as db:
        log = list_actions(db)
    assert [(e.action, e.actor) for e in log] == [("assign", "李四"), ("assign", "张三")]
    assert log[0].before is not None and log[0].before["assigned"] == {"unit": ZJJ, "annex": 4}
    assert log[0].after == {"unit": "南郑区发展和改革局", "annex": 4}
    assert log[1].before is not None and log[1].before["outcome"] == "unassigned"


def test_undo_assignment_brings_it_back_and_survives_reparse(stray: tuple[Campaign, str]) -> None:
    c, att = stray
    assign_attachment(c.cfg, att, "住建局", 4)
    reparse(c.cfg)
    assert annex(report(c), ZJJ, 4) == ("submitted", 3, 1)
    done = undo_assignment(c.cfg, att)
    assert f"原为 {ZJJ} 的附件4" in done and "待认领" in done
    reparse(c.cfg)
    r = report(c)
    assert [i.attachment for i in r.unassigned] == [att] and annex(r, ZJJ, 4)[0] == "overdue"
    with pytest.raises(ClerkActionError, match="没有人工认领"):
        undo_assignment(c.cfg, att)


def test_dismiss_survives_reparse_and_undo_restores(stray: tuple[Campaign, str]) -> None:
    c, att = stray
    done = dismiss_attachment(c.cfg, att, "名单外单位的表", actor="张三")
    assert "已排除" in done and "名单外单位的表" in done
    for _ in range(2):
        assert report(c).unassigned == []
        with open_store(c.cfg) as db:
            row = db.execute(
                "select outcome, reason from attachments where id = ?", [att]
            ).fetchone()
        assert row[0] == "dismissed" and "名单外单位的表" in row[1]
        reparse(c.cfg)
    with pytest.raises(ClerkActionError, match="已经排除过了"):
        dismiss_attachment(c.cfg, att, None)
    with pytest.raises(ClerkActionError, match="dismiss .* --undo"):
        assign_attachment(c.cfg, att, "住建局", 4)
    assert "待认领" in undo_dismissal(c.cfg, att)
    assert [i.attachment for i in report(c).unassigned] == [att]
    with pytest.raises(ClerkActionError, match="没有被排除"):
        undo_dismissal(c.cfg, att)
    with open_store(c.cfg) as db:
        actions = [(e.action, e.after) for e in list_actions(db)]
    assert actions == [
        ("dismiss_undo", None),
        ("dismiss", {"outcome": "dismissed", "reason": "名单外单位的表"}),
    ]


def test_an_assigned_attachment_is_not_dismissed_silently(stray: tuple[Campaign, str]) -> None:
    c, att = stray
    assign_attachment(c.cfg, att, "住建局", 4)
    with pytest.raises(ClerkActionError, match="先撤销认领：kaohe assign .* --undo"):
        dismiss_attachment(c.cfg, att, "不是申报表")
    assert annex(report(c), ZJJ, 4) == ("submitted", 3, 1)


def test_dismissing_a_counted_form_uncounts_it(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    form = make_xlsx_form(4, sample_rows(4, 2), unit_line=f"填报单位：{CZ}")
    c.deliver(
        "m.eml",
        make_mail(sender="nzczj@163.com", subject="测试邮件", attachments=[("附件4.xlsx", form)]),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    assert annex(report(c), CZ, 4) == ("submitted", 2, 1)
    with open_store(c.cfg) as db:
        att = db.execute("select id from attachments").fetchone()[0]
    done = dismiss_attachment(c.cfg, att, "测试邮件，不算")
    assert f"原计为 {CZ} 的附件4，现已不再计入" in done
    assert annex(report(c), CZ, 4) == ("overdue", 0, 0)


def test_unknown_ids_and_names_are_clear_errors(stray: tuple[Campaign, str]) -> None:
    c, att = stray
    with pytest.raises(ClerkActionError, match="太短"):
        assign_attachment(c.cfg, att[:2], "住建局", 4)
    with pytest.raises(ClerkActionError, match="不存在"):
        dismiss_attachment(c.cfg, "ffffffff", None)
    with pytest.raises(ClerkActionError) as err:
        assign_attachment(c.cfg, att, "住建委", 4)
    assert "单位名单中没有“住建委”" in str(err.value) and ZJJ in err.value.candidates
    with pytest.raises(ClerkActionError) as err:
        assign_attachment(c.cfg, att, "局", 4)
    assert "可能是以下" in str(err.value) and {CZ, ZJJ} <= set(err.value.candidates)
    with open_store(c.cfg) as db:
        assert list_actions(db) == []  # nothing was done, nothing logged


def test_paper_several_annexes_at_once_and_undo(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    done = record_paper(c.cfg, "财政局", [4, 2, 4], date(2020, 3, 18), actor="张三")
    assert done == f"已记录：2020-03-18 收到 {CZ} 附件2、附件4 的纸质版。"
    r = report(c)
    cz = next(u for u in r.units if u.unit == CZ)
    assert cz.annexes[2].paper_received == cz.annexes[4].paper_received == date(2020, 3, 18)
    assert cz.annexes[5].paper_received is None
    moved = record_paper(c.cfg, "财政局", [4, 3], date(2020, 3, 19))
    assert "附件4原记录为 2020-03-18，已更新" in moved and "不需要报送附件3" in moved
    undone = record_paper(c.cfg, "财政局", [2, 5], None, undo=True)
    assert undone == f"已撤销 {CZ} 附件2 的纸质版记录。{CZ} 附件5 本来就没有纸质版记录。"
    with open_store(c.cfg) as db:
        log = [(e.action, e.target, e.before, e.after) for e in reversed(list_actions(db))]
    assert log == [
        ("paper", f"{CZ} 附件2", None, {"received_on": "2020-03-18"}),
        ("paper", f"{CZ} 附件4", None, {"received_on": "2020-03-18"}),
        ("paper", f"{CZ} 附件3", None, {"received_on": "2020-03-19"}),
        ("paper", f"{CZ} 附件4", {"received_on": "2020-03-18"}, {"received_on": "2020-03-19"}),
        ("paper_undo", f"{CZ} 附件2", {"received_on": "2020-03-18"}, None),
    ]
    with pytest.raises(ClerkActionError, match="没有附件7"):
        record_paper(c.cfg, "财政局", [7], None)
    with pytest.raises(ClerkActionError, match="--annex"):
        record_paper(c.cfg, "财政局", [], None)


def test_add_file_enters_like_a_mailed_form(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    path = tmp_path / "财政局附件4（QQ群）.xlsx"
    path.write_bytes(make_xlsx_form(4, sample_rows(4, 5), unit_line=None))
    when = datetime(2020, 3, 21, 15, 0, tzinfo=TZ)  # after the deadline: late
    done = add_file(c.cfg, path, "财政", 4, when, actor="张三")
    assert "已手工添加 财政局附件4（QQ群）.xlsx" in done and "2020-03-21 15:00" in done
    assert f"已解析为 {CZ} 的附件4（读出 5 行）" in done
    for _ in range(2):  # the synthetic mail is in the raw archive: reparse keeps it
        assert annex(report(c), CZ, 4) == ("late", 5, 1)
        assert reparse(c.cfg) == 1
    with open_store(c.cfg) as db:
        m = db.execute(
            "select sender, sender_name, raw_path, receipt_sent_at from messages"
        ).fetchone()
        key = db.execute("select key from source_items").fetchone()[0]
        [entry] = list_actions(db)
    assert m[0].startswith("noreply") and m[0].endswith(".invalid")  # never gets a receipt
    assert m[1] == "手工添加（张三）" and (c.cfg.data_dir / m[2]).is_file()
    assert key.startswith("manual:")
    assert (entry.action, entry.actor, entry.after and entry.after["unit"]) == ("add", "张三", CZ)
    with pytest.raises(ClerkActionError, match="无需重复添加"):
        add_file(c.cfg, path, "财政局", 4, None)
    with pytest.raises(ClerkActionError, match=f"计为 {CZ} 的附件4.*kaohe assign .* --unit {ZJJ}"):
        add_file(c.cfg, path, "住建局", 4, None)  # the same bytes for a second unit: a mistake
    path.write_bytes(make_xlsx_form(4, sample_rows(4, 6), unit_line=None))
    add_file(c.cfg, path, "财政局", 4, datetime(2020, 3, 22, 7, 0, tzinfo=TZ))
    assert annex(report(c), CZ, 4) == ("late", 6, 2)  # a second version, the latest counts


def test_add_file_refuses_a_file_waiting_in_unassigned(
    stray: tuple[Campaign, str], tmp_path: Path
) -> None:
    c, att = stray
    copy = save_copy(c.cfg, att, tmp_path)
    with pytest.raises(ClerkActionError, match=f"kaohe assign {att} --unit"):
        add_file(c.cfg, copy, "住建局", 4, None)
    with pytest.raises(ClerkActionError, match="文件不存在"):
        add_file(c.cfg, tmp_path / "没有.xlsx", "住建局", 4, None)


def test_stored_file_and_save_copy_never_overwrite(
    stray: tuple[Campaign, str], tmp_path: Path
) -> None:
    c, att = stray
    found = stored_file(c.cfg, att[:5])
    assert (found.filename, found.type) == ("表.xlsx", "xlsx")
    assert found.path.is_file() and found.path.stat().st_size == found.size
    out = tmp_path / "out"
    out.mkdir()
    first = save_copy(c.cfg, att, out)
    second = save_copy(c.cfg, att, out)
    assert (first.name, second.name) == ("表.xlsx", "表 (2).xlsx")
    assert first.read_bytes() == second.read_bytes() == found.path.read_bytes()
    named = save_copy(c.cfg, att, out / "住建局附件4.xlsx")
    assert named.name == "住建局附件4.xlsx"
    with pytest.raises(ClerkActionError, match="目标文件夹不存在"):
        save_copy(c.cfg, att, tmp_path / "nowhere" / "x.xlsx")


@pytest.mark.parametrize(
    ("name", "kind", "safe"),
    [
        ("../../etc/passwd", "other", "passwd"),
        ("..\\系统\\附件4.xlsx", "xlsx", "附件4.xlsx"),
        ("附件4", "xlsx", "附件4.xlsx"),  # no extension: the detected type's
        ("a\x00b|c?.docx", "docx", "a_b_c_.docx"),
        ("", "pdf", "附件_abc123.pdf"),
        ("..", "other", "附件_abc123"),
        ("长" * 100 + ".xlsx", "xlsx", "长" * 65 + ".xlsx"),  # cut to 200 bytes
    ],
)
def test_safe_name(name: str, kind: str, safe: str) -> None:
    assert safe_name(name, "abc123", kind) == safe


def test_wildcards_in_a_typed_id_match_nothing(stray: tuple[Campaign, str]) -> None:
    c, _ = stray
    for typed in ("____", "%%%%", "附件编号"):
        with pytest.raises(ClerkActionError, match="不存在"):
            stored_file(c.cfg, typed)

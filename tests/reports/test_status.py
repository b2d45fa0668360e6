"""build_status and latest_forms on a database written the way the pipeline writes it:
statuses of contract §6 field by field, the as-of cutoff, paper copies, unassigned
items with their candidates, failures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from ingest.core.config import Config
from ingest.core.vocab import Outcome, SourceItemState, Status
from ingest.match.roster import Roster, load_roster
from ingest.match.submission import Submission
from ingest.store import db as dbm
from reports.model import StatusReport
from reports.status import build_status, latest_forms
from tests.support.campaign import ROSTER
from tests.support.report_samples import make_config

TZ = ZoneInfo("Asia/Shanghai")
CZ, ZJ = "南郑区财政局", "南郑区住房和城乡建设局"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2020, 3, day, hour, tzinfo=TZ)


def submit(
    db: sqlite_utils.Database, sid: str, annex: int, day: int, rows: int, reason: str = ""
) -> None:
    """One submission of 财政局 with *rows* data rows (none: unparsed with *reason*)."""
    sub = Submission(
        id=sid,
        unit=CZ,
        annex=annex,
        message="m" + sid,
        attachment="a" + sid,
        status=Outcome.PARSED if rows else Outcome.UNPARSED,
        reason=reason or None,
        evidence="",
        scan=False,
        rows=tuple({"序号": str(i), "备注": f"{sid}-{i}"} for i in range(1, rows + 1)),
    )
    records = {annex: sub.row_records()} if rows else {}
    dbm.replace_derived(db, sub.message, [], [sub.record(dbm.to_db(at(day)))], records)


@pytest.fixture
def world(tmp_path: Path) -> tuple[sqlite_utils.Database, Roster, Config]:
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    db = sqlite_utils.Database(memory=True)
    dbm.ensure_schema(db)
    submit(db, "s4a", 4, 12, 2)
    submit(db, "s4b", 4, 15, 3)  # a second version: its rows count
    submit(db, "s4c", 4, 16, 0, "加密文件，无法读取")  # a later unreadable one does not
    submit(db, "s2", 2, 14, 0, "仅扫描件")
    submit(db, "s6", 6, 21, 1)  # after the deadline
    submit(db, "s3", 3, 13, 4)  # not required of 财政局
    db.table("paper").insert({"unit": CZ, "annex": 4, "received_on": "2020-03-21"})
    db.table("attachments").insert(
        {
            "id": "u1",
            "message": "mu",
            "part": "2",
            "filename": "联合申报.xlsx",
            "annex": 4,
            "outcome": Outcome.UNASSIGNED,
            "reason": f"邮件主题同时指向多个单位：{CZ}、{ZJ}，请人工认领",
        }
    )
    db.table("messages").insert(
        {"id": "mu", "sender": "1@qq.com", "subject": "联合", "received": dbm.to_db(at(12))}
    )
    failed = SourceItemState.FAILED
    when = dbm.to_db(at(13))
    dbm.record_source_item(
        db,
        "maildir:bad.eml",
        message=None,
        received=when,
        status=failed,
        reason="读取失败",
        size=10,
    )
    return db, load_roster(tmp_path / "roster.csv"), make_config(tmp_path)


def report(world: tuple[sqlite_utils.Database, Roster, Config], day: int) -> StatusReport:
    return build_status(*world, at(day, 8))


def test_statuses_after_the_deadline(world: tuple[sqlite_utils.Database, Roster, Config]) -> None:
    r = report(world, 22)
    assert [u.unit for u in r.units][:2] == [CZ, "南郑区发展和改革局"]  # roster order
    cz = r.units[0].annexes
    assert {n: (a.status, a.required) for n, a in cz.items()} == {
        2: (Status.UNPARSED, True),
        3: (Status.SUBMITTED, False),
        4: (Status.SUBMITTED, True),
        5: (Status.OVERDUE, True),
        6: (Status.LATE, True),
    }
    a4 = cz[4]
    assert (a4.first_received, a4.latest_received) == (at(12), at(16))
    assert (a4.versions, a4.rows, a4.latest_attachment, a4.reason) == (3, 3, "as4b", None)
    assert cz[2].reason == "仅扫描件" and cz[2].rows == 0
    assert str(a4.paper_received) == "2020-03-21"
    fg = r.units[1].annexes
    assert {n: a.status for n, a in fg.items()} == {4: Status.OVERDUE, 6: Status.OVERDUE}


def test_only_mail_received_by_as_of_counts(
    world: tuple[sqlite_utils.Database, Roster, Config],
) -> None:
    cz = report(world, 13).units[0].annexes
    assert (cz[4].status, cz[4].versions, cz[4].rows) == (Status.SUBMITTED, 1, 2)
    assert cz[5].status is Status.MISSING and cz[6].status is Status.MISSING
    assert cz[2].status is Status.MISSING  # the scan came on the 14th
    assert cz[4].paper_received is None  # recorded for the 21st: not yet as of the 13th


def test_unassigned_items_and_failures(world: tuple[sqlite_utils.Database, Roster, Config]) -> None:
    r = report(world, 22)
    [item] = r.unassigned
    assert (item.attachment, item.filename, item.sender, item.annex) == (
        "u1",
        "联合申报.xlsx",
        "1@qq.com",
        4,
    )
    assert item.unit_candidates == (CZ, ZJ)
    assert [(f.key, f.attempts, f.error) for f in r.failures] == [
        ("maildir:bad.eml", 1, "读取失败")
    ]
    assert report(world, 11).unassigned == [] and report(world, 11).failures == []


def test_latest_forms_carry_the_rows_that_count(
    world: tuple[sqlite_utils.Database, Roster, Config],
) -> None:
    [form] = latest_forms(world[0], 4)
    assert (form.unit, form.attachment, form.version, form.received) == (CZ, "as4b", 2, at(15))
    assert [r["备注"] for r in form.rows] == ["s4b-1", "s4b-2", "s4b-3"]
    assert latest_forms(world[0], 5) == []

"""StatusReport objects built in code for the renderer and mail-draft tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ingest.app.outbox.compose import Office
from ingest.core.config import Config, config_from_dict
from reports.model import (
    AnnexStatus,
    FailedItem,
    Status,
    StatusReport,
    UnassignedItem,
    UnitStatus,
)

TZ = ZoneInfo("Asia/Shanghai")
DEADLINE = datetime(2020, 3, 20, 23, 59, 59, tzinfo=TZ)
AS_OF = datetime(2020, 3, 23, 8, 0, tzinfo=TZ)
SCRIPT = "<script>alert('x')</script>"


def t(day: int, hour: int = 9, minute: int = 30) -> datetime:
    return datetime(2020, 3, day, hour, minute, tzinfo=TZ)


def ok(
    annex: int,
    day: int = 12,
    rows: int = 14,
    versions: int = 1,
    paper: date | None = None,
    checks: tuple[str, ...] = (),
    late: bool = False,
    required: bool = True,
) -> AnnexStatus:
    return AnnexStatus(
        annex=annex,
        required=required,
        status=Status.LATE if late else Status.SUBMITTED,
        first_received=t(day),
        latest_received=t(day) + timedelta(days=versions - 1),
        versions=versions,
        rows=rows,
        paper_received=paper,
        checks=checks,
        latest_attachment=f"a{annex}{day:02d}0000000",
    )


def owe(annex: int, status: Status, reason: str | None = None) -> AnnexStatus:
    received = t(15) if status is Status.UNPARSED else None
    return AnnexStatus(
        annex=annex,
        required=True,
        status=status,
        first_received=received,
        latest_received=received,
        versions=1 if received else 0,
        reason=reason,
    )


def units(after_deadline: bool = True) -> list[UnitStatus]:
    gone = Status.OVERDUE if after_deadline else Status.MISSING
    return [
        UnitStatus(
            "南郑区财政局",
            "区直部门",
            {4: ok(4, versions=2, paper=date(2020, 3, 13)), 6: owe(6, gone)},
            contact="王会计",
            phone="13800000001",
            emails=("czj@nz.gov.cn",),
        ),
        UnitStatus(
            "南郑区发展和改革局",
            "区直部门",
            {
                2: ok(2, rows=6),
                4: ok(4, day=21, late=True),
                5: owe(5, Status.UNPARSED, "加密文件，无法读取"),
                6: ok(
                    6,
                    rows=3,
                    checks=(
                        "第3行“分值”不是数字：“五分”",
                        f"第2行“特色亮点名称”为空；任务 {SCRIPT}",
                    ),
                ),
            },
            contact="李主任",
            phone="5511234",
            emails=("fgj@nz.gov.cn", "fgj2@163.com"),
        ),
        UnitStatus(
            "汉山街道办",
            "镇（街道办）",
            {6: owe(6, gone), 4: ok(4, rows=2, required=False)},
            contact="赵干事",
            phone="",
            emails=(),
        ),
        UnitStatus(
            "大河坎镇",
            "镇（街道办）",
            {2: ok(2, rows=9), 6: ok(6, rows=4)},
            contact="孙镇长",
            phone="5512000",
            emails=("dhk@nz.gov.cn",),
        ),
    ]


def unassigned() -> list[UnassignedItem]:
    return [
        UnassignedItem(
            attachment="b1b2c3d4e5f6",
            filename="附件4.xlsx",
            sender="someone@qq.com",
            subject=f"考核任务申报 {SCRIPT}",
            received=t(18, 10, 0),
            annex=4,
            reason="表格、文件名、主题和发件人中都没有名单上的单位",
            message="m1",
        ),
        UnassignedItem(
            attachment="c1c2c3d4e5f6",
            filename="表.docx",
            sender="x@163.com",
            subject="材料",
            received=t(19),
            annex=None,
            reason="有两个单位符合",
            container="材料.zip",
            unit_candidates=("汉山街道办", "大河坎镇"),
        ),
    ]


def sample_report(after_deadline: bool = True) -> StatusReport:
    return StatusReport(
        campaign="2020年度考核指标申报",
        as_of=AS_OF if after_deadline else datetime(2020, 3, 17, 8, 0, tzinfo=TZ),
        deadline=DEADLINE,
        units=units(after_deadline),
        unassigned=unassigned(),
        failures=[FailedItem("imap:INBOX:1:77", 5, "邮件过大，已跳过", t(22))],
    )


def make_config(
    data_dir: Path, smtp: dict[str, Any] | None = None, extra: dict[str, Any] | None = None
) -> Config:
    """A valid config whose data_dir is *data_dir* (roster path need not exist)."""
    raw: dict[str, Any] = {
        "mailbox": {
            "source": "maildir",
            "path": str(data_dir / "inbox"),
            "username": "nzkhb@163.com",
        },
        "campaign": {
            "name": "2020年度考核指标申报",
            "deadline": "2020-03-20",
            "timezone": "Asia/Shanghai",
        },
        "paths": {"data_dir": str(data_dir), "roster": str(data_dir / "roster.csv")},
        "smtp": smtp
        or {
            "host": "127.0.0.1",
            "port": 465,
            "username": "nzkhb@163.com",
            "password_env": "KAOHE_TEST_SMTP_PASSWORD",
        },
    }
    raw.update(extra or {})
    return config_from_dict(raw, base=data_dir)


OFFICE = Office(name="南郑区考核办", contact="宋艳丽", phone="5511051", mailbox="nzkhb@163.com")


def make_demo(folder: Path, extra_toml: str = "") -> Config:
    """The bundled demo inbox polled into *folder* (a real processed database)."""
    from ingest.app.demo import run_demo
    from ingest.core.config import load_config

    run_demo(folder, echo=lambda _line: None)
    config = folder / "config.toml"
    if extra_toml:
        config.write_text(config.read_text(encoding="utf-8") + "\n" + extra_toml, encoding="utf-8")
    return load_config(config)


def demo_as_of() -> datetime:
    from ingest.app.demo import DEMO_AS_OF

    return datetime.fromisoformat(DEMO_AS_OF)

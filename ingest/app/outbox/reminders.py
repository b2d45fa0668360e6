"""Reminder mails (催报): one per unit that owes something, to its roster addresses.

Drafts are built from the report only. ``kaohe remind --dry-run`` writes them
as ``.eml`` files for the clerk to read; only ``kaohe remind`` without it sends.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from ingest.app.outbox.compose import (
    Office,
    cn_date,
    cn_time,
    new_message,
    office_from_config,
    stamp_folder,
    write_drafts,
)
from ingest.core.config import Config
from reports.model import StatusReport, UnitStatus
from reports.summary import local, owed_phrase, paper_outstanding

INDENT = "\u3000\u3000"


def reminder_units(report: StatusReport) -> list[UnitStatus]:
    """Units with a required annex missing, overdue or unreadable (roster order)."""
    return [u for u in report.units if u.owes]


def units_without_email(report: StatusReport) -> list[UnitStatus]:
    """Units that owe something but have no address in the roster: phone them."""
    return [u for u in reminder_units(report) if not u.emails]


def draft_reminders(
    report: StatusReport, cfg: Config, office: Office | None = None
) -> list[EmailMessage]:
    """One reminder per unit that owes something and has an address."""
    office = office or office_from_config(cfg)
    now = local(report, report.as_of)
    return [
        new_message(cfg, u.emails, _subject(report, u), _body(report, u, office), now)
        for u in reminder_units(report)
        if u.emails
    ]


def _subject(report: StatusReport, u: UnitStatus) -> str:
    if report.as_of > report.deadline:
        return f"【催报】{report.campaign}：{u.unit}尚有 {len(u.owes)} 份材料未按要求报送"
    return f"【提醒】{report.campaign}：{u.unit}尚有 {len(u.owes)} 份材料未报送"


def _body(report: StatusReport, u: UnitStatus, office: Office) -> str:
    deadline = local(report, report.deadline)
    where = f"发送至 {office.mailbox}" if office.mailbox else "发送至考核办邮箱"
    lines = [
        f"{u.unit}：",
        "",
        f"{INDENT}按照{report.campaign}工作的通知要求，各单位应于{cn_date(deadline)}前将申报"
        f"材料电子版{where}，纸质版经单位主要负责人审核盖章后报区考核办。"
        f"截至{cn_time(local(report, report.as_of))}，贵单位以下材料尚未按要求报送：",
        "",
    ]
    owes = sorted(u.owes, key=lambda a: a.annex)
    lines += [
        f"{INDENT}{i}. {owed_phrase(a, to_unit=True, names=report.annex_names)}。"
        for i, a in enumerate(owes, start=1)
    ]
    lines.append("")
    if report.as_of > report.deadline:
        lines.append(f"{INDENT}报送截止时间已过，请尽快报送。")
    else:
        lines.append(f"{INDENT}请于{cn_date(deadline)}前报送。")
    lines.append(f"{INDENT}如已报送，请回复本邮件告知发送时间和邮箱，以便我们核对。")
    paper = paper_outstanding(u)
    if paper:
        lines.append(f"{INDENT}另：附件{'、'.join(map(str, paper))}的纸质版尚未收到，请一并报送。")
    lines += ["", office.signature(local(report, report.as_of))]
    return "\n".join(lines) + "\n"


def write_reminder_drafts(
    report: StatusReport, cfg: Config, now: datetime, office: Office | None = None
) -> list[Path]:
    """``--dry-run``: the drafts as .eml files under data_dir/outbox/reminders/<stamp>/."""
    messages = draft_reminders(report, cfg, office)
    names = [u.unit for u in reminder_units(report) if u.emails]
    folder = stamp_folder(cfg.data_dir / "outbox" / "reminders", now)
    return write_drafts(messages, folder, names) if messages else []

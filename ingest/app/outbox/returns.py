"""退回修改: one reply per unit whose counted forms have problems, naming each one.

Built from the report's content checks only (old template, changed headers,
required cells blank, numbers that are not numbers, totals off …), so the mail
says exactly what the clerk sees. ``kaohe campaign returns --dry-run`` writes the
drafts as ``.eml`` under ``data_dir/outbox/returns/``; without it they are sent.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from ingest.app.outbox.compose import (
    Office,
    cn_date,
    new_message,
    office_from_config,
    stamp_folder,
    write_drafts,
)
from ingest.app.outbox.smtp import send_messages
from ingest.core.config import Config
from ingest.match.roster import load_roster
from ingest.store.db import open_db
from parsers.template_check import OLD_TEMPLATE
from reports.model import AnnexStatus, StatusReport, UnitStatus
from reports.status import build_status
from reports.summary import annex_label, local

INDENT = "\u3000\u3000"


def units_to_return(report: StatusReport) -> list[tuple[UnitStatus, list[AnnexStatus]]]:
    """Units (roster order) with at least one counted form that has content problems."""
    out = []
    for unit in report.units:
        flagged = [a for _, a in sorted(unit.annexes.items()) if a.checks]
        if flagged:
            out.append((unit, flagged))
    return out


def draft_returns(
    report: StatusReport, cfg: Config, office: Office | None = None
) -> list[tuple[UnitStatus, EmailMessage]]:
    """One 退回修改 mail per flagged unit that has an address."""
    office = office or office_from_config(cfg)
    now = local(report, report.as_of)
    return [
        (u, new_message(cfg, u.emails, _subject(report, u), _body(report, u, flagged, office), now))
        for u, flagged in units_to_return(report)
        if u.emails
    ]


def _subject(report: StatusReport, u: UnitStatus) -> str:
    return f"【退回修改】{report.campaign}：{u.unit}的申报表需修改后重新报送"


def _body(report: StatusReport, u: UnitStatus, flagged: list[AnnexStatus], office: Office) -> str:
    where = f"重新发送至 {office.mailbox}" if office.mailbox else "重新发送至考核办邮箱"
    lines = [
        f"{u.unit}：",
        "",
        f"{INDENT}贵单位报送的{report.campaign}材料已收到，经核对，以下内容需修改：",
        "",
    ]
    for a in flagged:
        lines.append(f"{INDENT}{annex_label(a.annex, report.annex_names)}：")
        lines += [f"{INDENT}{INDENT}{i}. {c}。" for i, c in enumerate(a.checks, start=1)]
    old = any(c.startswith(OLD_TEMPLATE) for a in flagged for c in a.checks)
    lines.append("")
    if old:
        lines.append(f"{INDENT}请使用本次通知所附的新模板重新填写（不要沿用往年的表格）。")
    deadline = local(report, report.deadline)
    lines.append(f"{INDENT}请修改后{where}，报送截止时间为{cn_date(deadline)}。")
    lines += ["", office.signature(local(report, report.as_of))]
    return "\n".join(lines) + "\n"


def run_returns(cfg: Config, now: datetime, dry_run: bool) -> list[str]:
    """Draft (and unless *dry_run*, send) the 退回修改 mails as of *now*; lines to print."""
    db = open_db(cfg.db_path, cfg.schemas)
    try:
        report = build_status(db, load_roster(cfg.paths.roster), cfg, now)
    finally:
        db.close()
    drafts = draft_returns(report, cfg)
    if dry_run:
        paths = write_return_drafts(drafts, cfg, now)
        head = f"已生成 {len(paths)} 封退回修改邮件草稿（未发送）：" + (
            f"{paths[0].parent}" if paths else "无"
        )
    else:
        head = f"已发送 {send_messages(cfg.smtp, [m for _, m in drafts])} 封退回修改邮件。"
    lines = [head]
    for u, flagged in units_to_return(report):
        problems = sum(len(a.checks) for a in flagged)
        phone = "" if u.emails else f"（名单中没有邮箱，请电话联系：{u.contact} {u.phone}）"
        lines.append(f"{u.unit}：{problems} 处需修改{phone}".rstrip())
    return lines


def write_return_drafts(
    drafts: list[tuple[UnitStatus, EmailMessage]], cfg: Config, now: datetime
) -> list[Path]:
    folder = stamp_folder(cfg.data_dir / "outbox" / "returns", now)
    names = [u.unit for u, _ in drafts]
    return write_drafts([m for _, m in drafts], folder, names) if drafts else []

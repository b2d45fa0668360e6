"""The daily report: every configured format into ``data_dir/reports/YYYY-MM-DD/``,
the latest copy at ``data_dir/reports/latest.<ext>``, optionally mailed.

Files are written to a temporary name and renamed, so a reader (or the web
server showing ``latest.html``) never sees half a report.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from ingest.app.outbox.smtp import SmtpError, send_messages, sender_address
from ingest.core.config import Config
from ingest.core.fsutil import atomic_write
from reports.model import StatusReport
from reports.output import build_report, render
from reports.summary import overall

log = logging.getLogger(__name__)

FILE_STEM = "报送情况"
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def write_daily_report(cfg: Config, now: datetime) -> Path:
    """Build the report as of *now*, write it, mail it if configured; returns the day folder.

    With several campaigns ([[campaigns]]) one report each, named after the campaign."""
    if len(cfg.campaigns) > 1:
        return [_write_daily(cfg.select(c.name), now, c.name) for c in cfg.campaigns][0]
    return _write_daily(cfg, now, None)


def _write_daily(cfg: Config, now: datetime, tag: str | None) -> Path:
    report = build_report(cfg, now)
    folder = write_report_files(cfg, report, cfg.schedule.report_formats, tag)
    if cfg.report.send and cfg.report.recipients:
        try:
            send_messages(cfg.smtp, [report_mail(cfg, report)])
        except SmtpError as e:
            log.error("每日报告已生成（%s），但邮件发送失败：%s", folder, e)
    if cfg.report.keep_days:
        prune_reports(
            cfg.data_dir / "reports", _day(cfg, report) - timedelta(days=cfg.report.keep_days)
        )
    return folder


def report_exists(cfg: Config, day: date) -> bool:
    """Whether the daily report of *day* (campaign date) was written in some format."""
    folder = cfg.data_dir / "reports" / day.isoformat()
    return any(
        any(folder.glob(f"{FILE_STEM}*-{day.isoformat()}.{fmt}"))
        for fmt in cfg.schedule.report_formats
    )


def _day(cfg: Config, report: StatusReport) -> date:
    return report.as_of.astimezone(cfg.campaign.timezone).date()


def write_report_files(
    cfg: Config, report: StatusReport, formats: Sequence[str], tag: str | None = None
) -> Path:
    """The day's report files (``报送情况[-收集名]-YYYY-MM-DD.fmt``) and ``latest[-收集名].fmt``."""
    root = cfg.data_dir / "reports"
    day = _day(cfg, report).isoformat()
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    named = f"-{tag}" if tag else ""
    for fmt in formats:
        data = render(report, fmt, cfg)
        atomic_write(folder / f"{FILE_STEM}{named}-{day}.{fmt}", data)
        atomic_write(root / f"latest{named}.{fmt}", data)
    return folder


def report_mail(cfg: Config, report: StatusReport) -> EmailMessage:
    """The html report as the mail body (plain-text summary as alternative), the xlsx attached."""
    day = _day(cfg, report).isoformat()
    t = overall(report)
    msg = EmailMessage()
    msg["From"] = sender_address(cfg.smtp)
    msg["To"] = ", ".join(cfg.report.recipients)
    stale = "【数据可能已过时】" if report.health is not None and report.health.stale else ""
    msg["Subject"] = f"{stale}{report.campaign}报送情况（{day}）：已收到 {t.done}/{t.total} 份"
    msg["Date"] = format_datetime(report.as_of)
    msg["Message-ID"] = make_msgid("kaohe-report")
    msg.set_content(render(report, "txt", cfg).decode(), charset="utf-8")
    msg.add_alternative(render(report, "html", cfg).decode(), subtype="html", charset="utf-8")
    msg.add_attachment(
        render(report, "xlsx", cfg),
        maintype=XLSX_TYPE[0],
        subtype=XLSX_TYPE[1],
        filename=f"{FILE_STEM}-{day}.xlsx",
    )
    return msg


def prune_reports(root: Path, before: date) -> list[Path]:
    """Remove day folders older than *before* (only folders named YYYY-MM-DD)."""
    removed = []
    for p in sorted(root.iterdir()) if root.exists() else []:
        if p.is_dir() and _DAY.match(p.name) and date.fromisoformat(p.name) < before:
            shutil.rmtree(p)
            removed.append(p)
    return removed

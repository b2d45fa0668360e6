"""What ``kaohe remind`` and ``kaohe receipts`` do, as library calls returning the lines to print."""

from __future__ import annotations

from datetime import datetime

from ingest.app.outbox.receipts import (
    campaign_reports,
    draft_receipts,
    send_drafts,
    write_receipt_drafts,
)
from ingest.app.outbox.reminders import draft_reminders, units_without_email, write_reminder_drafts
from ingest.app.outbox.smtp import send_messages
from ingest.core.config import Config
from ingest.match.roster import load_roster
from ingest.store.db import open_db
from ingest.store.ledger import unconfirmed
from reports.status import build_status


def run_reminders(cfg: Config, now: datetime, dry_run: bool) -> list[str]:
    """Draft (and unless *dry_run*, send) the reminders as of *now*."""
    db = open_db(cfg.db_path)
    try:
        report = build_status(db, load_roster(cfg.paths.roster), cfg, now)
    finally:
        db.close()
    lines = []
    if dry_run:
        paths = write_reminder_drafts(report, cfg, now)
        lines.append(
            f"已生成 {len(paths)} 封催报邮件草稿（未发送）："
            + (f"{paths[0].parent}" if paths else "无")
        )
    else:
        n = send_messages(cfg.smtp, draft_reminders(report, cfg))
        lines.append(f"已发送 {n} 封催报邮件。")
    lines += [
        f"{u.unit} 名单中没有邮箱，请电话联系：{u.contact} {u.phone}".rstrip()
        for u in units_without_email(report)
    ]
    return lines


def run_receipts(cfg: Config, now: datetime, dry_run: bool) -> list[str]:
    """Draft (and unless *dry_run*, send and record) the receipts still owed."""
    db = open_db(cfg.db_path)
    try:
        report, by_campaign = campaign_reports(db, cfg, now)
        if dry_run:
            paths = write_receipt_drafts(db, cfg, report, now, by_campaign=by_campaign)
            lines = [
                f"已生成 {len(paths)} 封回执草稿（未发送、未记录）："
                + (f"{paths[0].parent}" if paths else "无")
            ]
        else:
            run = send_drafts(db, cfg, draft_receipts(db, cfg, report, by_campaign=by_campaign))
            lines = [f"已发送 {len(run.sent)} 封回执。"]
            lines += [f"回执被拒收：邮件 {mid[:12]}（{why}）" for mid, why in run.refused]
            if run.deferred:
                lines.append(f"{len(run.deferred)} 封回执服务器暂时拒收，下次再发。")
        lines += [
            f"回执发送状态不明（不会自动重发，请在发件箱核对）：邮件 {r['message'][:12]}，"
            f"收件人 {r['recipient']}，主题“{r['subject'] or ''}”"
            for r in unconfirmed(db)
        ]
        return lines
    finally:
        db.close()

"""Receipts (回执): tell each sender what we understood of their mail.

A receipt is never sent twice. The choice is *at most once*: before a receipt
is handed to the SMTP server it is claimed in the ledger
(:mod:`ingest.store.ledger`, status ``sending``); after the server accepts it the
claim is settled as ``sent``. A crash or a dropped connection between the two
leaves ``sending`` — that mail may or may not have gone out, so it is *not*
retried automatically; :func:`ingest.store.ledger.unconfirmed` lists it for the clerk (the office
mailbox's "sent" folder tells). A definite refusal by the server before the
data was accepted (4xx) releases the claim so the next run retries; a permanent
refusal (bad address, 5xx) is kept as ``refused`` with the reason. A duplicate
receipt would confuse a unit; a missing one makes it phone — the phone call is
the lesser harm, and the clerk sees every unconfirmed case.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

import sqlite_utils

from ingest.app.outbox.compose import (
    Office,
    cn_time,
    new_message,
    office_from_config,
    stamp_folder,
    write_drafts,
)
from ingest.app.outbox.reminders import INDENT
from ingest.app.outbox.smtp import SmtpError, connect
from ingest.core.config import Config
from ingest.core.vocab import Outcome, ReceiptState
from ingest.match.roster import load_roster
from ingest.store import ledger
from ingest.store.db import from_db, open_db
from reports.model import StatusReport
from reports.status import build_status
from reports.summary import annex_label, local, owed_phrase, paper_outstanding

log = logging.getLogger(__name__)

NO_REPLY = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")


@dataclass
class ReceiptRun:
    """What one sending run did (for the CLI and the daemon's log)."""

    sent: list[str] = field(default_factory=list)  # message ids
    deferred: list[str] = field(default_factory=list)  # temporary refusal: next run retries
    refused: list[tuple[str, str]] = field(default_factory=list)  # (message id, reason)
    unconfirmed: list[str] = field(default_factory=list)


def pending_messages(
    db: sqlite_utils.Database, cfg: Config, as_of: datetime
) -> list[dict[str, Any]]:
    """Messages still owed a receipt, less those no one should answer (ourselves, robots)."""
    own = {a.lower() for a in (cfg.smtp.sender, cfg.smtp.username, cfg.mailbox.username) if a}
    rows = ledger.awaiting_receipt(db, as_of)
    return [r for r in rows if _replyable(r.get("sender") or "", own)]


def _replyable(sender: str, own: set[str]) -> bool:
    s = sender.strip().lower()
    return bool(s) and "@" in s and s not in own and not s.startswith(NO_REPLY)


def campaign_reports(
    db: sqlite_utils.Database, cfg: Config, now: datetime
) -> tuple[StatusReport, dict[str, StatusReport]]:
    """The status as of *now*, and with several campaigns each one's by name (the first
    is also the status returned): a receipt tells a unit what it still owes in the
    campaign its forms went to."""
    if len(cfg.campaigns) < 2:
        return build_status(db, load_roster(cfg.paths.roster), cfg, now), {}
    each = [cfg.select(c.name) for c in cfg.campaigns]
    by_campaign = {
        one.campaign.name: build_status(db, load_roster(one.paths.roster), one, now) for one in each
    }
    return by_campaign[cfg.campaigns[0].name], by_campaign


def draft_receipts(
    db: sqlite_utils.Database,
    cfg: Config,
    report: StatusReport,
    office: Office | None = None,
    by_campaign: Mapping[str, StatusReport] | None = None,
) -> list[tuple[str, EmailMessage]]:
    """(message id, receipt) for every message that still needs one (*by_campaign*: see
    :func:`campaign_reports`)."""
    office = office or office_from_config(cfg)
    out = []
    for m in pending_messages(db, cfg, report.as_of):
        attachments = ledger.receipt_attachments(db, m["id"])
        out.append((m["id"], draft_receipt(cfg, m, attachments, report, office, by_campaign)))
    return out


def draft_receipt(
    cfg: Config,
    message: dict[str, Any],
    attachments: list[dict[str, Any]],
    report: StatusReport,
    office: Office,
    by_campaign: Mapping[str, StatusReport] | None = None,
) -> EmailMessage:
    now = local(report, report.as_of)
    to = formataddr((message.get("sender_name") or "", message["sender"]))
    subject = message.get("subject") or "（无主题）"
    body = _body(message, attachments, report, office, by_campaign or {})
    msg = new_message(cfg, [to], f"回执：{subject}", body, now)
    if message.get("message_id"):
        msg["In-Reply-To"] = message["message_id"]
        msg["References"] = message["message_id"]
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: auto-responders must not answer it
    return msg


def attachment_line(a: dict[str, Any], names: Mapping[int, str] | None = None) -> str:
    """One attachment of the receipt; *names*: its campaign's annex names."""
    name = f"{a['container']} › {a['filename']}" if a.get("container") else a["filename"]
    label = annex_label(a["annex"], names)
    if a["outcome"] == Outcome.PARSED:
        what = f"{a['unit']}，{label}，读取 {a['rows']} 行数据"
    elif a["outcome"] == Outcome.UNPARSED:
        what = f"{a['unit']}，{label}，但未能读取数据（{a['reason'] or '原因不明'}）"
    else:
        what = "暂未能确定报送单位或附件类别，考核办将人工核对"
    return f"“{name}”：{what}"


def _body(
    message: dict[str, Any],
    attachments: list[dict[str, Any]],
    report: StatusReport,
    office: Office,
    by_campaign: Mapping[str, StatusReport],
) -> str:
    received = from_db(message["received"])
    when = cn_time(local(report, received)) if received else "近日"
    lines = [
        "您好！",
        "",
        f"{INDENT}考核办已于{when}收到您发送的邮件“{message.get('subject') or '（无主题）'}”，"
        f"其中 {len(attachments)} 个附件的处理结果如下：",
        "",
    ]
    lines += [
        f"{INDENT}{i}. {attachment_line(a, _names_of(a, report, by_campaign))}。"
        for i, a in enumerate(attachments, 1)
    ]
    units = sorted({a["unit"] for a in attachments if a.get("unit")})
    for unit in units:
        if not by_campaign:
            lines += ["", _owes_paragraph(report, unit)]
            continue
        # several campaigns: per campaign the unit's forms went to; none when that is
        # what the clerk has still to settle (the attachment line says so)
        went = sorted({a["campaign"] for a in attachments if a.get("unit") == unit} - {None})
        for name in (n for n in went if n in by_campaign):
            lines += ["", _owes_paragraph(by_campaign[name], unit, name)]
    lines += [
        "",
        f"{INDENT}如以上结果与实际不符，请回复本邮件或来电告知。",
        "",
        office.signature(local(report, report.as_of)),
    ]
    return "\n".join(lines) + "\n"


def _names_of(
    a: dict[str, Any], report: StatusReport, by_campaign: Mapping[str, StatusReport]
) -> Mapping[int, str]:
    """The annex names of the campaign *a* went to (the report's when one campaign)."""
    mine = by_campaign.get(a.get("campaign") or "")
    return (mine or report).annex_names


def _owes_paragraph(report: StatusReport, unit: str, campaign: str | None = None) -> str:
    status = next((u for u in report.units if u.unit == unit), None)
    if status is None:
        return f"{INDENT}{unit}不在本次申报单位名单中，考核办将人工核对。"
    if campaign is not None:  # one of several collections: say which
        unit = f"{unit}在“{campaign}”中"
    paper = paper_outstanding(status)
    tail = (
        f"附件{'、'.join(map(str, paper))}的纸质版（盖章）请按通知要求报送考核办。" if paper else ""
    )
    if not status.owes:
        return f"{INDENT}{unit}应报的电子版材料已全部收到，谢谢！{tail}"
    owed = "；".join(
        owed_phrase(a, to_unit=True, names=report.annex_names)
        for a in sorted(status.owes, key=lambda a: a.annex)
    )
    return f"{INDENT}{unit}目前还需报送：{owed}。{tail}"


def write_receipt_drafts(
    db: sqlite_utils.Database,
    cfg: Config,
    report: StatusReport,
    now: datetime,
    office: Office | None = None,
    by_campaign: Mapping[str, StatusReport] | None = None,
) -> list[Path]:
    """``--dry-run``: drafts as .eml files under data_dir/outbox/receipts/<stamp>/; nothing recorded."""
    drafts = draft_receipts(db, cfg, report, office, by_campaign)
    if not drafts:
        return []
    folder = stamp_folder(cfg.data_dir / "outbox" / "receipts", now)
    return write_drafts([m for _, m in drafts], folder, [mid[:12] for mid, _ in drafts])


def send_drafts(
    db: sqlite_utils.Database, cfg: Config, drafts: list[tuple[str, EmailMessage]]
) -> ReceiptRun:
    """Claim, send, confirm each receipt in turn (see the module docstring)."""
    run = ReceiptRun()
    if not drafts:
        return run
    with connect(cfg.smtp) as conn:
        for mid, msg in drafts:
            if not claim_receipt(db, cfg, mid, msg):
                continue  # another run took it meanwhile
            _send_one(db, conn, mid, msg, run)
    return run


def claim_receipt(db: sqlite_utils.Database, cfg: Config, mid: str, msg: EmailMessage) -> bool:
    """Claim the receipt in the ledger, keeping a copy of exactly what goes out.

    False when this message already has a receipt row (sent, refused or in flight).
    """
    folder = cfg.data_dir / "outbox" / "receipts" / "sent"

    def keep_copy() -> str:
        return write_drafts([msg], folder, [mid[:12]])[0].relative_to(cfg.data_dir).as_posix()

    return ledger.claim(db, mid, msg["To"], keep_copy)


def _send_one(
    db: sqlite_utils.Database, conn: smtplib.SMTP, mid: str, msg: EmailMessage, run: ReceiptRun
) -> None:
    try:
        conn.send_message(msg)
    except smtplib.SMTPRecipientsRefused as e:
        ledger.settle(db, mid, ReceiptState.REFUSED, f"收件人被拒绝：{e.recipients}")
        run.refused.append((mid, "收件人被拒绝"))
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as e:
        if 400 <= e.smtp_code < 500:  # temporary: nothing accepted, retry next run
            ledger.release(db, mid)
            run.deferred.append(mid)
        else:
            ledger.settle(db, mid, ReceiptState.REFUSED, f"{e.smtp_code} {e.smtp_error!r}")
            run.refused.append((mid, f"服务器拒收（{e.smtp_code}）"))
    except (OSError, smtplib.SMTPException) as e:
        # The server may or may not have the mail: stay 'sending', never resend silently.
        log.warning("receipt for %s unconfirmed: %s", mid[:12], e)
        run.unconfirmed.append(mid)
        raise SmtpError(f"发送回执时连接中断：{e}") from None
    else:
        ledger.settle(db, mid, ReceiptState.SENT, None)
        run.sent.append(mid)


def send_receipts(cfg: Config, now: datetime | None = None) -> ReceiptRun:
    """Build the report as of *now*, draft and send every receipt still owed (daemon entry)."""
    now = now or datetime.now(UTC).astimezone(cfg.campaign.timezone)
    db = open_db(cfg.db_path)
    try:
        report, by_campaign = campaign_reports(db, cfg, now)
        return send_drafts(db, cfg, draft_receipts(db, cfg, report, by_campaign=by_campaign))
    finally:
        db.close()

"""A form that came another way (QQ group, USB stick) enters like a mailed one.

The file is wrapped in a small synthetic mail — sender ``手工添加（操作人）``, the
receipt time the clerk gives — archived raw like any other, so ``reparse`` keeps
working; the clerk's unit and annex are recorded as an assignment of its one
attachment, and the mail goes through the pipeline: parsed, versioned, counted.
Its sender address is a ``noreply`` one under ``.invalid``: no receipt is ever
sent for it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from ingest.core.config import Config
from ingest.core.vocab import Outcome
from ingest.mail.rawstore import archive_raw
from ingest.mail.sources.base import SourceItem
from ingest.match.analyse import prepare_message
from ingest.match.analysis_data import attachment_id
from ingest.store import db as dbm
from ingest.store.audit import record_action
from ingest.store.clerk_base import (
    DEFAULT_ACTOR,
    ClerkActionError,
    attachment_row,
    describe,
    load_units,
    open_store,
    resolve_name,
)

MANUAL_SENDER = "noreply-manual@kaohe.invalid"
MANUAL_NAME = "手工添加"
MAX_BYTES = 100 * 1024 * 1024


def add_file(
    cfg: Config,
    path: Path,
    unit: str,
    annex: int,
    received: datetime | None,
    actor: str = DEFAULT_ACTOR,
) -> str:
    """Enter *path* as *unit*'s *annex*, received at *received* (default now).

    Refuses a file already counted for that unit and annex, or waiting in 待认领
    (assign that one instead): nothing is doubled.
    """
    chosen = resolve_name(load_units(cfg), unit)
    if annex not in cfg.annex_numbers:
        raise ClerkActionError(
            f"没有附件{annex}（本次的附件：{'、'.join(map(str, cfg.annex_numbers))}）"
        )
    data = _read(path)
    tz = cfg.campaign.timezone
    when = (received or datetime.now(tz)).astimezone(tz)
    if cfg.campaign.not_before is not None and when < cfg.campaign.not_before:
        raise ClerkActionError(
            f"收到时间 {when:%Y-%m-%d %H:%M} 早于活动开始时间，不会计入；请检查 --received"
        )
    raw = _wrap(path.name, data, chosen.name, annex, when, actor)
    digest = hashlib.sha256(raw).hexdigest()
    part = prepare_message(raw, digest).headers.parts[0]
    att_id = attachment_id(digest, part.path)
    with open_store(cfg) as db:
        _refuse_duplicate(db, hashlib.sha256(data).hexdigest(), chosen.name, annex, tz)
        archive_raw(cfg.data_dir, raw)
        with dbm.transaction(db):
            dbm.set_assignment(db, att_id, digest, chosen.name, annex)
            record_action(
                db,
                actor,
                "add",
                att_id,
                None,
                {
                    "unit": chosen.name,
                    "annex": annex,
                    "filename": path.name,
                    "received": dbm.to_db(when),
                },
            )
        _ingest(db, cfg, SourceItem(key=f"manual:{digest}", received=when, raw=raw, size=len(raw)))
        now = describe(attachment_row(db, att_id))
    return (
        f"已手工添加 {path.name}（附件编号 {att_id}，收到时间记为 {when:%Y-%m-%d %H:%M}）：{now}。"
    )


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise ClerkActionError(f"文件不存在：{path}")
    size = path.stat().st_size
    if size == 0:
        raise ClerkActionError(f"文件是空的（0 字节）：{path}")
    if size > MAX_BYTES:
        raise ClerkActionError(f"文件过大（{size / 1048576:.0f} MB）：{path}")
    return path.read_bytes()


def _wrap(name: str, data: bytes, unit: str, annex: int, when: datetime, actor: str) -> bytes:
    """The synthetic mail that carries the file through the archive and the pipeline."""
    msg = EmailMessage()
    msg["From"] = f"{MANUAL_NAME}（{actor}） <{MANUAL_SENDER}>"
    msg["To"] = MANUAL_SENDER
    msg["Subject"] = f"{MANUAL_NAME}：{unit} 附件{annex}"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="kaohe.invalid")
    msg["X-Kaohe-Added-By"] = actor
    msg.set_content(f"由 {actor} 手工添加：{unit} 附件{annex}，文件 {name}。\n")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def _refuse_duplicate(
    db: sqlite_utils.Database, sha: str, unit: str, annex: int, tz: ZoneInfo
) -> None:
    rows = list(
        db.query(
            "select a.*, m.received as got from attachments a join messages m on m.id = a.message "
            "where a.sha256 = ? and a.outcome in (?, ?, ?) order by m.received",
            [sha, Outcome.PARSED, Outcome.UNPARSED, Outcome.UNASSIGNED],
        )
    )
    for r in rows:
        if r["outcome"] == Outcome.UNASSIGNED:
            raise ClerkActionError(
                f"这个文件已经收到过，正在待认领中（附件编号 {r['id']}）；请改用："
                f"kaohe assign {r['id']} --unit {unit} --annex {annex}"
            )
        got = _local(r["got"], tz)
        if (r["unit"], r["annex"]) == (unit, annex):
            raise ClerkActionError(
                f"这个文件已于 {got} 收到并计为 {unit} 的附件{annex}（附件编号 {r['id']}），无需重复添加"
            )
        raise ClerkActionError(  # the same bytes counted for two units is a mistake, not a form
            f"这个文件已于 {got} 收到并计为 {r['unit']} 的附件{r['annex']}（附件编号 {r['id']}）；"
            f"如果它其实是 {unit} 的，请改用：kaohe assign {r['id']} --unit {unit} --annex {annex}"
        )


def _local(stored: str, tz: ZoneInfo) -> str:
    moment = dbm.from_db(stored)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "?"


def _ingest(db: sqlite_utils.Database, cfg: Config, item: SourceItem) -> None:
    from ingest.store.pipeline import PollSummary, close_context, ingest_item, make_context

    ctx = make_context(cfg)
    try:
        summary = PollSummary()
        ingest_item(db, cfg, ctx, item, summary)
    finally:
        close_context(ctx)
    if summary.failed:
        raise ClerkActionError(
            "文件已存档，但分析时出错（详见日志）；修复后可执行 kaohe reparse --all"
        )

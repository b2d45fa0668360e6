"""One cycle: fetch new mail, archive it raw, analyse it, store the outcome.

Order per message, chosen so that a crash at any moment loses nothing and
doubles nothing:

1. the raw bytes are written to the archive (atomic, fsynced, by SHA-256);
2. the message is analysed (slow parsing, outside any database lock);
3. one transaction writes the message, its attachments, submissions and rows,
   the source item and the source cursor;
4. only then is the next message pulled from the source.

A crash before 3 leaves an archived file and no row: the message is fetched
again and its bytes map to the same hash. A crash after 3 is a finished message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from ingest import db as dbm
from ingest.analyse import (
    AnalysisContext,
    MessageAnalysis,
    analyse_message,
    prefetch_messages,
    submissions_of,
)
from ingest.archive import archive_file, archive_raw, read_raw
from ingest.config import Config
from ingest.lock import hold_lock
from ingest.roster import load_roster
from ingest.sources import open_source
from ingest.sources.base import MailSource, SourceItem
from parsers import build_schemas

log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    attachments: dict[str, int] = field(default_factory=dict)  # outcome -> count

    def line(self) -> str:
        outcomes = "，".join(f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in
                            sorted(self.attachments.items()))
        return (f"本次收信 {self.fetched} 封：新邮件 {self.stored}，重复 {self.duplicates}，"
                f"跳过 {self.skipped}，失败 {self.failed}" + (f"；附件：{outcomes}" if outcomes else ""))


REPARSE_BATCH = 40  # messages whose legacy files are converted in one LibreOffice call

OUTCOME_LABELS = {"parsed": "已解析", "unparsed": "无法读取", "unassigned": "待认领",
                  "ignored": "非申报表", "expanded": "压缩包"}


def make_context(cfg: Config, db: sqlite_utils.Database | None = None) -> AnalysisContext:
    """Everything analysis needs for one cycle (roster, schemas, limits, converter)."""
    return AnalysisContext(schemas=build_schemas(cfg.synonyms), limits=cfg.limits,
                           roster=load_roster(cfg.paths.roster),
                           converter=open_converter(cfg.limits.convert_timeout_seconds))


def open_converter(timeout_seconds: float) -> Any:
    """One LibreOffice converter per cycle (its work dir is removed by :func:`close_context`)."""
    from parsers.legacy import Converter

    return Converter(timeout_seconds=timeout_seconds).__enter__()


def close_context(ctx: AnalysisContext) -> None:
    if ctx.converter is not None:
        ctx.converter.__exit__(None, None, None)


def poll(cfg: Config, source: MailSource | None = None, stop: threading.Event | None = None,
         on_item: Callable[[SourceItem], None] | None = None) -> PollSummary:
    """Run one cycle against the configured (or given) source; see the module docstring."""
    with hold_lock(cfg.data_dir, "poll"):
        db = dbm.open_db(cfg.db_path)
        ctx = make_context(cfg)
        own = source is None
        src = source if source is not None else open_source(cfg.mailbox)
        summary = PollSummary()
        try:
            state = dbm.DbSourceState(db, cfg.mailbox.max_attempts)
            for item in src.fetch_new(state):
                ingest_item(db, cfg, ctx, item, summary)
                mark_done = getattr(src, "mark_done", None)
                if mark_done is not None:
                    mark_done(item)
                if on_item is not None:
                    on_item(item)
                if stop is not None and stop.is_set():
                    log.info("stop requested: finished the message in hand")
                    break
        finally:
            if own:
                src.close()
            close_context(ctx)
            db.close()
        return summary


def ingest_item(db: sqlite_utils.Database, cfg: Config, ctx: AnalysisContext, item: SourceItem,
                summary: PollSummary) -> None:
    """Archive, analyse and commit one source item (steps 1–3 of the module docstring)."""
    summary.fetched += 1
    received = dbm.to_db(item.received)
    if item.raw is None:
        with dbm.transaction(db):
            dbm.record_source_item(db, item.key, message=None, received=received,
                                   status="skipped", reason=item.skipped_reason, size=item.size)
            _advance(db, item)
        summary.skipped += 1
        return
    digest, path = archive_raw(cfg.data_dir, item.raw)
    known = dbm.get_message(db, digest)
    analysis, error = None, None
    if known is None or received < known["received"]:
        try:
            analysis = _analyse(db, ctx, item.raw)
        except Exception as e:  # a bug must not block the mailbox: the raw mail is safe
            log.exception("analysis of message %s failed", digest[:12])
            error = f"分析失败（程序错误：{type(e).__name__}），原始邮件已存档，修复后可重新解析"
            summary.failed += 1
    with dbm.transaction(db):
        record = _message_record(digest, path.relative_to(cfg.data_dir).as_posix(), item,
                                 received, analysis)
        record["error"] = error
        is_new = dbm.upsert_message(db, record)
        dbm.record_source_item(db, item.key, message=digest, received=received,
                               status="stored", reason=None, size=item.size)
        if analysis is not None:
            effective = received if is_new else min(received, known["received"])  # type: ignore[index]
            _store_analysis(db, cfg, analysis, effective, summary)
        _advance(db, item)
    if is_new:
        summary.stored += 1
    else:
        summary.duplicates += 1


def _advance(db: sqlite_utils.Database, item: SourceItem) -> None:
    if item.cursor is not None:
        c = item.cursor
        dbm.advance_cursor(db, c.folder, c.uidvalidity, c.uid)


def _analyse(db: sqlite_utils.Database, ctx: AnalysisContext, raw: bytes) -> MessageAnalysis:
    """Analyse with the clerk's decisions (``assign``) applied."""
    analysis = analyse_message(raw, ctx)
    ids = [a.id for a in analysis.attachments]
    clerk = dbm.assignments_for(db, ids)
    if clerk:
        ctx.assignments = clerk
        try:
            analysis = analyse_message(raw, ctx)
        finally:
            ctx.assignments = {}
    return analysis


def _message_record(digest: str, raw_rel: str, item: SourceItem, received: str,
                    analysis: MessageAnalysis | None) -> dict[str, Any]:
    h = analysis.headers if analysis is not None else None
    return {
        "id": digest, "message_id": h.message_id if h else None,
        "sender": h.sender if h else None, "sender_name": h.sender_name if h else None,
        "subject": h.subject if h else None,
        "date_header": dbm.to_db(h.date) if h and h.date else None,
        "received": received, "size": item.size, "raw_path": raw_rel,
        "processed_at": None, "error": None, "receipt_sent_at": None,
    }


def _store_analysis(db: sqlite_utils.Database, cfg: Config, analysis: MessageAnalysis,
                    received: str, summary: PollSummary | None = None) -> None:
    """Write everything derived from one message (inside the caller's transaction)."""
    nb = cfg.campaign.not_before
    if nb is not None and received < dbm.to_db(nb):
        dbm.delete_derived(db, analysis.digest)
        db.execute("update messages set processed_at = ?, error = ? where id = ?",
                   [dbm.now_db(), "收信时间早于活动开始时间（not_before），已忽略", analysis.digest])
        return
    attachments = []
    for a in analysis.attachments:
        _, stored = archive_file(cfg.data_dir, a.payload)
        attachments.append(_attachment_record(analysis.digest, a,
                                              stored.relative_to(cfg.data_dir).as_posix()))
        if summary is not None:
            summary.attachments[a.outcome] = summary.attachments.get(a.outcome, 0) + 1
    subs = submissions_of(analysis, datetime.fromisoformat(received))
    rows: dict[int, list[dict[str, Any]]] = {}
    for s in subs:
        s["received"] = received
        for i, r in enumerate(s.pop("_rows"), start=1):
            rows.setdefault(s["annex"], []).append(
                {**r, "submission": s["id"], "unit": s["unit"], "row_no": i})
    dbm.replace_derived(db, analysis.digest, attachments, subs, rows)
    if _duplicate_of_earlier(db, analysis):
        dbm.delete_derived(db, analysis.digest)
        db.execute("update messages set error = ? where id = ?",
                   ["与较早收到的同一封邮件（Message-ID 和附件均相同）重复，未重复计数",
                    analysis.digest])


def _duplicate_of_earlier(db: sqlite_utils.Database, analysis: MessageAnalysis) -> bool:
    """Same Message-ID and same attachment payloads as an earlier message: the same mail."""
    mid = analysis.headers.message_id
    if not mid:
        return False
    mine = sorted(a.sha256 for a in analysis.attachments)
    me = db.execute("select received from messages where id = ?", [analysis.digest]).fetchone()
    others = db.execute(
        "select id from messages where message_id = ? and id != ? and "
        "(received < ? or (received = ? and id < ?))",
        [mid, analysis.digest, me[0], me[0], analysis.digest]).fetchall()
    for (other,) in others:
        theirs = sorted(r[0] for r in db.execute(
            "select sha256 from attachments where message = ?", [other]).fetchall())
        if theirs == mine:
            return True
    return False


def _attachment_record(digest: str, a: Any, stored: str) -> dict[str, Any]:
    return {
        "id": a.id, "message": digest, "part": a.part, "filename": a.filename,
        "container": a.container, "size": a.size, "sha256": a.sha256, "type": a.type,
        "annex": a.annex, "annex_evidence": a.annex_evidence, "unit": a.unit,
        "unit_evidence": a.unit_evidence, "rows": len(a.rows), "outcome": a.outcome,
        "reason": a.reason, "stored_path": stored,
        "warnings": "\n".join(a.warnings) if a.warnings else None,
    }


def reparse(cfg: Config, messages: Iterable[str] | None = None, since: datetime | None = None,
            progress: Callable[[Iterable[str]], Iterable[str]] | None = None) -> int:
    """Re-run analysis on archived mail; derived data is replaced, the archive untouched."""
    db = dbm.open_db(cfg.db_path)
    ctx = make_context(cfg)
    try:
        ids = list(messages) if messages is not None else dbm.message_ids(
            db, dbm.to_db(since) if since else None)
        done = 0
        for mid in (progress(ids) if progress else ids):
            if done % REPARSE_BATCH == 0:  # one LibreOffice run for the next batch's old files
                prefetch_messages([read_raw(cfg.data_dir, m)
                                   for m in ids[done:done + REPARSE_BATCH]], ctx)
            row = dbm.get_message(db, mid)
            if row is None:
                raise KeyError(mid)
            analysis = _analyse(db, ctx, read_raw(cfg.data_dir, mid))
            with dbm.transaction(db):
                _store_analysis(db, cfg, analysis, row["received"])
            done += 1
        return done
    finally:
        close_context(ctx)
        db.close()

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

The analysis itself (:mod:`ingest.match.analyse`, with the archive, forwarded-mail
and reader modules) is imported where it runs: a poll's parse workers analyse whole
messages, and this process imports it only for the per-form path, old Office files
or a reparse. It handles the analysis' plain data (:mod:`ingest.match.analysis_data`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.core.config import Config, ConfigError, LimitsConfig
from ingest.core.failures import describe_failure
from ingest.core.lock import hold_lock
from ingest.core.vocab import Outcome, SourceItemState
from ingest.mail.mime import Unpacked
from ingest.mail.rawstore import archive_raw, clean_temp, file_rel, read_raw
from ingest.mail.sources import open_source
from ingest.mail.sources.base import MailboxError, MailSource, SourceItem
from ingest.match.analysis_data import AnalysisContext, MessageAnalysis, PreparedMessage
from ingest.match.mailjob import store_files
from ingest.match.roster import RosterError, check_annexes, load_roster
from ingest.match.route import CampaignRoute
from ingest.match.submission import submissions_of
from ingest.store import db as dbm
from ingest.store.handle import Db
from ingest.store.health import finish_poll, start_poll
from ingest.store.views import ensure_views, record_campaigns

log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    attachments: dict[Outcome, int] = field(default_factory=dict)
    receipt_times_doubtful: bool = False  # maildir files look copied (mtime is not delivery)

    def line(self) -> str:
        outcomes = "，".join(f"{k.label} {v}" for k, v in sorted(self.attachments.items()))
        doubt = (
            "；注意：邮件文件像是一次复制进来的，收到时间（文件修改时间）可能不准，详见日志"
            if self.receipt_times_doubtful
            else ""
        )
        return (
            f"本次收信 {self.fetched} 封：新邮件 {self.stored}，重复 {self.duplicates}，"
            f"跳过 {self.skipped}，失败 {self.failed}"
            + (f"；附件：{outcomes}" if outcomes else "")
            + doubt
        )


LOOKAHEAD_MESSAGES = 20  # reparse: messages whose old Office files convert in one batch


def make_context(
    cfg: Config, db: Db | None = None, workers: int = 1, pool: Any = None
) -> AnalysisContext:
    """Everything analysis needs for one cycle (roster, schemas, limits, converter, sandbox
    of *workers* parse processes; *pool*: one the caller opened already, see :func:`poll`)."""
    if pool is None:  # closed by close_context
        from ingest.match.sandbox import cycle_pool

        pool = cycle_pool(cfg.limits, cfg.data_dir, workers)
    try:
        roster = load_roster(cfg.paths.roster)
        check_annexes(roster, cfg.campaign.annex_numbers)
        return AnalysisContext(
            schemas=dict(cfg.schemas),
            limits=cfg.limits,
            roster=roster,
            campaigns=campaign_routes(cfg),
            converter=open_converter(
                cfg.limits.convert_timeout_seconds, cfg.limits, temp_dir=pool.scratch
            ),
            pool=pool,
        )
    except BaseException:
        pool.close()
        raise


def campaign_routes(cfg: Config) -> tuple[CampaignRoute, ...]:
    """Several campaigns in the mailbox ([[campaigns]]): each with its annexes and roster."""
    if len(cfg.campaigns) < 2:
        return ()
    routes = []
    for c in cfg.campaigns:
        roster = load_roster(c.roster or cfg.paths.roster)
        check_annexes(roster, c.annex_numbers)
        routes.append(
            CampaignRoute(c.name, c.schemas, roster, c.not_before, c.until, c.subject_keywords)
        )
    return tuple(routes)


def open_db(cfg: Config) -> Db:
    """The database (a plain handle: the poll needs nothing of sqlite-utils, see
    :mod:`ingest.store.handle`) with the rows tables of every configured campaign's annexes."""
    db = dbm.open_plain(cfg.db_path, cfg.schemas, cfg.campaign)
    for c in cfg.campaigns:
        dbm.ensure_annex_tables(db, c.schemas)
    if len(cfg.campaigns) > 1:  # the others' annex tables have their views too
        ensure_views(db)
        record_campaigns(db, cfg.campaigns)
    return db


def open_converter(
    timeout_seconds: float, limits: LimitsConfig | None = None, temp_dir: Path | None = None
) -> Any:
    """One LibreOffice converter per cycle (its work dir is removed by :func:`close_context`).

    *temp_dir*: where its work dir (and LibreOffice's profile) goes — a cycle's is the
    sandbox's scratch dir under data_dir, which the next pool removes if this process
    is killed; default: the system temp dir (``kaohe inspect``, which has no data_dir).
    """
    from parsers.legacy import Converter

    memory = (limits or LimitsConfig()).parse_memory_mb
    where = str(temp_dir) if temp_dir is not None else None
    return Converter(timeout_seconds=timeout_seconds, memory_mb=memory, temp_dir=where).__enter__()


def close_context(ctx: AnalysisContext) -> None:
    if ctx.converter is not None:
        ctx.converter.__exit__(None, None, None)
    if ctx.pool is not None:
        ctx.pool.close()


def poll(
    cfg: Config,
    source: MailSource | None = None,
    stop: threading.Event | None = None,
    on_item: Callable[[SourceItem], None] | None = None,
    pool: Any = None,
) -> PollSummary:
    """Run one cycle against the configured (or given) source; see the module docstring.

    The poll's outcome (ok, or the error that stopped it) is recorded in ``polls``
    for ``kaohe status`` and the reports' freshness line. *pool*: the cycle's parse
    sandbox (:func:`ingest.match.sandbox.cycle_pool`) when the caller started it
    before importing this module (``kaohe poll``: the first worker's imports overlap
    the poller's); the poll closes it, whatever happens.
    """
    try:
        return _poll_locked(cfg, source, stop, on_item, pool)
    finally:
        if pool is not None:
            pool.close()  # closed already when the cycle ran; not when the lock was held


def _poll_locked(
    cfg: Config,
    source: MailSource | None,
    stop: threading.Event | None,
    on_item: Callable[[SourceItem], None] | None,
    pool: Any,
) -> PollSummary:
    with hold_lock(cfg.data_dir, "poll"):
        clean_temp(cfg.data_dir)
        db = open_db(cfg)
        poll_id = start_poll(db)
        summary = PollSummary()
        try:
            _poll_items(db, cfg, source, stop, on_item, summary, pool)
            finish_poll(db, poll_id, ok=True, messages=summary.stored)
        except BaseException as e:
            with contextlib.suppress(Exception):  # a full disk or a held lock may refuse it too
                finish_poll(db, poll_id, ok=False, error=_poll_error(e), messages=summary.stored)
            raise
        finally:
            db.close()
        return summary


def _poll_items(
    db: Db,
    cfg: Config,
    source: MailSource | None,
    stop: threading.Event | None,
    on_item: Callable[[SourceItem], None] | None,
    summary: PollSummary,
    pool: Any = None,
) -> None:
    from ingest.store.intake import Intake  # parallel analysis, group commit

    ctx = make_context(cfg, workers=cfg.limits.parse_workers, pool=pool)
    if ctx.pool is not None:  # it imports while the source logs in and fetches; the others
        ctx.pool.prestart(1)  # start with their first job (one large mail needs only one)
    own = source is None
    src = source if source is not None else open_source(cfg.mailbox)
    try:
        with Intake(db, cfg, ctx, src, summary, on_item) as intake:
            try:
                for item in src.fetch_new(dbm.DbSourceState(db, cfg.mailbox.max_attempts)):
                    intake.add(item)
                    del item  # the intake thread owns the raw bytes now (see Intake.add)
                    intake.wait_room()
                    if stop is not None and stop.is_set():
                        log.info("stop requested: finishing the messages in hand")
                        break
            except MailboxError:
                intake.finish()  # the mails in hand came whole: commit them, then stop
                raise
            intake.finish()
    finally:
        summary.receipt_times_doubtful = src.copy_warning is not None
        if own:
            src.close()
        close_context(ctx)


def _poll_error(e: BaseException) -> str:
    """What ``status`` shows for a failed poll: the expected error's own Chinese text."""
    if isinstance(e, MailboxError | RosterError | ConfigError):
        return str(e)
    if isinstance(e, KeyboardInterrupt | SystemExit):
        return "收信被中断"
    return describe_failure(e) or "收信时程序出错（详见日志）"


@dataclass
class Taken:
    """A source item archived raw and unpacked, not yet committed."""

    item: SourceItem
    digest: str | None = None
    raw_path: str | None = None
    known: dict[str, Any] | None = None
    prepared: PreparedMessage | None = None
    error: str | None = None
    analysis: MessageAnalysis | None = None  # analysed already (ingest.store.intake)
    files_written: frozenset[str] = frozenset()  # attachment digests already on disk

    @property
    def awaits_analysis(self) -> bool:
        """Unpacked, not analysed, no error: old Office files wait for LibreOffice (and
        the sandbox reads what it converts) before the commit."""
        return self.prepared is not None and self.analysis is None and self.error is None


def take_item(
    db: Db,
    cfg: Config,
    item: SourceItem,
    summary: PollSummary,
    pool: Any = None,
) -> Taken:
    """Step 1 and the cheap part of 2: archive the raw bytes, unpack, detect types."""
    summary.fetched += 1
    if item.raw is None:
        return Taken(item)
    digest, path = archive_raw(cfg.data_dir, item.raw)
    taken = Taken(
        item, digest, path.relative_to(cfg.data_dir).as_posix(), dbm.get_message(db, digest)
    )
    if taken.known is None or dbm.to_db(item.received) < taken.known["received"]:
        from ingest.match.analyse import prepare_message  # see the module docstring

        try:
            taken.prepared = prepare_message(item.raw, digest, pool, cfg.limits)
        except Exception as e:  # a bug must not block the mailbox: the raw mail is safe
            taken.error = _analysis_failed(digest, e)
    return taken


def commit_item(
    db: Db, cfg: Config, ctx: AnalysisContext, taken: Taken, summary: PollSummary
) -> None:
    """Steps 2–3: analyse, then one transaction for the message, its outcome and the cursor."""
    item, received = taken.item, dbm.to_db(taken.item.received)
    if taken.digest is None:
        status = SourceItemState.FAILED if item.failed_reason else SourceItemState.SKIPPED
        with dbm.transaction(db):
            dbm.record_source_item(
                db,
                item.key,
                message=None,
                received=received,
                status=status,
                reason=item.failed_reason or item.skipped_reason,
                size=item.size,
            )
            _advance(db, item)
        if item.failed_reason:
            summary.failed += 1
        else:
            summary.skipped += 1
        return
    analysis = taken.analysis
    if taken.awaits_analysis:
        assert taken.prepared is not None
        try:
            analysis = _analyse(db, ctx, taken.prepared, received)
        except Exception as e:  # as above: recorded, reparse can retry once fixed
            taken.error = _analysis_failed(taken.digest, e)
    summary.failed += taken.error is not None
    with dbm.transaction(db):
        assert taken.raw_path is not None
        record = _message_record(
            taken.digest,
            taken.raw_path,
            item,
            received,
            taken.prepared.headers if taken.prepared else None,
        )
        record["error"] = taken.error
        is_new = dbm.upsert_message(db, record)
        dbm.record_source_item(
            db,
            item.key,
            message=taken.digest,
            received=received,
            status=SourceItemState.STORED,
            reason=None,
            size=item.size,
        )
        if analysis is not None:
            earliest = received if taken.known is None else min(received, taken.known["received"])
            # a second copy of known bytes (e.g. in the same batch) is not tallied again
            _store_analysis(
                db, cfg, analysis, earliest, summary if is_new else None, taken.files_written
            )
        _advance(db, item)
    if is_new:
        summary.stored += 1
    else:
        summary.duplicates += 1


def ingest_item(
    db: Db,
    cfg: Config,
    ctx: AnalysisContext,
    item: SourceItem,
    summary: PollSummary,
) -> None:
    """Archive, analyse and commit one source item (steps 1–3 of the module docstring)."""
    commit_item(db, cfg, ctx, take_item(db, cfg, item, summary, ctx.pool), summary)


def _analysis_failed(digest: str, e: Exception) -> str:
    log.error("analysis of message %s failed", digest[:12], exc_info=e)
    return f"分析失败（程序错误：{type(e).__name__}），原始邮件已存档，修复后可重新解析"


def _advance(db: Db, item: SourceItem) -> None:
    if item.cursor is not None:
        c = item.cursor
        dbm.advance_cursor(db, c.folder, c.uidvalidity, c.uid)


def _analyse(
    db: Db, ctx: AnalysisContext, prepared: PreparedMessage, received: str
) -> MessageAnalysis:
    """Analyse with the clerk's decisions (``assign``, ``dismiss``) for this message applied."""
    from ingest.match.analyse import finish_message

    ctx.assignments = dbm.assignments_for(db, prepared.digest)
    ctx.dismissals = dbm.dismissals_for(db, prepared.digest)
    ctx.received = dbm.from_db(received)
    try:
        return finish_message(prepared, ctx)
    finally:
        ctx.assignments, ctx.dismissals, ctx.received = {}, {}, None


def _message_record(
    digest: str, raw_rel: str, item: SourceItem, received: str, h: Unpacked | None
) -> dict[str, Any]:
    """The message row; headers come from unpacking, so even a failed analysis keeps them."""
    return {
        "id": digest,
        "message_id": h.message_id if h else None,
        "sender": h.sender if h else None,
        "sender_name": h.sender_name if h else None,
        "subject": h.subject if h else None,
        "date_header": dbm.to_db(h.date) if h and h.date else None,
        "received": received,
        "size": item.size,
        "raw_path": raw_rel,
        "processed_at": None,
        "error": None,
        "receipt_sent_at": None,
    }


def _store_analysis(
    db: Db,
    cfg: Config,
    analysis: MessageAnalysis,
    received: str,
    summary: PollSummary | None = None,
    written: frozenset[str] = frozenset(),
) -> None:
    """Write everything derived from one message (inside the caller's transaction)."""
    starts = [c.not_before for c in cfg.campaigns or (cfg.campaign,)]
    nb = None if None in starts else min(s for s in starts if s is not None)
    if nb is not None and received < dbm.to_db(nb):
        dbm.delete_derived(db, analysis.digest)
        db.execute(
            "update messages set processed_at = ?, error = ? where id = ?",
            [dbm.now_db(), "收信时间早于活动开始时间（not_before），已忽略", analysis.digest],
        )
        return
    store_files(cfg.data_dir, analysis.attachments, written)  # unless an intake thread did
    attachments = []
    for a in analysis.attachments:
        attachments.append(_attachment_record(analysis.digest, a, file_rel(a.sha256)))
        if summary is not None:
            summary.attachments[a.outcome] = summary.attachments.get(a.outcome, 0) + 1
    subs = submissions_of(analysis)
    rows: dict[int, list[dict[str, Any]]] = {}
    for s in subs:
        rows.setdefault(s.annex, []).extend(s.row_records())
    records = [s.record(received) for s in subs]
    dbm.replace_derived(db, analysis.digest, attachments, records, rows)
    if _duplicate_of_earlier(db, analysis):
        dbm.delete_derived(db, analysis.digest)
        db.execute(
            "update messages set error = ? where id = ?",
            ["与较早收到的同一封邮件（Message-ID 和附件均相同）重复，未重复计数", analysis.digest],
        )


def _duplicate_of_earlier(db: Db, analysis: MessageAnalysis) -> bool:
    """Same Message-ID and same attachment payloads as an earlier message: the same mail."""
    mid = analysis.headers.message_id
    if not mid:
        return False
    mine = sorted(a.sha256 for a in analysis.attachments)
    me = db.execute("select received from messages where id = ?", [analysis.digest]).fetchone()
    others = db.execute(
        "select id from messages where message_id = ? and id != ? and "
        "(received < ? or (received = ? and id < ?))",
        [mid, analysis.digest, me[0], me[0], analysis.digest],
    ).fetchall()
    for (other,) in others:
        theirs = sorted(
            r[0]
            for r in db.execute(
                "select sha256 from attachments where message = ?", [other]
            ).fetchall()
        )
        if theirs == mine:
            return True
    return False


def _attachment_record(digest: str, a: Any, stored: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "message": digest,
        "part": a.part,
        "filename": a.filename,
        "container": a.container,
        "size": a.size,
        "sha256": a.sha256,
        "type": a.type,
        "annex": a.annex,
        "annex_evidence": a.annex_evidence,
        "unit": a.unit,
        "unit_evidence": a.unit_evidence,
        "rows": len(a.rows),
        "outcome": a.outcome,
        "reason": a.reason,
        "stored_path": stored,
        "warnings": "\n".join(a.warnings) if a.warnings else None,
        "campaign": a.campaign,
    }


def reparse(
    cfg: Config,
    messages: Iterable[str] | None = None,
    since: datetime | None = None,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
) -> int:
    """Re-run analysis on archived mail; derived data is replaced, the archive untouched."""
    db = open_db(cfg)
    ctx = make_context(cfg)
    try:
        ids = (
            list(messages)
            if messages is not None
            else dbm.message_ids(db, dbm.to_db(since) if since else None)
        )
        from ingest.match.analyse import prepare_message

        done = 0
        batch: list[tuple[str, PreparedMessage]] = []
        for mid in progress(ids) if progress else ids:
            batch.append((mid, prepare_message(read_raw(cfg.data_dir, mid), pool=ctx.pool)))
            if len(batch) == LOOKAHEAD_MESSAGES or mid == ids[-1]:
                done += _reparse_batch(db, cfg, ctx, batch)
                batch = []
        return done
    finally:
        close_context(ctx)
        db.close()


def _reparse_batch(
    db: Db,
    cfg: Config,
    ctx: AnalysisContext,
    batch: list[tuple[str, PreparedMessage]],
) -> int:
    """Re-derive a few messages, their old Office files converted in one LibreOffice run."""
    from ingest.match.analyse import prefetch_messages

    prefetch_messages([p for _, p in batch], ctx)
    for mid, prepared in batch:
        row = dbm.get_message(db, mid)
        if row is None:
            raise KeyError(mid)
        analysis = _analyse(db, ctx, prepared, row["received"])
        with dbm.transaction(db):
            _store_analysis(db, cfg, analysis, row["received"])
    return len(batch)

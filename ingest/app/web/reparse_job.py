"""``reparse --all`` from the 运行状态 page: one background thread, its progress polled.

The job runs the same :func:`ingest.store.pipeline.reparse` as the CLI; the
progress callback counts messages as the pipeline takes them. One job at a time
per process; a poll running meanwhile is fine (each message is one transaction).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ingest.match.roster import RosterError
from ingest.store import pipeline
from ingest.store.db import message_ids, open_db

if TYPE_CHECKING:
    from ingest.app.web.state import WebState

log = logging.getLogger("kaohe.web")


@dataclass
class ReparseJob:
    """The state of the last (or running) reparse."""

    running: bool = False
    done: int = 0
    total: int = 0
    by: str = ""
    started: datetime | None = None
    finished: datetime | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def start_reparse(state: WebState, user: str) -> bool:
    """Start the job unless one runs; True when started."""
    job = state.reparse
    with job.lock:
        if job.running:
            return False
        db = open_db(state.cfg.db_path)
        try:
            ids = message_ids(db)
        finally:
            db.close()
        job.running, job.done, job.total, job.by = True, 0, len(ids), user
        job.started, job.finished, job.error = datetime.now(UTC), None, None
    threading.Thread(target=_run, args=(state, ids), name="kaohe-reparse", daemon=True).start()
    log.info("%s 开始重新解析全部 %d 封邮件", user, len(ids))
    return True


def _run(state: WebState, ids: list[str]) -> None:
    job = state.reparse

    def count(items: Iterable[str]) -> Iterator[str]:
        for item in items:
            yield item
            job.done += 1

    try:
        if ids:
            pipeline.reparse(state.root or state.cfg, ids, progress=count)  # every campaign
    except Exception as e:  # the page shows it; the server keeps serving
        log.exception("重新解析失败")
        job.error = str(e) if isinstance(e, RosterError) else "重新解析中途出错，详情见服务日志"
    finally:
        with job.lock:
            job.running, job.finished = False, datetime.now(UTC)
            job.done = min(job.done, job.total)
        state.changed()


def progress_dict(request: Request) -> dict[str, Any]:
    from ingest.app.web.auth import web_state

    state = web_state(request)
    job = state.reparse
    tz = state.cfg.campaign.timezone

    def t(dt: datetime | None) -> str | None:
        return dt.astimezone(tz).isoformat(timespec="seconds") if dt else None

    return {
        "running": job.running,
        "done": job.done,
        "total": job.total,
        "by": job.by,
        "started": t(job.started),
        "finished": t(job.finished),
        "error": job.error,
    }

"""The program's own health: every poll's outcome, and what ``status`` and reports show.

A poll writes one row in ``polls`` when it starts and completes it when it ends
(ok, or the error a clerk can read). :func:`read_health` turns that, the daemon
lock and a few counts into a :class:`Health` — the figure every report opens
with, the ``kaohe status`` output and the web console's ``/api/health``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.core.lock import is_held
from ingest.core.vocab import SourceItemState
from ingest.store.db import from_db, now_db
from ingest.store.handle import Db

STALE_FACTOR = 3  # a poll older than 3 × poll_every_minutes is stale while a daemon should run


@dataclass(frozen=True)
class Health:
    """The state of collection as of *now*."""

    last_poll: datetime | None  # end of the last finished poll, ok or not
    last_poll_ok: bool
    last_error: str | None  # the last failed poll's error, if the last poll failed
    last_success: datetime | None  # end of the last poll that read the mailbox
    daemon: bool  # a ``kaohe run`` holds the daemon lock right now
    messages: int
    failed_items: int  # source items that could not be fetched (failed, still retried or given up)
    stale: bool  # never polled, or no successful poll for STALE_FACTOR × the interval

    @property
    def ok(self) -> bool:
        return self.last_poll_ok and not self.stale


def start_poll(db: Db) -> int:
    """Record that a poll started; returns its row id for :func:`finish_poll`."""
    with db.conn:
        cur = db.execute("insert into polls (started_at) values (?)", [now_db()])
    return int(cur.lastrowid or 0)


def finish_poll(
    db: Db, poll_id: int, ok: bool, error: str | None = None, messages: int = 0
) -> None:
    """Complete the poll's row: ok, or the Chinese error that stopped it."""
    with db.conn:
        db.execute(
            "update polls set finished_at = ?, ok = ?, error = ?, messages = ? where id = ?",
            [now_db(), int(ok), error, messages, poll_id],
        )


def read_health(db: Db, data_dir: Path, poll_every: timedelta, now: datetime) -> Health:
    """Health as of *now*; *data_dir* is where a running daemon holds ``daemon.lock``."""
    last = _one(db, "select * from polls where finished_at is not null order by id desc limit 1")
    good = _one(db, "select * from polls where ok = 1 order by id desc limit 1")
    last_success = from_db(good["finished_at"]) if good else None
    stale = last_success is None or now - last_success > STALE_FACTOR * poll_every
    failed = db.execute(
        "select count(*) from source_items where status in (?, ?)",
        [SourceItemState.FAILED, SourceItemState.SKIPPED],
    ).fetchone()[0]
    return Health(
        last_poll=from_db(last["finished_at"]) if last else None,
        last_poll_ok=bool(last and last["ok"]),
        last_error=None if not last or last["ok"] else last["error"],
        last_success=last_success,
        daemon=is_held(data_dir, "daemon"),
        messages=db.execute("select count(*) from messages").fetchone()[0],
        failed_items=failed,
        stale=stale,
    )


def _one(db: Db, sql: str) -> dict[str, Any] | None:
    rows = list(db.query(sql))
    return rows[0] if rows else None

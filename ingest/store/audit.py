"""The audit log: every clerk action — who, when, what, the state before and after.

:func:`record_action` is called inside the transaction that makes the change, so
an action and its log line land together or not at all. The console's 操作记录
page and any later review read :func:`list_actions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from ingest.store.db import from_db, now_db

ACTION_LABELS = {
    "assign": "认领",
    "assign_undo": "撤销认领",
    "dismiss": "排除",
    "dismiss_undo": "撤销排除",
    "paper": "登记纸质版",
    "paper_undo": "撤销纸质版",
    "add": "手工添加",
}


@dataclass(frozen=True)
class AuditEntry:
    """One clerk action as logged."""

    id: int
    at: datetime  # aware (UTC as stored; show it in the campaign timezone)
    actor: str
    action: str  # a key of ACTION_LABELS
    target: str  # attachment id, or "单位 附件N"
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def label(self) -> str:
        """The clerk's word for the action."""
        return ACTION_LABELS.get(self.action, self.action)


def record_action(
    db: sqlite_utils.Database,
    actor: str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Log one action; call it inside the transaction that makes the change."""
    db.execute(
        "insert into audit (at, actor, action, target, before, after) values (?, ?, ?, ?, ?, ?)",
        [now_db(), actor, action, target, _dump(before), _dump(after)],
    )


def list_actions(db: sqlite_utils.Database, limit: int = 200) -> list[AuditEntry]:
    """The latest *limit* actions, newest first."""
    rows = db.execute(
        "select id, at, actor, action, target, before, after from audit order by id desc limit ?",
        [limit],
    ).fetchall()
    return [
        AuditEntry(
            id=r[0],
            at=from_db(r[1]),  # type: ignore[arg-type]
            actor=r[2] or "",
            action=r[3],
            target=r[4] or "",
            before=_load(r[5]),
            after=_load(r[6]),
        )
        for r in rows
    ]


def _dump(state: dict[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(state, ensure_ascii=False, sort_keys=True)


def _load(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))

"""操作记录: every clerk action — who, when, what, the state before → after."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.api import ATTACHMENT_ID
from ingest.app.web.auth import web_state
from ingest.app.web.render import render_page
from ingest.app.web.routes_unit import OUTCOMES
from ingest.app.web.views import local
from ingest.store.audit import list_actions
from ingest.store.users import Session

LIMIT = 500
KEYS = {
    "outcome": "结果",
    "unit": "单位",
    "annex": "附件",
    "reason": "原因",
    "received_on": "日期",
    "date": "日期",
    "annexes": "附件",
}


def state_text(state: dict[str, Any] | None) -> str:
    """``单位：南郑区财政局；附件：4`` — a logged state in the clerk's words."""
    if not state:
        return "（无）"
    parts = []
    for key, value in state.items():
        if value is None or value == "":
            continue
        if key == "outcome":
            value = OUTCOMES.get(str(value), value)
        if isinstance(value, list):
            value = "、".join(map(str, value))
        parts.append(f"{KEYS.get(key, key)}：{value}")
    return "；".join(parts) or "（无）"


def audit(request: Request, session: Session) -> Response:
    state = web_state(request)
    with state.db() as db:
        entries = list_actions(db, LIMIT)
        names = _file_names(db, {e.target for e in entries})
    rows = [
        (e, local(state, e.at), _target(e.target, names), state_text(e.before), state_text(e.after))
        for e in entries
    ]
    return render_page(request, "audit.html.j2", session, rows=rows, limit=LIMIT)


def _file_names(db: Any, targets: set[str]) -> dict[str, str]:
    """Attachment id → decoded file name, for the targets that are attachment ids."""
    ids = [t for t in targets if ATTACHMENT_ID.match(t)]
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = db.execute(f"select id, filename from attachments where id in ({marks})", ids)
    return {r[0]: r[1] or "" for r in rows.fetchall()}


def _target(target: str, names: dict[str, str]) -> str:
    name = names.get(target)
    return f"{name}（{target}）" if name else target

"""待认领: each attachment the program could not place, with what it saw, and the decision.

The unit field is pre-filled with the best candidate (the one unit the reason, file
name or subject points to); the page's script offers roster names as the clerk
types (``/api/units``) and posts to ``/api/assign`` / ``/api/dismiss``. Decisions
stay listed below with an undo button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.auth import web_state
from ingest.app.web.preview import Preview, preview_file
from ingest.app.web.render import render_page
from ingest.app.web.views import local, now
from ingest.store.clerk import ClerkActionError, stored_file
from ingest.store.db import from_db
from ingest.store.users import Session
from reports.model import UnassignedItem

RECENT = 30


@dataclass(frozen=True)
class Item:
    """One 待认领 entry as the page shows it."""

    item: UnassignedItem
    received: str
    best: str
    annex: int | None  # the annex to pre-select
    preview: Preview | None


def best_candidate(item: UnassignedItem) -> str:
    """The unit to pre-fill: the report's suggestion, or the only candidate; else nothing."""
    if item.suggested_unit:
        return item.suggested_unit
    return item.unit_candidates[0] if len(item.unit_candidates) == 1 else ""


def _preview(request: Request, attachment: str, filename: str) -> Preview:
    try:
        found = stored_file(web_state(request).cfg, attachment)
    except ClerkActionError as e:
        return Preview(note=str(e))
    return preview_file(found.path, filename)


def unassigned(request: Request, session: Session) -> Response:
    state = web_state(request)
    report = state.report(now(state))
    items = [
        Item(
            i,
            local(state, i.received),
            best_candidate(i),
            i.annex or i.suggested_annex,
            _preview(request, i.attachment, i.filename),
        )
        for i in report.unassigned
    ]
    with state.db() as db:
        recent = _recent_decisions(db)
    for r in recent:
        r["when"] = local(state, from_db(r["at"]))
    return render_page(request, "unassigned.html.j2", session, items=items, recent=recent)


def _recent_decisions(db: Any) -> list[dict[str, Any]]:
    """The latest assignments and dismissals still in effect (each can be undone)."""
    return list(
        db.query(
            "select * from ("
            " select 'assign' as kind, s.attachment, s.assigned_at as at, s.unit, s.annex,"
            "  null as reason, a.filename from assignments s"
            "  left join attachments a on a.id = s.attachment"
            " union all"
            " select 'dismiss', d.attachment, d.dismissed_at, null, null, d.reason, a.filename"
            "  from dismissals d left join attachments a on a.id = d.attachment"
            ") order by at desc limit ?",
            [RECENT],
        )
    )

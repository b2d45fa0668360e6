"""运行状态: the health of ``/api/health``, the last errors, failed mails, and reparse."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.auth import web_state
from ingest.app.web.render import render_page
from ingest.app.web.reparse_job import progress_dict
from ingest.app.web.views import health_view, local, now
from ingest.store.db import from_db
from ingest.store.users import Session

LAST_ERRORS = 10


def status_page(request: Request, session: Session) -> Response:
    state = web_state(request)
    at = now(state)
    report = state.report(at)
    with state.db() as db:
        errors = [
            (local(state, from_db(r["finished_at"] or r["started_at"])), r["error"])
            for r in db.query(
                "select * from polls where ok = 0 and error is not null order by id desc limit ?",
                [LAST_ERRORS],
            )
        ]
    failures = [(f, local(state, f.last_attempt)) for f in report.failures]
    return render_page(
        request,
        "status.html.j2",
        session,
        health=health_view(state, at),
        errors=errors,
        failures=failures,
        job=progress_dict(request),
        poll_every=state.cfg.schedule.poll_every_minutes,
    )

"""纸质版: tick the paper copies that arrived — several annexes of a unit at once, with the date."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.auth import web_state
from ingest.app.web.render import render_page
from ingest.app.web.views import now
from ingest.store.users import Session
from reports.summary import paper_outstanding


def paper_page(request: Request, session: Session) -> Response:
    state = web_state(request)
    at = now(state)
    report = state.report(at)
    units = [
        (
            u,
            sorted((n, a) for n, a in u.annexes.items() if a.required or a.paper_received),
            paper_outstanding(u),
        )
        for u in report.units
    ]
    return render_page(
        request,
        "paper.html.j2",
        session,
        units=units,
        today=at.date().isoformat(),
        owing=sum(1 for _, _, owed in units if owed),
    )

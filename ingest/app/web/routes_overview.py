"""总览: the live report — health on top, progress, who to phone, paper still owed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.auth import web_state
from ingest.app.web.render import render_page
from ingest.app.web.views import health_view, now
from ingest.store.users import Session
from reports.chart import progress_chart
from reports.model import Status
from reports.summary import (
    STATUS_ORDER,
    annex_label,
    by_annex,
    by_category,
    deadline_phrase,
    fmt_date,
    fmt_time,
    follow_up_units,
    overall,
    owed_phrases,
    paper_outstanding,
)


def overview(request: Request, session: Session) -> Response:
    state = web_state(request)
    at = now(state)
    report = state.report(at)
    numbers = sorted({n for u in report.units for n in u.annexes})
    return render_page(
        request,
        "overview.html.j2",
        session,
        r=report,
        health=health_view(state, at),
        as_of=fmt_time(report, report.as_of),
        deadline=deadline_phrase(report),
        total=overall(report),
        statuses=STATUS_ORDER,
        counts={s: report.count(s) for s in STATUS_ORDER},
        chart_category=progress_chart(by_category(report), "按单位类别的报送进度"),
        chart_annex=progress_chart(by_annex(report), "按附件的报送进度"),
        follow_up=[(u, owed_phrases(u)) for u in follow_up_units(report)],
        paper=[(u, paper_outstanding(u)) for u in report.units if paper_outstanding(u)],
        annexes=[(n, annex_label(n)) for n in numbers],
        numbers=numbers,
        fmt_date=fmt_date,
        done={Status.SUBMITTED, Status.LATE},
    )

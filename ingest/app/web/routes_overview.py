"""总览: the live report — health on top, progress, who to phone, paper still owed.

Everything below the health strip depends only on the report, so it is rendered
once per report (:meth:`WebState.fragment`): at 500 units that part is ~300 KB of
HTML, and 20 clerks reading it would otherwise render it 20 times.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.auth import web_state
from ingest.app.web.render import environment, render_page
from ingest.app.web.views import health_view, now
from ingest.store.users import Session
from reports.chart import progress_chart
from reports.model import Status, StatusReport
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
    body = state.fragment(
        "overview",
        report,
        lambda: environment().get_template("overview_body.html.j2").render(**_context(report)),
    )
    return render_page(
        request, "overview.html.j2", session, health=health_view(state, at), body=body
    )


def _context(report: StatusReport) -> dict[str, Any]:
    numbers = sorted({n for u in report.units for n in u.annexes})
    return {
        "r": report,
        "as_of": fmt_time(report, report.as_of),
        "deadline": deadline_phrase(report),
        "total": overall(report),
        "statuses": STATUS_ORDER,
        "counts": {s: report.count(s) for s in STATUS_ORDER},
        "chart_category": progress_chart(by_category(report), "按单位类别的报送进度"),
        "chart_annex": progress_chart(by_annex(report), "按附件的报送进度"),
        "follow_up": [(u, owed_phrases(u, report.annex_names)) for u in follow_up_units(report)],
        "paper": [(u, paper_outstanding(u)) for u in report.units if paper_outstanding(u)],
        "annexes": [(n, annex_label(n, report.annex_names)) for n in numbers],
        "numbers": numbers,
        "fmt_date": fmt_date,
        "done": {Status.SUBMITTED, Status.LATE},
    }

"""下载: the status report, the 汇总表 (per annex or all), the originals zip.

Each is built on request from the database (the same functions as ``report`` and
``export``) and sent as an attachment; nothing is written under data_dir.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ingest.app.web.auth import web_state
from ingest.app.web.originals import chunks, originals, write_zip
from ingest.app.web.render import render_page
from ingest.app.web.security import content_disposition
from ingest.app.web.views import now
from ingest.store.users import Session
from reports.export import check_annex, export_xlsx, tables_of
from reports.output import FILE_STEM, render
from reports.status import campaign_filter, latest_forms, short_names
from reports.summary import annex_label

REPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
XLSX = REPORT_TYPES["xlsx"]


def downloads(request: Request, session: Session) -> Response:
    schemas = web_state(request).cfg.schemas
    names = short_names(schemas)
    return render_page(
        request, "downloads.html.j2", session, annexes=[(n, annex_label(n, names)) for n in schemas]
    )


def _attachment(data: bytes, filename: str, media_type: str) -> Response:
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": content_disposition(filename)}
    )


def report_file(request: Request, session: Session) -> Response:
    fmt = str(request.path_params.get("fmt"))
    if fmt not in REPORT_TYPES:
        raise HTTPException(404)
    state = web_state(request)
    at = now(state)
    data = render(state.report(at), fmt, state.cfg)
    return _attachment(data, f"{FILE_STEM}-{at:%Y%m%d-%H%M}.{fmt}", REPORT_TYPES[fmt])


def export_file(request: Request, session: Session) -> Response:
    which = str(request.path_params.get("which"))
    state = web_state(request)
    if which != "all" and not (which.isdigit() and int(which) in state.cfg.schemas):
        raise HTTPException(404)
    annex = None if which == "all" else int(which)
    schemas, only = state.cfg.schemas, campaign_filter(state.cfg, "s.")
    with state.db() as db:  # several campaigns: this one's forms only, as ``export --campaign``
        forms = {n: latest_forms(db, n, only) for n in check_annex(annex, schemas)}
    tables = tables_of(forms, state.roster(), schemas)
    data = export_xlsx(tables, state.cfg.campaign.timezone)
    what = "全部附件" if annex is None else f"附件{annex}"
    return _attachment(data, f"汇总表-{what}-{now(state):%Y%m%d-%H%M}.xlsx", XLSX)


def originals_zip(request: Request, session: Session) -> Response:
    state = web_state(request)
    order = {u.name: i for i, u in enumerate(state.roster().units)}
    with state.db() as db:
        members = originals(
            db,
            state.cfg.data_dir,
            order,
            state.cfg.campaign.timezone,
            campaign_filter(state.cfg, "s."),
        )
    handle = write_zip(members)
    name = f"原始文件-{now(state):%Y%m%d-%H%M}.zip"
    return StreamingResponse(
        chunks(handle),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(name)},
    )

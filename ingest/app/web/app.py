"""The app factory: routes, static files, security headers, error pages."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ingest.app.web import (
    api,
    routes_audit,
    routes_downloads,
    routes_login,
    routes_overview,
    routes_paper,
    routes_status,
    routes_unassigned,
    routes_unit,
)
from ingest.app.web.auth import UnknownCampaign, action, page
from ingest.app.web.auth import api as api_get
from ingest.app.web.render import render_page
from ingest.app.web.security import SecurityHeaders
from ingest.app.web.state import WebState, default_login_delay
from ingest.core.config import Config

STATIC = Path(__file__).with_name("static")
MAX_BODY = 1 << 20  # no form or JSON body of the console is near 1 MB


def create_app(
    cfg: Config,
    *,
    login_delay: Callable[[int], float] = default_login_delay,
    secure_cookies: bool | None = None,
) -> Starlette:
    """The console for *cfg*. *login_delay* maps wrong passwords in a row to seconds of wait."""
    state = WebState(
        cfg,
        login_delay=login_delay,
        secure_cookies=cfg.web.tls if secure_cookies is None else secure_cookies,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # the first report of a big campaign takes a second: build it before anyone asks
        threading.Thread(target=state.warm_up, name="kaohe-web-warm", daemon=True).start()
        try:
            yield
        finally:
            state.close()

    app = Starlette(
        lifespan=lifespan,
        routes=_routes(),
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: _http_error},
        max_body_size=MAX_BODY,
    )
    app.state.web = state
    return app


def _routes() -> list[Route | Mount]:
    return [
        Route("/login", routes_login.login_form, methods=["GET"]),
        Route("/login", routes_login.login, methods=["POST"]),
        Route("/logout", action(routes_login.logout, viewer_allowed=True), methods=["POST"]),
        Route("/", page(routes_overview.overview)),
        Route("/unassigned", page(routes_unassigned.unassigned)),
        Route("/units/{name}", page(routes_unit.unit_page)),
        Route("/paper", page(routes_paper.paper_page)),
        Route("/downloads", page(routes_downloads.downloads)),
        Route("/downloads/report.{fmt}", page(routes_downloads.report_file)),
        Route("/downloads/export-{which}.xlsx", page(routes_downloads.export_file)),
        Route("/downloads/originals.zip", page(routes_downloads.originals_zip)),
        Route("/audit", page(routes_audit.audit)),
        Route("/status", page(routes_status.status_page)),
        Route("/api/session", api_get(api.session_info)),
        Route("/api/report", api_get(api.report)),
        Route("/api/health", api_get(api.health)),
        Route("/api/units", api_get(api.units)),
        Route("/api/reparse", api_get(api.reparse_progress), methods=["GET"]),
        Route("/api/reparse", action(api.reparse_start), methods=["POST"]),
        Route("/api/assign", action(api.assign), methods=["POST"]),
        Route("/api/dismiss", action(api.dismiss), methods=["POST"]),
        Route("/api/paper", action(api.paper), methods=["POST"]),
        Route("/api/attachments/{id}/file", api_get(api.attachment_file)),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    words = {404: "找不到这个页面或文件", 405: "不支持这种请求方式", 413: "提交的内容太大"}
    message = words.get(exc.status_code, str(exc.detail))
    if isinstance(exc, UnknownCampaign):  # which campaigns there are
        message = str(exc.detail)
    return render_page(request, "error.html.j2", None, status_code=exc.status_code, message=message)

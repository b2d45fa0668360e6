"""Who is asking: the session cookie, the CSRF token, the role — and the login itself.

Route handlers are plain functions wrapped by :func:`page` (GET pages: no session
→ redirect to /login), :func:`api` (GET JSON: → 401) or :func:`action` (POST:
no session → 401, wrong or missing CSRF token → 403, a viewer → 403). Wrapped
handlers run in the thread pool: they read SQLite and may build a report.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ingest.app.web.state import WebState
from ingest.core.config import ConfigError
from ingest.store.users import Role, Session, end_session, find_session

COOKIE = "kaohe_session"
CAMPAIGN_COOKIE = "kaohe_campaign"  # the campaign the header's switcher chose last

Handler = Callable[[Request, Session], Response]
ActionHandler = Callable[[Request, Session, dict[str, Any]], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


class UnknownCampaign(HTTPException):
    """``?campaign=NAME`` names no configured campaign: 404, the detail says which exist."""


def app_state(request: Request) -> WebState:
    """The app's state as started (the first campaign's view): accounts, cookies."""
    state: WebState = request.app.state.web
    return state


def web_state(request: Request) -> WebState:
    """The state seen through this request's campaign: ``?campaign=NAME``, else the one
    the switcher remembered (cookie), else the first."""
    state = app_state(request)
    asked = request.query_params.get("campaign", "").strip()
    if asked:
        try:
            return state.selected(asked[:200])
        except ConfigError as e:
            raise UnknownCampaign(404, str(e)) from None
    remembered = request.cookies.get(CAMPAIGN_COOKIE)
    if remembered and len(remembered) <= 600:
        try:
            return state.selected(unquote(remembered))
        except ConfigError:
            pass  # the config changed since: the first campaign
    return state.selected(None)


def remember_campaign(request: Request, response: Response) -> None:
    """A page opened with ``?campaign=`` (the switcher's links): later pages show it too."""
    state = app_state(request)
    if not request.query_params.get("campaign") or len(state.campaign_names) < 2:
        return
    if response.status_code < 400:
        name = web_state(request).cfg.campaign.name
        response.set_cookie(
            CAMPAIGN_COOKIE,
            quote(name, safe=""),
            path="/",
            httponly=True,
            samesite="strict",
            secure=is_secure(request),
        )


def current_session(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    with app_state(request).accounts() as conn:
        return find_session(conn, token)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


def clear_session(request: Request, response: Response) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        with app_state(request).accounts() as conn:
            end_session(conn, token)
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=is_secure(request)
    )


def is_secure(request: Request) -> bool:
    return app_state(request).secure_cookies or request.url.scheme == "https"


def safe_next(target: str | None) -> str:
    """A local path to go back to after login; anything else (//host, http:…) → /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def to_login(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


def unauthorised() -> Response:
    return JSONResponse({"error": "请先登录"}, status_code=401)


def forbidden(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=403)


def page(handler: Handler) -> Endpoint:
    """A GET page: the signed-in user, or a redirect to the login page."""

    async def endpoint(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return to_login(request)
        response = await run_in_threadpool(handler, request, session)
        remember_campaign(request, response)
        return response

    return endpoint


def api(handler: Handler) -> Endpoint:
    """A GET JSON endpoint: the signed-in user, or 401."""

    async def endpoint(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return unauthorised()
        return await run_in_threadpool(handler, request, session)

    return endpoint


def action(handler: ActionHandler, viewer_allowed: bool = False) -> Endpoint:
    """A POST: session (else 401), CSRF token (else 403), the clerk role (else 403)."""

    async def endpoint(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return unauthorised()
        body = await read_body(request)
        sent = request.headers.get("x-csrf-token") or str(body.get("csrf") or "")
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            return forbidden("请求已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
        if session.role is not Role.CLERK and not viewer_allowed:
            return forbidden("只读账号不能进行此操作")
        return await run_in_threadpool(handler, request, session, body)

    return endpoint


async def read_body(request: Request) -> dict[str, Any]:
    """A JSON object or a submitted form as a dict (lists for repeated form fields)."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        out: dict[str, Any] = {}
        for key in form:
            values = [v for v in form.getlist(key) if isinstance(v, str)]
            out[key] = values if len(values) > 1 else (values[0] if values else "")
        return out
    return {}


async def sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)

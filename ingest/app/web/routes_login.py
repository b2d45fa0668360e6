"""``/login`` and ``/logout`` (contract §9).

A wrong password answers 401 after a delay that grows with the failures in a
row for that account name from that address (:func:`WebState.login_delay`);
attempts for one name and address are taken one at a time, so parallel guesses
wait in line. A login form posted from another site is refused (Origin check):
there is no session yet, so no CSRF token to check.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ingest.app.web.auth import (
    clear_session,
    current_session,
    forbidden,
    read_body,
    safe_next,
    set_session_cookie,
    sleep,
    web_state,
)
from ingest.app.web.render import render_page
from ingest.store.users import (
    Account,
    Session,
    check_login,
    clear_failures,
    failures,
    has_users,
    login_secret,
    record_failure,
    start_session,
)

_attempt_locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)


def _login_page(
    request: Request, status: int = 200, error: str = "", username: str = ""
) -> Response:
    with web_state(request).accounts() as conn:
        no_accounts = not has_users(conn)
    cfg = web_state(request).cfg
    return render_page(
        request,
        "login.html.j2",
        None,
        status_code=status,
        error=error,
        username=username,
        next=safe_next(request.query_params.get("next")),
        no_accounts=no_accounts,
        config_path=str(cfg.path) if cfg.path else "/etc/kaohe/config.toml",
        campaign=cfg.campaign.name,
    )


async def login_form(request: Request) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not sent by older browsers for same-origin posts
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def login(request: Request) -> Response:
    if not _same_origin(request):
        return forbidden("登录请求来源不明")
    form = await read_body(request)
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    ip = request.client.host if request.client else "?"
    state = web_state(request)
    lock = _attempt_locks[(username, ip)]
    async with lock:
        with state.accounts() as conn:
            before = failures(conn, username, ip)
        await sleep(state.login_delay(before))
        account = await run_in_threadpool(_check, request, username, password)
        with state.accounts() as conn:
            if account is None:
                record_failure(conn, username, ip)
            else:
                clear_failures(conn, username, ip)
                token, _ = start_session(conn, account)
    if not lock.locked():  # nobody waiting: do not keep a lock per name ever tried
        _attempt_locks.pop((username, ip), None)
    if account is None:
        return _login_page(request, 401, "用户名或密码错误", username)
    target = safe_next(str(form.get("next") or "/"))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


def _check(request: Request, username: str, password: str) -> Account | None:
    with web_state(request).accounts() as conn:
        found = login_secret(conn, username)
    return check_login(found, password)  # scrypt outside the lock


def logout(request: Request, session: Session, body: dict[str, Any]) -> Response:
    """POST /logout: ends the session (CSRF-checked like every POST)."""
    response = RedirectResponse("/login", status_code=303)
    clear_session(request, response)
    return response

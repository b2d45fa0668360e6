"""The JSON endpoints of contract §9 — the pages' scripts call exactly these.

Every action calls the same library function as its CLI command, with the
signed-in user as the audit log's actor. ``undo: true`` in the body is the
CLI's ``--undo``. A form post (no script) gets a redirect to ``next`` instead
of JSON, so a page works without JavaScript too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ingest.app.web.auth import safe_next, web_state
from ingest.app.web.reparse_job import progress_dict, start_reparse
from ingest.app.web.security import content_disposition
from ingest.app.web.views import now
from ingest.core.config import ConfigError, parse_moment
from ingest.core.dates import DateError, parse_day
from ingest.match.resolve import match_units
from ingest.store.clerk import (
    ClerkActionError,
    assign_attachment,
    dismiss_attachment,
    record_paper,
    stored_file,
    undo_assignment,
    undo_dismissal,
)
from ingest.store.users import Session
from reports.output import build_report
from reports.render_json import report_dict

ATTACHMENT_ID = re.compile(r"^[0-9a-f]{12,64}$")
MAX_UNITS = 15


def session_info(request: Request, session: Session) -> Response:
    return JSONResponse({"user": session.user, "role": session.role.value, "csrf": session.csrf})


def report(request: Request, session: Session) -> Response:
    """Exactly the §7 JSON, as of ``?as_of=T`` (default now)."""
    state = web_state(request)
    tz = state.cfg.campaign.timezone
    text = request.query_params.get("as_of")
    if text:
        try:
            as_of = parse_moment(text, tz, "as_of", end_of_day=True)
        except ConfigError:
            return JSONResponse({"error": f"as_of 不是有效的时间：{text}"}, status_code=400)
        data = build_report(state.cfg, as_of)
    else:
        data = state.report(now(state))
    return JSONResponse(report_dict(data, tz))


def health(request: Request, session: Session) -> Response:
    from ingest.app.web.views import health_view

    state = web_state(request)
    h = health_view(state, now(state)).health
    tz = state.cfg.campaign.timezone
    return JSONResponse(
        {
            "last_poll": h.last_poll.astimezone(tz).isoformat(timespec="seconds")
            if h.last_poll
            else None,
            "last_poll_ok": h.last_poll_ok,
            "last_error": h.last_error,
            "daemon": h.daemon,
            "messages": h.messages,
            "failed_items": h.failed_items,
        }
    )


def units(request: Request, session: Session) -> Response:
    """Roster names matching ``?q=`` (name, alias, short name), for the assign field."""
    text = request.query_params.get("q", "")[:50]
    found = match_units(web_state(request).roster(), text)[:MAX_UNITS]
    return JSONResponse({"units": [{"name": u.name, "aliases": list(u.aliases)} for u in found]})


def _done(request: Request, body: dict[str, Any], message: str) -> Response:
    if request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"ok": True, "message": message})
    return RedirectResponse(safe_next(str(body.get("next") or "/")), status_code=303)


def _clerk_call(request: Request, body: dict[str, Any], call: Callable[[], str]) -> Response:
    try:
        message = call()
    except ClerkActionError as e:
        return JSONResponse({"error": str(e), "candidates": list(e.candidates)}, status_code=400)
    web_state(request).changed()
    return _done(request, body, message)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "on", "yes")


def _attachment(body: dict[str, Any]) -> str | None:
    text = str(body.get("attachment") or "").strip().lower()
    return text if ATTACHMENT_ID.match(text) else None


def _not_found() -> Response:
    return JSONResponse({"error": "附件编号无效或不存在"}, status_code=404)


def assign(request: Request, session: Session, body: dict[str, Any]) -> Response:
    """``{"attachment", "unit", "annex"}`` as ``kaohe assign``; ``"undo": true`` as ``--undo``."""
    cfg, att = web_state(request).cfg, _attachment(body)
    if att is None:
        return _not_found()
    if _flag(body.get("undo")):
        return _clerk_call(request, body, lambda: undo_assignment(cfg, att, session.user))
    unit = str(body.get("unit") or "").strip()
    annex = _annex(body.get("annex"))
    if not unit:
        return JSONResponse({"error": "请填写单位名称"}, status_code=400)
    return _clerk_call(
        request, body, lambda: assign_attachment(cfg, att, unit, annex, actor=session.user)
    )


def _annex(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() and 2 <= int(text) <= 6 else None


def dismiss(request: Request, session: Session, body: dict[str, Any]) -> Response:
    """``{"attachment", "reason"}`` as ``kaohe dismiss``; ``"undo": true`` as ``--undo``."""
    cfg, att = web_state(request).cfg, _attachment(body)
    if att is None:
        return _not_found()
    if _flag(body.get("undo")):
        return _clerk_call(request, body, lambda: undo_dismissal(cfg, att, session.user))
    reason = str(body.get("reason") or "").strip()[:200] or None
    return _clerk_call(request, body, lambda: dismiss_attachment(cfg, att, reason, session.user))


def paper(request: Request, session: Session, body: dict[str, Any]) -> Response:
    """``{"unit", "annexes": [N…], "date"}`` as ``kaohe paper``; ``"undo": true`` as ``--undo``."""
    cfg = web_state(request).cfg
    raw = body.get("annexes")
    values = raw if isinstance(raw, list) else [raw] if raw not in (None, "") else []
    annexes = [_annex(v) for v in values]
    if not annexes or None in annexes:
        return JSONResponse({"error": "请勾选附件（2 到 6）"}, status_code=400)
    day = None
    text = str(body.get("date") or "").strip()
    if text:
        try:
            day = parse_day(text, cfg.campaign.timezone, year=cfg.campaign.deadline.year)
        except DateError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    unit = str(body.get("unit") or "").strip()
    undo = _flag(body.get("undo"))
    wanted = [a for a in annexes if a is not None]
    return _clerk_call(
        request,
        body,
        lambda: record_paper(cfg, unit, wanted, day, undo=undo, actor=session.user),
    )


def attachment_file(request: Request, session: Session) -> Response:
    """The stored original under its decoded name; the id is looked up, never a path."""
    att = str(request.path_params.get("id", "")).lower()
    if not ATTACHMENT_ID.match(att):
        return _not_found()
    try:
        found = stored_file(web_state(request).cfg, att)
    except ClerkActionError:
        return _not_found()
    return FileResponse(
        found.path,
        media_type="application/octet-stream",
        headers={"Content-Disposition": content_disposition(found.filename)},
    )


def reparse_start(request: Request, session: Session, body: dict[str, Any]) -> Response:
    """``reparse --all`` in the background; one at a time."""
    started = start_reparse(web_state(request), session.user)
    message = "已开始重新解析全部邮件" if started else "重新解析已在进行中"
    if request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"ok": started, "message": message, **progress_dict(request)})
    return RedirectResponse("/status", status_code=303)


def reparse_progress(request: Request, session: Session) -> Response:
    return JSONResponse(progress_dict(request))

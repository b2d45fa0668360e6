"""Jinja2 (autoescape on, undefined is an error) and the page response every route uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ingest.app.web.auth import web_state
from ingest.store.users import Session

NAV = (
    ("/", "总览"),
    ("/unassigned", "待认领"),
    ("/paper", "纸质版"),
    ("/downloads", "下载"),
    ("/audit", "操作记录"),
    ("/status", "运行状态"),
)


@dataclass(frozen=True)
class CampaignLink:
    """One campaign in the header's switcher."""

    name: str
    href: str
    current: bool


def campaign_links(request: Request) -> list[CampaignLink]:
    """The switcher: a link per campaign to this page (a unit page: to 总览, as the unit
    may not be in the other roster); none with one campaign."""
    state = web_state(request)
    names = state.campaign_names
    if len(names) < 2:
        return []
    path = "/" if request.url.path.startswith("/units/") else request.url.path
    here = state.cfg.campaign.name
    return [CampaignLink(n, f"{path}?{urlencode({'campaign': n})}", n == here) for n in names]


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ingest.app.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    return env


def render_page(
    request: Request,
    template: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A full page: the template with the navigation, the user and their CSRF token."""
    html = (
        environment()
        .get_template(template)
        .render(
            nav=NAV,
            path=request.url.path,
            session=session,
            is_clerk=bool(session and session.role == "clerk"),
            campaigns=campaign_links(request) if session else [],
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)


def local_time(dt: datetime | None, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M") if dt else ""


def local_date(d: date | None) -> str:
    return d.isoformat() if d else ""


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"

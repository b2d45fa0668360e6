"""Small shared pieces of the pages: the health strip, times in the campaign timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.app.web.state import WebState
from ingest.store.health import Health, read_health


@dataclass(frozen=True)
class HealthView:
    """The health figures as the pages show them."""

    health: Health
    last_poll: str
    last_success: str
    level: str  # "ok" | "warn" | "bad" (CSS class)
    headline: str


def now(state: WebState) -> datetime:
    return datetime.now(state.cfg.campaign.timezone)


def local(state: WebState, dt: datetime | None) -> str:
    return dt.astimezone(state.cfg.campaign.timezone).strftime("%Y-%m-%d %H:%M") if dt else ""


def health_view(state: WebState, at: datetime) -> HealthView:
    with state.db() as db:
        h = read_health(
            db, state.cfg.data_dir, timedelta(minutes=state.cfg.schedule.poll_every_minutes), at
        )
    if h.last_poll is None:
        level, headline = "bad", "还没有收过信：数据为空，请管理员启动 kaohe run"
    elif not h.last_poll_ok:
        level, headline = "bad", f"最近一次收信失败：{h.last_error or '原因不明'}"
    elif h.stale:
        level, headline = "warn", "数据可能过时：已超过 3 个收信周期没有成功收信"
    else:
        level, headline = "ok", "收信正常"
    return HealthView(h, local(state, h.last_poll), local(state, h.last_success), level, headline)

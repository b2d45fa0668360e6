"""``kaohe status``: the program's health in the clerk's words, and whether it is a problem.

"A daemon should run" is the normal case: the office installs ``kaohe run`` as a
service, so by default a stale poll (none successful for 3 × ``poll_every_minutes``,
or never) is a problem even when the daemon is seen running — a running daemon
that cannot poll is exactly what status must catch, and a stopped one shows up as
stale within three intervals. ``expect_daemon=False`` (``status --no-daemon``) is
for an office that polls by hand: then only a failed last poll is a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.core.config import Config
from ingest.store import db as dbm
from ingest.store.health import STALE_FACTOR, Health, read_health


@dataclass(frozen=True)
class StatusView:
    health: Health
    reports: int  # files under data_dir/reports
    latest_report: str | None  # its name
    problem: str | None  # why ``status`` exits 1, None when all is well
    lines: list[str]


def read_status(cfg: Config, now: datetime, expect_daemon: bool = True) -> StatusView:
    """Health as of *now*, the lines ``kaohe status`` prints and its verdict."""
    every = timedelta(minutes=cfg.schedule.poll_every_minutes)
    db = dbm.open_db(cfg.db_path)
    try:
        health = read_health(db, cfg.data_dir, every, now)
    finally:
        db.close()
    reports = sorted(
        (p for p in (cfg.data_dir / "reports").rglob("*") if p.is_file()),
        key=lambda p: p.stat().st_mtime,
    )
    problem = _problem(health, expect_daemon, cfg.schedule.poll_every_minutes)
    latest = reports[-1].name if reports else None
    lines = _lines(cfg, health, now, len(reports), latest, problem)
    return StatusView(health, len(reports), latest, problem, lines)


def _problem(health: Health, expect_daemon: bool, minutes: int) -> str | None:
    if health.last_poll is not None and not health.last_poll_ok:
        return f"上次收信失败：{health.last_error or '原因未记录'}"
    if expect_daemon and health.stale:
        if health.last_success is None:
            return "从未成功收信：请检查守护进程（kaohe run）是否已启动"
        return (
            f"已超过 {STALE_FACTOR * minutes} 分钟（{STALE_FACTOR} 个收信周期）没有成功收信："
            "请检查守护进程（kaohe run）是否在运行、邮箱能否登录"
        )
    return None


def _lines(
    cfg: Config, h: Health, now: datetime, reports: int, latest: str | None, problem: str | None
) -> list[str]:
    tz = cfg.campaign.timezone

    def at(moment: datetime | None) -> str:
        if moment is None:
            return "从未"
        return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}（{_ago(now - moment)}）"

    last = "从未收信" if h.last_poll is None else at(h.last_poll)
    if h.last_poll is not None:
        last += "，成功" if h.last_poll_ok else f"，失败：{h.last_error or '原因未记录'}"
    return [
        f"状态：{'异常 —— ' + problem if problem else '正常'}",
        f"上次收信：{last}",
        f"上次成功收信：{at(h.last_success)}",
        f"守护进程（kaohe run）：{'正在运行' if h.daemon else '未运行'}",
        f"已归档邮件：{h.messages} 封",
        f"未能收取的邮件：{h.failed_items} 封"
        + ("（见报告“收信失败”部分）" if h.failed_items else ""),
        f"已生成报告：{reports} 个文件（{cfg.data_dir / 'reports'}"
        + (f"，最新：{latest}）" if latest else "）"),
        f"时区：{cfg.campaign.timezone.key}；收信周期：每 {cfg.schedule.poll_every_minutes} 分钟",
    ]


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "刚刚"
    if minutes < 60:
        return f"{minutes} 分钟前"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时前"
    return f"{minutes // 1440} 天前"

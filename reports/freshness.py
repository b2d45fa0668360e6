"""How fresh a report's data is: the lines every report opens with.

A report from a database nobody polls looks like a normal report with many
units missing; these lines say when the mailbox was last read, the last error,
and — in red in html/xlsx, marked in txt — that the figures may be out of date.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.store.health import STALE_FACTOR
from reports.model import StatusReport
from reports.summary import fmt_time


@dataclass(frozen=True)
class Freshness:
    stale: bool  # flag in red at the top
    warning: str | None  # the red line (stale or last poll failed), None when all is well
    lines: tuple[str, ...]  # last successful poll, last error, daemon


def freshness(report: StatusReport) -> Freshness:
    """The freshness of *report*; a report built without health says so."""
    h = report.health
    if h is None:
        return Freshness(False, None, ("数据更新情况：未知（此报告未读取收信记录）",))
    success = fmt_time(report, h.last_success) if h.last_success else "从未成功收信"
    lines = [f"最近一次成功收信：{success}"]
    if h.last_error:
        lines.append(f"最近一次收信出错（{fmt_time(report, h.last_poll)}）：{h.last_error}")
    lines.append("自动收信（kaohe run）：" + ("运行中" if h.daemon else "未运行"))
    return Freshness(h.stale, _warning(report), tuple(lines))


def _warning(report: StatusReport) -> str | None:
    h = report.health
    assert h is not None
    if h.last_success is None:
        return "数据可能不完整：从未成功收信，下列数字不能说明各单位的报送情况。请运行 kaohe poll 或启动 kaohe run。"
    if h.stale:
        limit = STALE_FACTOR * report.poll_every_minutes
        return (
            f"数据可能已过时：已超过 {limit} 分钟（{STALE_FACTOR} 个收信周期）没有成功收信。"
            "请检查自动收信（kaohe run）是否在运行、邮箱能否登录（kaohe status）。"
        )
    if h.last_error:
        return "最近一次收信出错，之后收到的邮件可能尚未计入；请查看 kaohe status。"
    return None

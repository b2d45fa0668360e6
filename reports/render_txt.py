"""The clerk's morning summary for the terminal (what ``kaohe report`` prints)."""

from __future__ import annotations

from reports.freshness import freshness
from reports.model import Status, StatusReport
from reports.summary import (
    STATUS_ORDER,
    annex_label,
    assign_command,
    by_annex,
    by_category,
    deadline_phrase,
    fmt_time,
    follow_up_units,
    overall,
    owed_phrases,
    paper_outstanding,
    progress_line,
)


def render_txt(report: StatusReport, cli: str = "kaohe") -> str:
    """Plain Chinese text, one section per question the clerk asks in the morning."""
    parts = [
        _head(report),
        _counts(report),
        _follow_up(report),
        _not_yet(report),
        _unparsed(report),
        _paper(report),
        _checks(report),
        _unassigned(report, cli),
        _failures(report),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _head(report: StatusReport) -> str:
    fresh = freshness(report)
    warning = [f"！！{fresh.warning}"] if fresh.warning else []
    return "\n".join(
        [
            *warning,
            f"{report.campaign} 报送情况（截至 {fmt_time(report, report.as_of)}）",
            *fresh.lines,
            deadline_phrase(report),
            "进度：" + progress_line(report),
        ]
    )


def _counts(report: StatusReport) -> str:
    t = overall(report)
    lines = ["按状态：" + "，".join(f"{s.label} {t.counts[s]}" for s in STATUS_ORDER)]
    lines.append("按类别：")
    for c in by_category(report):
        lines.append(
            f"  {c.name}：{c.done}/{c.total}（{c.percent:.0f}%），报齐单位 {c.units_done}/{c.units}"
        )
    lines.append("按附件：")
    for a in by_annex(report):
        lines.append(
            f"  {annex_label(a.annex, report.annex_names)}：{a.done}/{a.total}（{a.percent:.0f}%）"
        )
    return "\n".join(lines)


def _follow_up(report: StatusReport) -> str:
    units = follow_up_units(report)
    if not units:
        return ""
    lines = [f"需电话催报（{len(units)} 个单位）："]
    for u in units:
        contact = "，".join(x for x in (u.contact, u.phone) if x) or "无联系人信息"
        lines.append(f"  {u.unit}（{contact}）")
        lines.extend(f"    - {p}" for p in owed_phrases(u, report.annex_names))
    return "\n".join(lines)


def _not_yet(report: StatusReport) -> str:
    """Before the deadline: who has not sent something yet (one line per unit)."""
    lines = []
    for u in report.units:
        missing = sorted(a.annex for a in u.owes if a.status is Status.MISSING)
        if missing:
            lines.append(f"  {u.unit}：附件{'、'.join(map(str, missing))}")
    return "\n".join([f"尚未报送（{len(lines)} 个单位，截止前）："] + lines) if lines else ""


def _unparsed(report: StatusReport) -> str:
    lines: list[str] = []
    for u in report.units:
        for a in sorted(u.annexes.values(), key=lambda a: a.annex):
            if a.status is Status.UNPARSED:
                lines.append(
                    f"  {u.unit} {annex_label(a.annex, report.annex_names)}："
                    f"{a.reason or '原因不明'}"
                    f"（最近收到 {fmt_time(report, a.latest_received)}）"
                )
    return "\n".join([f"无法读取（{len(lines)} 份）："] + lines) if lines else ""


def _paper(report: StatusReport) -> str:
    """Units whose electronic copy arrived but whose paper copy is still owed."""
    lines = [
        f"  {u.unit}：{'、'.join(f'附件{n}' for n in owed)}"
        for u in report.units
        if (owed := paper_outstanding(u))
    ]
    if not lines:
        return ""
    return "\n".join([f"纸质版尚未收到（{len(lines)} 个单位，电子版已收到）："] + lines)


def _checks(report: StatusReport) -> str:
    lines: list[str] = []
    for u in report.units:
        for a in sorted(u.annexes.values(), key=lambda a: a.annex):
            lines.extend(f"  {u.unit} 附件{a.annex}：{c}" for c in a.checks)
    return "\n".join([f"内容需核对（{len(lines)} 处）："] + lines) if lines else ""


def _unassigned(report: StatusReport, cli: str) -> str:
    if not report.unassigned:
        return ""
    lines = [f"待认领附件（{len(report.unassigned)} 个，请确认单位后执行所示命令）："]
    for item in report.unassigned:
        name = f"{item.container} › {item.filename}" if item.container else item.filename
        lines.append(
            f"  {name}  来自 {item.sender}，{fmt_time(report, item.received)}，主题“{item.subject}”"
        )
        lines.append(f"    原因：{item.reason}")
        if len(item.unit_candidates) > 1:
            lines.append(f"    可能是：{'、'.join(item.unit_candidates)}")
        lines.append(f"    {assign_command(item, cli)}")
    return "\n".join(lines)


def _failures(report: StatusReport) -> str:
    if not report.failures:
        return ""
    lines = [f"未能处理的邮件（{len(report.failures)} 封，已重试）："]
    for f in report.failures:
        when = f"，最近一次 {fmt_time(report, f.last_attempt)}" if f.last_attempt else ""
        lines.append(f"  {f.key}：{f.error}（尝试 {f.attempts} 次{when}）")
    return "\n".join(lines)

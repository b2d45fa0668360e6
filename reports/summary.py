"""Figures and phrases derived from a :class:`StatusReport`, shared by every renderer.

Pure functions of the report data (no database): progress, counts by unit
category and by annex, the deadline phrase, "what is missing" wording, the
``kaohe assign`` command for an unassigned attachment. Keeping them here means
the txt, xlsx and html reports and the mail drafts say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from parsers.schema import DEFAULT_SCHEMAS
from reports.model import AnnexStatus, Status, StatusReport, UnassignedItem, UnitStatus

# Short names of the annexes as the clerk calls them (full titles: contract §4).
# labels of the built-in 2020 annexes (``short_title`` in parsers/annexes_2020.toml)
ANNEX_NAMES: dict[int, str] = {n: s.label for n, s in DEFAULT_SCHEMAS.items()}

STATUS_ORDER: tuple[Status, ...] = (
    Status.SUBMITTED,
    Status.LATE,
    Status.UNPARSED,
    Status.MISSING,
    Status.OVERDUE,
)

DONE: frozenset[Status] = frozenset({Status.SUBMITTED, Status.LATE})

# Fill / text colours (hex RGB) per status: the same in the xlsx and the html.
STATUS_COLOURS: dict[Status, tuple[str, str]] = {
    Status.SUBMITTED: ("C6EFCE", "006100"),
    Status.LATE: ("FFEB9C", "9C5700"),
    Status.UNPARSED: ("F8CBAD", "843C0C"),
    Status.MISSING: ("E7E6E6", "3A3838"),
    Status.OVERDUE: ("FFC7CE", "9C0006"),
}


def annex_label(annex: int | None, names: Mapping[int, str] | None = None) -> str:
    """``附件4（考核任务申报表）``; *names* are a learned campaign's (StatusReport.annex_names)."""
    if annex is None:
        return "未识别附件"
    name = (names or ANNEX_NAMES).get(annex)
    return f"附件{annex}（{name}）" if name else f"附件{annex}"


@dataclass
class Tally:
    """Counts of required (unit, annex) pairs by status for one group."""

    name: str
    counts: dict[Status, int] = field(default_factory=lambda: {s: 0 for s in STATUS_ORDER})
    units: int = 0
    units_done: int = 0
    annex: int | None = None  # set for by-annex tallies

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(self.counts[s] for s in DONE)

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0


def _add(tally: Tally, a: AnnexStatus) -> None:
    if a.required:
        tally.counts[a.status] += 1


def overall(report: StatusReport) -> Tally:
    t = Tally("合计")
    for u in report.units:
        for a in u.annexes.values():
            _add(t, a)
        t.units += 1
        t.units_done += not u.owes
    return t


def by_category(report: StatusReport) -> list[Tally]:
    """One tally per unit category, in order of first appearance in the roster."""
    out: dict[str, Tally] = {}
    for u in report.units:
        t = out.setdefault(u.category or "未分类", Tally(u.category or "未分类"))
        for a in u.annexes.values():
            _add(t, a)
        t.units += 1
        t.units_done += not u.owes
    return list(out.values())


def by_annex(report: StatusReport) -> list[Tally]:
    """One tally per annex number (required pairs only), ascending."""
    out: dict[int, Tally] = {}
    for u in report.units:
        for n, a in u.annexes.items():
            if a.required:
                t = out.setdefault(n, Tally(f"附件{n}", annex=n))
                _add(t, a)
                t.units += 1
                t.units_done += a.status in DONE
    return [out[n] for n in sorted(out)]


def annex_numbers(report: StatusReport) -> list[int]:
    """Every annex that appears for any unit, ascending."""
    return sorted({n for u in report.units for n in u.annexes})


def local(report: StatusReport, dt: datetime) -> datetime:
    """*dt* shown in the report's timezone (that of ``as_of``, the campaign's)."""
    return dt.astimezone(report.as_of.tzinfo) if report.as_of.tzinfo else dt


def fmt_time(report: StatusReport, dt: datetime | None) -> str:
    return local(report, dt).strftime("%Y-%m-%d %H:%M") if dt else ""


def fmt_date(d: date | None) -> str:
    return d.isoformat() if d else ""


def days_left(report: StatusReport) -> int:
    """Calendar days from as-of to the deadline (negative once it has passed)."""
    return (local(report, report.deadline).date() - report.as_of.date()).days


def deadline_phrase(report: StatusReport) -> str:
    when = fmt_time(report, report.deadline)
    if report.as_of > report.deadline:
        late = max(1, -days_left(report))
        return f"截止时间 {when} 已过，逾期 {late} 天"
    left = days_left(report)
    return f"今天截止（{when}）" if left == 0 else f"距截止还有 {left} 天（{when}）"


def progress_line(report: StatusReport) -> str:
    t = overall(report)
    return (
        f"应报 {t.total} 份，已收到可读 {t.done} 份（{t.percent:.0f}%）；"
        f"{t.units} 个单位中 {t.units_done} 个已报齐"
    )


# What to do about a file that could not be read, by words in its reason (mails to units).
ADVICE = (
    ("加密", "请取消文件密码后重新发送"),
    ("扫描", "请同时发送可编辑的 Word 或 Excel 电子版"),
    ("空白", "收到的是空白表格，请填写后重新发送"),
    ("模板", "收到的是空白表格，请填写后重新发送"),
)
DEFAULT_ADVICE = "请确认文件能正常打开，另存为 Word 或 Excel 格式后重新发送"


def owed_phrase(
    a: AnnexStatus, to_unit: bool = False, names: Mapping[int, str] | None = None
) -> str:
    """ "附件N（名称）：…" — the one wording of an owed annex, without final punctuation.

    For the clerk (reports) it ends in the status word; for the unit (reminders,
    receipts, *to_unit*) in a plain sentence, with advice about an unreadable file.
    *names*: the campaign's annex names (``StatusReport.annex_names``).
    """
    head = annex_label(a.annex, names)
    if a.status is Status.UNPARSED:
        reason = a.reason or "原因不明"
        advice = next((adv for word, adv in ADVICE if word in reason), DEFAULT_ADVICE)
        return f"{head}：已收到，但无法读取（{reason}）" + (f"，{advice}" if to_unit else "")
    if not to_unit:
        return f"{head}：{a.status.label}"
    return f"{head}：截止时间已过，尚未收到" if a.status is Status.OVERDUE else f"{head}：尚未收到"


def annex_note(a: AnnexStatus) -> str:
    """Reason, content checks and the stamped scan, as one cell of text (xlsx, html)."""
    parts = [a.reason] if a.reason else []
    parts.extend(a.checks)
    if a.stamped_scan:
        parts.append("附有盖章扫描件")
    return "；".join(parts)


def owed_phrases(unit: UnitStatus, names: Mapping[int, str] | None = None) -> list[str]:
    return [owed_phrase(a, names=names) for a in sorted(unit.owes, key=lambda a: a.annex)]


def paper_outstanding(unit: UnitStatus) -> list[int]:
    """Annexes received electronically whose paper copy is not recorded yet."""
    return sorted(
        a.annex
        for a in unit.annexes.values()
        if a.required and a.status in DONE and a.paper_received is None
    )


def follow_up_units(report: StatusReport) -> list[UnitStatus]:
    """Units the clerk should phone: something overdue or unreadable (roster order)."""
    return [
        u
        for u in report.units
        if any(a.status in (Status.OVERDUE, Status.UNPARSED) for a in u.owes)
    ]


def quote_arg(text: str) -> str:
    """A shell-safe argument (double quotes; the clerk copies it into a terminal)."""
    if text and all(c.isalnum() or c in "-_./" for c in text):
        return text
    return (
        '"'
        + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        + '"'
    )


def assign_command(item: UnassignedItem, cli: str = "kaohe") -> str:
    """The command that settles an unassigned attachment (placeholders in 〈〉)."""
    unit = item.suggested_unit or (
        item.unit_candidates[0] if len(item.unit_candidates) == 1 else "〈单位名称〉"
    )
    annex = next((str(n) for n in (item.suggested_annex, item.annex) if n), "〈附件号〉")
    unit_arg = quote_arg(unit) if not unit.startswith("〈") else unit
    return f"{cli} assign {item.attachment} --unit {unit_arg} --annex {annex}"

"""The status report as one self-contained html page (inline CSS and SVG, no script).

Autoescaping is on for the whole template: every value that came from mail or a
form (subjects, file names, task names in checks) is shown as text. The three long
lists (detail rows, checks, paper copies) are made in Python with the same escape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from reports.chart import progress_chart
from reports.freshness import freshness
from reports.model import AnnexStatus, Status, StatusReport, UnitStatus
from reports.summary import (
    STATUS_COLOURS,
    STATUS_ORDER,
    annex_label,
    annex_note,
    annex_numbers,
    assign_command,
    by_annex,
    by_category,
    deadline_phrase,
    fmt_date,
    fmt_time,
    follow_up_units,
    overall,
    owed_phrases,
    paper_outstanding,
)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class Cell:
    """One (unit, annex) cell of the detail table."""

    label: str
    css: str
    lines: tuple[str, ...]


def render_html(report: StatusReport, cli: str = "kaohe") -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(**_context(report, cli))


def _context(report: StatusReport, cli: str) -> dict[str, Any]:
    total = overall(report)
    annexes = by_annex(report)
    esc = _escaper()
    paper = [(u, owed) for u in report.units if (owed := paper_outstanding(u))]
    checks = [
        (u.unit, a.annex, c)
        for u in report.units
        for a in sorted(u.annexes.values(), key=lambda a: a.annex)
        for c in a.checks
    ]
    numbers = annex_numbers(report)
    return {
        "r": report,
        "as_of": fmt_time(report, report.as_of),
        "deadline": deadline_phrase(report),
        "overdue": report.as_of > report.deadline,
        "total": total,
        "statuses": STATUS_ORDER,
        "colours": {s: STATUS_COLOURS[s] for s in STATUS_ORDER},
        "chart_category": progress_chart(by_category(report), "按单位类别的报送进度"),
        "chart_annex": progress_chart(annexes, "按附件的报送进度"),
        "fresh": freshness(report),
        "paper": paper,
        "paper_rows": _paper_rows(paper, esc),
        "follow_up": [(u, owed_phrases(u, report.annex_names)) for u in follow_up_units(report)],
        "unassigned": [
            (i, assign_command(i, cli), fmt_time(report, i.received)) for i in report.unassigned
        ],
        "failures": [(f, fmt_time(report, f.last_attempt)) for f in report.failures],
        "annexes": [(n, annex_label(n, report.annex_names)) for n in numbers],
        "detail_rows": _detail_rows(report, numbers, esc),
        "checks": checks,
        "check_items": Markup(
            "".join(
                f"<li>{esc(unit)} 附件{annex}：{esc(text)}</li>" for unit, annex, text in checks
            )
        ),
    }


# The long lists (a row per unit, an item per check: ~45,000 values for a large province)
# are made here rather than by the template's loops, which took most of the page's time.
# Every value is escaped as the template escapes it.


def _escaper() -> Callable[[str], str]:
    """markupsafe's escape, once per distinct text (names, labels and times repeat)."""
    known: dict[str, str] = {}

    def esc(text: str) -> str:
        found = known.get(text)
        if found is None:
            found = known[text] = str(escape(text))
        return found

    return esc


def _detail_rows(report: StatusReport, numbers: list[int], esc: Callable[[str], str]) -> Markup:
    """The rows of the detail table: a unit, then a cell per annex."""
    out = []
    for u in report.units:
        out.append(f'<tr><td><b>{esc(u.unit)}</b><span class="sub">{esc(u.category)}</span></td>\n')
        for n in numbers:
            c = _cell(report, u.annexes.get(n))
            sub = "".join(f'<span class="sub">{esc(line)}</span>' for line in c.lines)
            out.append(f'<td><span class="badge {esc(c.css)}">{esc(c.label)}</span>{sub}</td>\n')
        out.append("</tr>\n")
    return Markup("".join(out))


def _paper_rows(paper: list[tuple[UnitStatus, list[int]]], esc: Callable[[str], str]) -> Markup:
    out = []
    for u, owed in paper:
        phone = f' <a href="tel:{esc(u.phone)}">{esc(u.phone)}</a>' if u.phone else ""
        annexes = "、".join(f"附件{n}" for n in owed)
        out.append(
            f"<tr><td>{esc(u.unit)}</td><td>{esc(u.contact)}{phone}</td><td>{annexes}</td></tr>\n"
        )
    return Markup("".join(out))


def _cell(report: StatusReport, a: AnnexStatus | None) -> Cell:
    if a is None:
        return Cell("无需报送", "none", ())
    lines = []
    if a.versions:
        lines.append(f"{a.rows} 行 · 第 {a.versions} 版 · {fmt_time(report, a.latest_received)}")
    if a.status in (Status.SUBMITTED, Status.LATE):
        lines.append(f"纸质版 {fmt_date(a.paper_received)}" if a.paper_received else "纸质版未收到")
    note = annex_note(a)
    if note:
        lines.append(note)
    label = a.status.label if a.required else f"{a.status.label}（非必报）"
    return Cell(label, a.status.value, tuple(lines))

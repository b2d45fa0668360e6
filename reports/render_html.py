"""The status report as one self-contained html page (inline CSS and SVG, no script).

Autoescaping is on for the whole template: every value that came from mail or a
form (subjects, file names, task names in checks) is shown as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.chart import progress_chart
from reports.freshness import freshness
from reports.model import AnnexStatus, Status, StatusReport
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
        "paper": [(u, paper_outstanding(u)) for u in report.units if paper_outstanding(u)],
        "follow_up": [(u, owed_phrases(u)) for u in follow_up_units(report)],
        "unassigned": [
            (i, assign_command(i, cli), fmt_time(report, i.received)) for i in report.unassigned
        ],
        "failures": [(f, fmt_time(report, f.last_attempt)) for f in report.failures],
        "annexes": [(n, annex_label(n, report.annex_names)) for n in numbers],
        "rows": [(u, [_cell(report, u.annexes.get(n)) for n in numbers]) for u in report.units],
        "checks": [
            (u.unit, a.annex, c)
            for u in report.units
            for a in sorted(u.annexes.values(), key=lambda a: a.annex)
            for c in a.checks
        ],
    }


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

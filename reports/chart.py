"""Inline SVG progress charts (no script, no network): one stacked bar per group."""

from __future__ import annotations

from markupsafe import Markup, escape

from reports.summary import STATUS_COLOURS, STATUS_ORDER, Tally

WIDTH = 420
BAR_X = 4
BAR_W = 320
ROW_H = 44
LEGEND_H = 28


def progress_chart(tallies: list[Tally], title: str) -> Markup:
    """An SVG with a stacked bar per tally (required pairs by status) and its done/total.

    Every label is escaped here; the result is safe to insert into the html as is.
    """
    height = LEGEND_H + ROW_H * len(tallies) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        _legend(),
    ]
    for i, t in enumerate(tallies):
        parts.append(_row(t, LEGEND_H + i * ROW_H))
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend() -> str:
    out = []
    x = BAR_X
    for s in STATUS_ORDER:
        bg, fg = STATUS_COLOURS[s]
        out.append(
            f'<rect x="{x}" y="6" width="14" height="14" fill="#{bg}" stroke="#{fg}" '
            f'stroke-width="0.5"/><text x="{x + 18}" y="18" font-size="13">'
            f"{escape(s.label)}</text>"
        )
        x += 18 + 13 * len(s.label) + 12
    return "".join(out)


def _row(t: Tally, y: int) -> str:
    out = [
        f'<g class="bar" data-done="{t.done}" data-total="{t.total}">',
        f'<text x="{BAR_X}" y="{y + 13}" font-size="13">{escape(t.name)}</text>',
        f'<rect x="{BAR_X}" y="{y + 18}" width="{BAR_W}" height="18" fill="#ffffff" '
        f'stroke="#bfbfbf"/>',
    ]
    x = float(BAR_X)
    for s in STATUS_ORDER:
        n = t.counts[s]
        if not n or not t.total:
            continue
        w = BAR_W * n / t.total
        bg, _ = STATUS_COLOURS[s]
        out.append(
            f'<rect x="{x:.1f}" y="{y + 18}" width="{w:.1f}" height="18" '
            f'fill="#{bg}"><title>{escape(t.name)} {escape(s.label)} {n}</title></rect>'
        )
        x += w
    out.append(
        f'<text x="{BAR_X + BAR_W + 6}" y="{y + 32}" font-size="13" '
        f'font-weight="bold">{t.done}/{t.total} {t.percent:.0f}%</text></g>'
    )
    return "".join(out)

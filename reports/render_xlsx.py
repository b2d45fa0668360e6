"""The status report as an Excel workbook: 总览, 明细, 逾期名单, 待认领, 纸质版.

Printed as well as read on screen: wrapped rows get their height written (LibreOffice
does not grow them), 明细 prints one annex per page across at a readable scale.
Written with XlsxWriter (:mod:`reports.xlsx_book`): each cell costs the same however
large the province.
"""

from __future__ import annotations

from dataclasses import replace

from reports.freshness import freshness
from reports.model import AnnexStatus, Status, StatusReport, UnitStatus
from reports.summary import (
    STATUS_COLOURS,
    STATUS_ORDER,
    Tally,
    annex_label,
    annex_note,
    annex_numbers,
    assign_command,
    by_annex,
    by_category,
    deadline_phrase,
    fmt_time,
    follow_up_units,
    local,
    overall,
    owed_phrases,
    paper_outstanding,
    progress_line,
)
from reports.xlsx_book import PLAIN, Book, Sheet, Style
from reports.xlsx_text import fit_width

__all__ = ["annex_note", "render_xlsx"]

SHEETS = ("总览", "明细", "逾期名单", "待认领", "纸质版")
STALE_FILL, STALE_FONT = "C00000", "FFFFFF"
ANNEX_COLUMNS = ("状态", "首次收到", "最近收到", "版本", "行数", "纸质版", "说明")
NOT_REQUIRED = "无需报送"
NOT_REQUIRED_FILL = "F2F2F2"


def render_xlsx(report: StatusReport, cli: str = "kaohe") -> bytes:
    """The workbook as bytes; *cli* prefixes the ``assign`` commands (e.g. ``kaohe -c C``)."""
    book = Book()
    _overview(book, report)
    _detail(book, report)
    _follow_up(book, report)
    _unassigned(book, report, cli)
    _paper(book, report)
    return book.to_bytes()


def status_fill(status: Status) -> tuple[str, str]:
    return STATUS_COLOURS[status]


# A status cell: its fill and text colour (xlsx and html alike), as written in 明细.
STATUS_STYLES = {s: Style(fill=bg, colour=fg) for s, (bg, fg) in STATUS_COLOURS.items()}


# --------------------------------------------------------------------------- 总览

TALLY_HEADER = ("单位数", "报齐单位", "应报份数", *(s.label for s in STATUS_ORDER), "完成率")
OVERVIEW_WIDTHS = [34, 9, 10, 10, 9, 10, 10, 9, 10, 9]


def _overview(book: Book, report: StatusReport) -> None:
    ws = book.sheet("总览", OVERVIEW_WIDTHS)
    fresh = freshness(report)
    top = 1
    if fresh.warning:  # red, above everything
        red = Style(bold=True, size=12, colour=STALE_FONT, fill=STALE_FILL, center=True)
        ws.merge(1, 1, 10, fresh.warning, replace(red, border=False))
        ws.set_height(1, 2 * 18)
        top = 2
    ws.text(
        top, 1, f"{report.campaign} 报送情况", Style(bold=True, size=14, border=False, wrap=False)
    )
    ws.text(top + 1, 1, f"截至 {fmt_time(report, report.as_of)}；{deadline_phrase(report)}")
    ws.text(top + 2, 1, "进度：" + progress_line(report))
    for i, line in enumerate(fresh.lines, start=top + 3):
        ws.text(i, 1, line)
    row = _tally_table(
        ws, top + 4 + len(fresh.lines), "类别", [*by_category(report), overall(report)]
    )
    annexes = by_annex(report)
    for t in annexes:
        t.name = annex_label(t.annex, report.annex_names)
    _tally_table(ws, row + 2, "附件", annexes)
    ws.print_setup()


BOLD = Style(bold=True)
PERCENT, BOLD_PERCENT = Style(number_format="0%"), Style(bold=True, number_format="0%")


def _tally_table(ws: Sheet, top: int, first: str, tallies: list[Tally]) -> int:
    ws.header_row(top, (first, *TALLY_HEADER))
    for i, s in enumerate(STATUS_ORDER):
        bg, fg = status_fill(s)
        ws.put(top, 5 + i, s.label, Style(bold=True, fill=bg, colour=fg, center=True))
    row = top
    for t in tallies:
        row += 1
        bold = t.name == "合计"
        values = [t.name, t.units, t.units_done, t.total, *(t.counts[s] for s in STATUS_ORDER)]
        ws.put_row(row, 1, values, BOLD if bold else PLAIN)
        ws.put(row, len(values) + 1, t.percent / 100, BOLD_PERCENT if bold else PERCENT)
    return row


# --------------------------------------------------------------------------- 明细

FIXED = ("序号", "单位名称", "类别")


def _detail(book: Book, report: StatusReport) -> None:
    annexes = annex_numbers(report)
    first = [5, 22, _category_width(report)]
    ws = book.sheet("明细", [*first, *(DETAIL_WIDTHS * len(annexes))], fit_from=3)
    ws.header_row(2, FIXED)
    for i, n in enumerate(annexes):
        col = len(FIXED) + 1 + i * len(ANNEX_COLUMNS)
        ws.header_row(2, ANNEX_COLUMNS, start=col)
        label = annex_label(n, report.annex_names)
        ws.merge(1, col, col + len(ANNEX_COLUMNS) - 1, label, Style(bold=True, center=True))
    for r, unit in enumerate(report.units, start=3):
        ws.put_row(r, 1, (r - 2, unit.unit, unit.category))
        for i, n in enumerate(annexes):
            _annex_cells(ws, r, len(FIXED) + 1 + i * len(ANNEX_COLUMNS), report, unit, n)
    ws.table(header_rows=2, freeze_col=len(FIXED) + 1)
    blocks = [len(FIXED) + (i + 1) * len(ANNEX_COLUMNS) for i in range(len(annexes) - 1)]
    ws.print_by_column_blocks((1, len(FIXED)), blocks, sum(first) + sum(DETAIL_WIDTHS))


DETAIL_WIDTHS = [10, 16, 16, 5, 5, 10, 20]  # one annex block: prints on one A4 page across


def _category_width(report: StatusReport) -> float:
    """类别 shown whole (垂直管理及驻区单位), never wider than needed."""
    return fit_width((u.category for u in report.units), 8, 20)


NOT_REQUIRED_STYLE = Style(fill=NOT_REQUIRED_FILL)
NONE_REQUIRED = (None,) * (len(ANNEX_COLUMNS) - 1)


def _annex_cells(
    ws: Sheet, row: int, col: int, report: StatusReport, unit: UnitStatus, annex: int
) -> None:
    a = unit.annexes.get(annex)
    if a is None:
        ws.put(row, col, NOT_REQUIRED, NOT_REQUIRED_STYLE)
        ws.put_row(row, col + 1, NONE_REQUIRED)
        return
    label = a.status.label if a.required else f"{a.status.label}（非必报）"
    ws.put(row, col, label, STATUS_STYLES[a.status])
    ws.put_row(row, col + 1, _annex_values(report, a))


def _annex_values(report: StatusReport, a: AnnexStatus) -> tuple[object, ...]:
    return (
        local(report, a.first_received) if a.first_received else None,
        local(report, a.latest_received) if a.latest_received else None,
        a.versions or None,
        a.rows if a.versions else None,
        a.paper_received or ("未收到" if a.status in (Status.SUBMITTED, Status.LATE) else None),
        annex_note(a),
    )


# --------------------------------------------------------------------------- 逾期名单


def _follow_up(book: Book, report: StatusReport) -> None:
    ws = book.sheet("逾期名单", [5, 22, _category_width(report), 9, 14, 22, 44], fit_from=2)
    ws.header_row(1, ("序号", "单位名称", "类别", "联系人", "联系电话", "邮箱", "缺报或问题"))
    for r, u in enumerate(follow_up_units(report), start=2):
        worst = (
            Status.OVERDUE if any(a.status is Status.OVERDUE for a in u.owes) else Status.UNPARSED
        )
        bg, fg = status_fill(worst)
        ws.put(r, 1, r - 1)
        ws.put(r, 2, u.unit, Style(bold=True, fill=bg, colour=fg))
        ws.put_row(
            r,
            3,
            (
                u.category,
                u.contact,
                u.phone,
                "\n".join(u.emails),
                "\n".join(owed_phrases(u, report.annex_names)),
            ),
        )
    ws.table(header_rows=1, freeze_col=3)


# --------------------------------------------------------------------------- 待认领


def _unassigned(book: Book, report: StatusReport, cli: str) -> None:
    """One row per file; 7 columns so that it prints on A4 landscape at a readable size."""
    ws = book.sheet("待认领", [5, 16, 24, 22, 8, 24, 34], fit_from=2)
    ws.header_row(1, UNASSIGNED_HEADER)
    for r, item in enumerate(report.unassigned, start=2):
        name = f"{item.container} › {item.filename}" if item.container else item.filename
        reason = item.reason
        if item.unit_candidates:
            reason += "\n可能是：" + "、".join(item.unit_candidates)
        values = (
            r - 1,
            local(report, item.received),
            f"{item.sender}\n主题：{item.subject}",
            name,
            f"附件{item.annex}" if item.annex is not None else "未识别",
            reason,
            assign_command(item, cli),
        )
        ws.put_row(r, 1, values)
    ws.table(header_rows=1, freeze_col=2)


UNASSIGNED_HEADER = ("序号", "收到时间", "发件人与主题", "文件名", "推测附件", "原因", "认领命令")


# --------------------------------------------------------------------------- 纸质版


def _paper(book: Book, report: StatusReport) -> None:
    """Units whose electronic copy arrived but whose paper copy is still owed."""
    ws = book.sheet("纸质版", [5, 22, _category_width(report), 9, 14, 44], fit_from=2)
    ws.header_row(1, ("序号", "单位名称", "类别", "联系人", "联系电话", "纸质版尚未收到"))
    owing = [(u, owed) for u in report.units if (owed := paper_outstanding(u))]
    for r, (u, owed) in enumerate(owing, start=2):
        values = (r - 1, u.unit, u.category, u.contact, u.phone, "\n".join(map(annex_label, owed)))
        ws.put_row(r, 1, values)
    ws.table(header_rows=1, freeze_col=3)

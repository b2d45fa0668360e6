"""The status report as an Excel workbook: 总览, 明细, 逾期名单, 待认领, 纸质版.

Printed as well as read on screen: wrapped rows get their height written (LibreOffice
does not grow them), 明细 prints one annex per page across at a readable scale.
"""

from __future__ import annotations

from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from reports.freshness import freshness
from reports.model import AnnexStatus, Status, StatusReport, UnitStatus
from reports.summary import (
    STATUS_COLOURS,
    STATUS_ORDER,
    Tally,
    annex_label,
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
from reports.xlsx_util import (
    CENTER,
    fill,
    fit_row_heights,
    fit_width,
    header_row,
    new_workbook,
    print_by_column_blocks,
    print_setup,
    put,
    set_widths,
    table_sheet,
    to_bytes,
)

SHEETS = ("总览", "明细", "逾期名单", "待认领", "纸质版")
STALE_FILL, STALE_FONT = "C00000", "FFFFFF"
ANNEX_COLUMNS = ("状态", "首次收到", "最近收到", "版本", "行数", "纸质版", "说明")
NOT_REQUIRED = "无需报送"
NOT_REQUIRED_FILL = "F2F2F2"


def render_xlsx(report: StatusReport, cli: str = "kaohe") -> bytes:
    """The workbook as bytes; *cli* prefixes the ``assign`` commands (e.g. ``kaohe -c C``)."""
    wb = new_workbook()
    _overview(wb.create_sheet("总览"), report)
    _detail(wb.create_sheet("明细"), report)
    _follow_up(wb.create_sheet("逾期名单"), report)
    _unassigned(wb.create_sheet("待认领"), report, cli)
    _paper(wb.create_sheet("纸质版"), report)
    return to_bytes(wb)


def status_fill(status: Status) -> tuple[str, str]:
    return STATUS_COLOURS[status]


# --------------------------------------------------------------------------- 总览

TALLY_HEADER = ("单位数", "报齐单位", "应报份数", *(s.label for s in STATUS_ORDER), "完成率")


def _overview(ws: Worksheet, report: StatusReport) -> None:
    fresh = freshness(report)
    top = 1
    if fresh.warning:  # red, above everything
        cell = ws.cell(row=1, column=1, value=fresh.warning)
        cell.font = Font(bold=True, size=12, color=STALE_FONT)
        cell.fill = fill(STALE_FILL)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=10)
        ws.row_dimensions[1].height = 2 * 18
        cell.alignment = CENTER
        top = 2
    ws.cell(row=top, column=1, value=f"{report.campaign} 报送情况").font = Font(bold=True, size=14)
    ws.cell(
        row=top + 1,
        column=1,
        value=f"截至 {fmt_time(report, report.as_of)}；{deadline_phrase(report)}",
    )
    ws.cell(row=top + 2, column=1, value="进度：" + progress_line(report))
    for i, line in enumerate(fresh.lines, start=top + 3):
        ws.cell(row=i, column=1, value=line)
    row = _tally_table(
        ws, top + 4 + len(fresh.lines), "类别", [*by_category(report), overall(report)]
    )
    annexes = by_annex(report)
    for t in annexes:
        t.name = annex_label(t.annex, report.annex_names)
    _tally_table(ws, row + 2, "附件", annexes)
    set_widths(ws, [34, 9, 10, 10, 9, 10, 10, 9, 10, 9])
    print_setup(ws)


def _tally_table(ws: Worksheet, top: int, first: str, tallies: list[Tally]) -> int:
    header_row(ws, top, (first, *TALLY_HEADER))
    for i, s in enumerate(STATUS_ORDER):
        bg, fg = status_fill(s)
        put(ws, top, 5 + i, s.label, bold=True, fill=fill(bg), colour=fg).alignment = CENTER
    row = top
    for t in tallies:
        row += 1
        bold = t.name == "合计"
        values = [t.name, t.units, t.units_done, t.total, *(t.counts[s] for s in STATUS_ORDER)]
        for col, v in enumerate(values, start=1):
            put(ws, row, col, v, bold=bold)
        pct = put(ws, row, len(values) + 1, t.percent / 100, bold=bold)
        pct.number_format = "0%"
    return row


# --------------------------------------------------------------------------- 明细


def _detail(ws: Worksheet, report: StatusReport) -> None:
    annexes = annex_numbers(report)
    fixed = ("序号", "单位名称", "类别")
    header_row(ws, 2, fixed)
    for i, n in enumerate(annexes):
        col = len(fixed) + 1 + i * len(ANNEX_COLUMNS)
        header_row(ws, 2, ANNEX_COLUMNS, start=col)
        put(ws, 1, col, annex_label(n, report.annex_names), bold=True).alignment = CENTER
        ws.merge_cells(
            start_row=1, start_column=col, end_row=1, end_column=col + len(ANNEX_COLUMNS) - 1
        )
    for r, unit in enumerate(report.units, start=3):
        for col, v in enumerate((r - 2, unit.unit, unit.category), start=1):
            put(ws, r, col, v)
        for i, n in enumerate(annexes):
            _annex_cells(ws, r, len(fixed) + 1 + i * len(ANNEX_COLUMNS), report, unit, n)
    first = [5, 22, _category_width(report)]
    set_widths(ws, [*first, *(DETAIL_WIDTHS * len(annexes))])
    table_sheet(ws, header_rows=2, freeze_col=len(fixed) + 1)
    fit_row_heights(ws, 3)
    blocks = [len(fixed) + (i + 1) * len(ANNEX_COLUMNS) for i in range(len(annexes) - 1)]
    print_by_column_blocks(ws, "A:C", blocks, sum(first) + sum(DETAIL_WIDTHS))


DETAIL_WIDTHS = [10, 16, 16, 5, 5, 10, 20]  # one annex block: prints on one A4 page across


def _category_width(report: StatusReport) -> float:
    """类别 shown whole (垂直管理及驻区单位), never wider than needed."""
    return fit_width((u.category for u in report.units), 8, 20)


def _annex_cells(
    ws: Worksheet, row: int, col: int, report: StatusReport, unit: UnitStatus, annex: int
) -> None:
    a = unit.annexes.get(annex)
    if a is None:
        put(ws, row, col, NOT_REQUIRED, fill=fill(NOT_REQUIRED_FILL))
        for k in range(1, len(ANNEX_COLUMNS)):
            put(ws, row, col + k, None)
        return
    bg, fg = status_fill(a.status)
    label = a.status.label if a.required else f"{a.status.label}（非必报）"
    put(ws, row, col, label, fill=fill(bg), colour=fg)
    values = (
        local(report, a.first_received) if a.first_received else None,
        local(report, a.latest_received) if a.latest_received else None,
        a.versions or None,
        a.rows if a.versions else None,
        a.paper_received or ("未收到" if a.status in (Status.SUBMITTED, Status.LATE) else None),
        annex_note(a),
    )
    for k, v in enumerate(values, start=1):
        put(ws, row, col + k, v)


def annex_note(a: AnnexStatus) -> str:
    """Reason, content checks and the stamped scan, as one cell of text."""
    parts = [a.reason] if a.reason else []
    parts.extend(a.checks)
    if a.stamped_scan:
        parts.append("附有盖章扫描件")
    return "；".join(parts)


# --------------------------------------------------------------------------- 逾期名单


def _follow_up(ws: Worksheet, report: StatusReport) -> None:
    header_row(ws, 1, ("序号", "单位名称", "类别", "联系人", "联系电话", "邮箱", "缺报或问题"))
    for r, u in enumerate(follow_up_units(report), start=2):
        worst = (
            Status.OVERDUE if any(a.status is Status.OVERDUE for a in u.owes) else Status.UNPARSED
        )
        bg, fg = status_fill(worst)
        values = (
            r - 1,
            u.unit,
            u.category,
            u.contact,
            u.phone,
            "\n".join(u.emails),
            "\n".join(owed_phrases(u)),
        )
        for col, v in enumerate(values, start=1):
            put(ws, r, col, v)
        ws.cell(row=r, column=2).fill = fill(bg)
        ws.cell(row=r, column=2).font = Font(color=fg, bold=True)
    set_widths(ws, [5, 22, _category_width(report), 9, 14, 22, 44])
    table_sheet(ws, header_rows=1, freeze_col=3)
    fit_row_heights(ws, 2)


# --------------------------------------------------------------------------- 待认领


def _unassigned(ws: Worksheet, report: StatusReport, cli: str) -> None:
    """One row per file; 7 columns so that it prints on A4 landscape at a readable size."""
    header_row(ws, 1, UNASSIGNED_HEADER)
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
        for col, v in enumerate(values, start=1):
            put(ws, r, col, v)
    set_widths(ws, [5, 16, 24, 22, 8, 24, 34])
    table_sheet(ws, header_rows=1, freeze_col=2)
    fit_row_heights(ws, 2)


UNASSIGNED_HEADER = ("序号", "收到时间", "发件人与主题", "文件名", "推测附件", "原因", "认领命令")


# --------------------------------------------------------------------------- 纸质版


def _paper(ws: Worksheet, report: StatusReport) -> None:
    """Units whose electronic copy arrived but whose paper copy is still owed."""
    header_row(ws, 1, ("序号", "单位名称", "类别", "联系人", "联系电话", "纸质版尚未收到"))
    owing = [(u, owed) for u in report.units if (owed := paper_outstanding(u))]
    for r, (u, owed) in enumerate(owing, start=2):
        values = (r - 1, u.unit, u.category, u.contact, u.phone, "\n".join(map(annex_label, owed)))
        for col, v in enumerate(values, start=1):
            put(ws, r, col, v)
    set_widths(ws, [5, 22, _category_width(report), 9, 14, 44])
    table_sheet(ws, header_rows=1, freeze_col=3)
    fit_row_heights(ws, 2)

"""The status report as an Excel workbook: 总览, 明细, 逾期名单, 待认领."""

from __future__ import annotations

from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

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
    progress_line,
)
from reports.xlsx_util import (
    CENTER,
    fill,
    header_row,
    new_workbook,
    print_setup,
    put,
    set_widths,
    table_sheet,
    to_bytes,
)

SHEETS = ("总览", "明细", "逾期名单", "待认领")
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
    return to_bytes(wb)


def status_fill(status: Status) -> tuple[str, str]:
    return STATUS_COLOURS[status]


# --------------------------------------------------------------------------- 总览

TALLY_HEADER = ("单位数", "报齐单位", "应报份数", *(s.label for s in STATUS_ORDER), "完成率")


def _overview(ws: Worksheet, report: StatusReport) -> None:
    ws.cell(row=1, column=1, value=f"{report.campaign} 报送情况").font = Font(bold=True, size=14)
    ws.cell(
        row=2, column=1, value=f"截至 {fmt_time(report, report.as_of)}；{deadline_phrase(report)}"
    )
    ws.cell(row=3, column=1, value="进度：" + progress_line(report))
    row = _tally_table(ws, 5, "类别", [*by_category(report), overall(report)])
    annexes = by_annex(report)
    for t in annexes:
        t.name = annex_label(t.annex)
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
        put(ws, 1, col, annex_label(n), bold=True).alignment = CENTER
        ws.merge_cells(
            start_row=1, start_column=col, end_row=1, end_column=col + len(ANNEX_COLUMNS) - 1
        )
    for r, unit in enumerate(report.units, start=3):
        for col, v in enumerate((r - 2, unit.unit, unit.category), start=1):
            put(ws, r, col, v)
        for i, n in enumerate(annexes):
            _annex_cells(ws, r, len(fixed) + 1 + i * len(ANNEX_COLUMNS), report, unit, n)
    set_widths(ws, [5, 28, 12, *([11, 16, 16, 6, 6, 11, 30] * len(annexes))])
    table_sheet(ws, header_rows=2, freeze_col=len(fixed) + 1)


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
    set_widths(ws, [5, 28, 12, 10, 15, 26, 60])
    table_sheet(ws, header_rows=1, freeze_col=3)


# --------------------------------------------------------------------------- 待认领


def _unassigned(ws: Worksheet, report: StatusReport, cli: str) -> None:
    header_row(
        ws,
        1,
        (
            "序号",
            "收到时间",
            "发件人",
            "主题",
            "文件名",
            "所在压缩包",
            "推测附件",
            "原因",
            "可能的单位",
            "认领命令",
        ),
    )
    for r, item in enumerate(report.unassigned, start=2):
        values = (
            r - 1,
            local(report, item.received),
            item.sender,
            item.subject,
            item.filename,
            item.container or "",
            f"附件{item.annex}" if item.annex is not None else "未识别",
            item.reason,
            "、".join(item.unit_candidates),
            assign_command(item, cli),
        )
        for col, v in enumerate(values, start=1):
            put(ws, r, col, v)
    set_widths(ws, [5, 16, 24, 30, 26, 18, 9, 30, 20, 60])
    table_sheet(ws, header_rows=1, freeze_col=2)

"""Consolidated tables (汇总表) per annex for the assessment committee.

One row per form row of the latest parsed version of each unit, units in roster
order: ``单位名称`` first, then the annex's canonical fields, then where the rows
came from (the file name and when it was received, as the committee reads it). The rows come from :func:`reports.status.latest_forms` (the only
reader of the database); :func:`tables_of` shapes them, :func:`export_csv`,
:func:`export_xlsx` and :func:`export_docx` render them.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import sqlite_utils

from ingest.core.config import Config
from ingest.core.fsutil import atomic_write
from ingest.match.roster import Roster, load_roster
from parsers.schema import DEFAULT_SCHEMAS, AnnexSchema
from reports.checks import as_number
from reports.formats import EXPORT_FORMATS
from reports.model import SOURCE_COLUMNS, ExportRow, ExportTable, LatestForm
from reports.status import latest_forms, read_forms, short_names
from reports.summary import annex_label
from reports.xlsx_util import (
    fit_pages_across,
    fit_row_heights,
    fit_width,
    header_row,
    new_workbook,
    put,
    set_widths,
    table_sheet,
    to_bytes,
)

__all__ = [
    "EXPORT_FORMATS",
    "SOURCE_COLUMNS",
    "ExportError",
    "ExportRow",
    "ExportTable",
    "build_export",
    "check_annex",
    "export_csv",
    "export_xlsx",
    "tables_of",
    "write_export",
]

CSV_FORMULA_START = ("=", "+", "-", "@")


class ExportError(Exception):
    """Raised when an export is asked for an annex or format that does not exist."""


def check_annex(annex: int | None, schemas: Mapping[int, AnnexSchema]) -> list[int]:
    """The annexes to export: *annex*, or every annex of the campaign when it is None."""
    if annex is not None and annex not in schemas:
        known = "、".join(map(str, schemas))
        raise ExportError(f"没有附件{annex}：只能导出附件 {known}")
    return [annex] if annex is not None else list(schemas)


def tables_of(
    forms: Mapping[int, list[LatestForm]], roster: Roster, schemas: Mapping[int, AnnexSchema]
) -> list[ExportTable]:
    """One table per annex of *forms*, units in roster order (unknown units last)."""
    order = {u.name: i for i, u in enumerate(roster.units)}
    return [_table(schemas[n], latest, order) for n, latest in forms.items()]


def build_export(
    db: sqlite_utils.Database,
    roster: Roster,
    annex: int | None,
    schemas: Mapping[int, AnnexSchema] = DEFAULT_SCHEMAS,
) -> list[ExportTable]:
    """The table of *annex*, or of every annex of the campaign, from an open database
    (the rows are read by :func:`reports.status.latest_forms`)."""
    wanted = check_annex(annex, schemas)
    return tables_of({n: latest_forms(db, n) for n in wanted}, roster, schemas)


def _table(schema: AnnexSchema, latest: list[LatestForm], order: dict[str, int]) -> ExportTable:
    rows: list[ExportRow] = []
    for form in sorted(latest, key=lambda f: (order.get(f.unit, len(order)), f.unit)):
        source = form.filename or f"（无文件名，编号 {form.attachment[:12]}）"
        for r in form.rows:
            values = tuple("" if r.get(f) is None else str(r[f]) for f in schema.field_names)
            rows.append(ExportRow(form.unit, values, source, form.received, form.version))
    label = annex_label(schema.number, short_names({schema.number: schema}))
    return ExportTable(
        schema.number, schema.title, label, schema.field_names, schema.numeric_fields, tuple(rows)
    )


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    if text.startswith(CSV_FORMULA_START) and as_number(text) is None:
        return "'" + text
    return text


def export_csv(table: ExportTable, tz: tzinfo) -> bytes:
    """UTF-8 with BOM, so Excel on a Chinese Windows opens it without mojibake."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(table.columns)
    for r in table.rows:
        when = r.received.astimezone(tz).strftime("%Y-%m-%d %H:%M") if r.received else ""
        w.writerow([_csv_safe(v) for v in (r.unit, *r.values, r.source)] + [when, r.version])
    return buf.getvalue().encode("utf-8-sig")


def export_xlsx(tables: list[ExportTable], tz: tzinfo) -> bytes:
    """One sheet per annex (sheet ``附件N``), formatted like the status report."""
    wb = new_workbook()
    for table in tables:
        ws = wb.create_sheet(f"附件{table.annex}")
        header_row(ws, 1, table.columns)
        for i, r in enumerate(table.rows, start=2):
            put(ws, i, 1, r.unit)
            for j, (field, v) in enumerate(zip(table.fields, r.values, strict=True), start=2):
                put(ws, i, j, _cell_value(field in table.numeric or field == "序号", v))
            base = len(table.fields) + 2
            put(ws, i, base, r.source)
            put(ws, i, base + 1, r.received.astimezone(tz) if r.received else None)
            put(ws, i, base + 2, r.version)
        widths = _widths(table)
        set_widths(ws, widths)
        table_sheet(ws, header_rows=1, freeze_col=2)
        fit_row_heights(ws, 2)
        fit_pages_across(ws, sum(widths))
        ws.oddHeader.center.text = f"{table.label}汇总表"
    return to_bytes(wb)


def _cell_value(numeric: bool, text: str) -> Any:
    """Plain numbers in numeric fields become numbers (so the committee can sum them)."""
    if not numeric:
        return text
    try:
        n = float(text.strip())
    except ValueError:
        return text
    return int(n) if n.is_integer() else n


def _widths(table: ExportTable) -> list[float]:
    """Wide enough for the header and the usual value (long text wraps, rows grow)."""
    from reports.export_docx import NARROW_FIELDS, WIDE_FIELDS  # python-docx: 0.2 s to import

    out = [fit_width([r.unit for r in table.rows] + ["单位名称"], 12, 26)]
    for i, field in enumerate(table.fields):
        values = [r.values[i] for r in table.rows] + [field]
        if field in NARROW_FIELDS:
            out.append(fit_width(values, 6, 10))
        else:
            out.append(30 if field in WIDE_FIELDS else fit_width(values, 10, 24))
    return [*out, fit_width([r.source for r in table.rows], 14, 30), 16, 6]


def write_export(
    cfg: Config, annex: int | None, fmt: str, output: str | None, now: datetime
) -> Path | None:
    """Build and write the export; ``output`` "-" writes to stdout (returns None).

    Without ``output`` the file goes to ``data_dir/exports/``.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"未知格式：{fmt}（可用：{'、'.join(EXPORT_FORMATS)}）")
    if fmt == "csv" and annex is None:
        raise ExportError("csv 只能导出一个附件；全部附件请用 --format xlsx（每个附件一张工作表）")
    forms = read_forms(cfg, check_annex(annex, cfg.schemas))
    tables = tables_of(forms, load_roster(cfg.paths.roster), cfg.schemas)
    tz = cfg.campaign.timezone
    if fmt == "csv":
        data = export_csv(tables[0], tz)
    elif fmt == "docx":
        from reports.export_docx import export_docx  # python-docx only when asked for

        data = export_docx(tables, tz, cfg.campaign.name, now)
    else:
        data = export_xlsx(tables, tz)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return None
    what = f"附件{annex}" if annex is not None else "全部附件"
    name = f"汇总表-{what}-{now.astimezone(tz):%Y%m%d-%H%M}.{fmt}"
    path = Path(output).expanduser() if output else cfg.data_dir / "exports" / name
    if path.is_dir():
        path = path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path

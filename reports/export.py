"""Consolidated tables (汇总表) per annex for the assessment committee.

One row per form row of the latest parsed version of each unit, units in roster
order: ``单位名称`` first, then the annex's canonical fields, then where the rows
came from (attachment id + file name, so ``kaohe inspect``/the archive can find
the original). Built as data by :func:`build_export`, written by
:func:`export_csv` / :func:`export_xlsx`.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import sqlite_utils

from ingest.core.config import Config
from ingest.core.fsutil import atomic_write
from ingest.core.vocab import Outcome
from ingest.match.roster import Roster, load_roster
from ingest.store.db import from_db, open_db
from parsers.schema import DEFAULT_SCHEMAS, AnnexSchema
from reports.checks import as_number
from reports.summary import annex_label
from reports.xlsx_util import header_row, new_workbook, put, set_widths, table_sheet, to_bytes

SOURCE_COLUMNS = ("来源附件", "收到时间", "版本")
CSV_FORMULA_START = ("=", "+", "-", "@")


class ExportError(Exception):
    """Raised when an export is asked for an annex or format that does not exist."""


@dataclass(frozen=True)
class ExportRow:
    unit: str
    values: tuple[str, ...]  # one per canonical field, in field order
    source: str  # "attachment-id filename"
    received: datetime | None
    version: int


@dataclass(frozen=True)
class ExportTable:
    annex: int
    title: str
    fields: tuple[str, ...]
    numeric: frozenset[str]
    rows: tuple[ExportRow, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return ("单位名称", *self.fields, *SOURCE_COLUMNS)


def build_export(
    db: sqlite_utils.Database,
    roster: Roster,
    annex: int | None,
    schemas: Mapping[int, AnnexSchema] = DEFAULT_SCHEMAS,
) -> list[ExportTable]:
    """The table of *annex*, or of every annex of the campaign (*schemas*) when it is None."""
    if annex is not None and annex not in schemas:
        known = "、".join(map(str, schemas))
        raise ExportError(f"没有附件{annex}：只能导出附件 {known}")
    order = {u.name: i for i, u in enumerate(roster.units)}
    wanted = [annex] if annex is not None else list(schemas)
    return [_table(db, schemas[n], order) for n in wanted]


def _latest_parsed(db: sqlite_utils.Database, annex: int) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for s in db.query(
        "select s.*, a.filename from submissions s left join attachments a "
        "on a.id = s.attachment where s.annex = ? and s.status = ? "
        "order by s.received, s.id",
        [annex, Outcome.PARSED],
    ):
        latest[s["unit"]] = s  # later receipt wins
    return latest


def _table(db: sqlite_utils.Database, schema: AnnexSchema, order: dict[str, int]) -> ExportTable:
    annex = schema.number
    latest = _latest_parsed(db, annex)
    units = sorted(latest, key=lambda u: (order.get(u, len(order)), u))
    rows: list[ExportRow] = []
    for unit in units:
        s = latest[unit]
        source = f"{s['attachment'] or ''} {s['filename'] or ''}".strip()
        for r in db.query(
            f"select * from annex{annex}_rows where submission = ? order by row_no", [s["id"]]
        ):
            values = tuple("" if r.get(f) is None else str(r[f]) for f in schema.field_names)
            rows.append(ExportRow(unit, values, source, from_db(s["received"]), s["version"] or 0))
    return ExportTable(annex, schema.title, schema.field_names, schema.numeric_fields, tuple(rows))


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
                put(ws, i, j, _cell_value(field in table.numeric, v))
            base = len(table.fields) + 2
            put(ws, i, base, r.source)
            put(ws, i, base + 1, r.received.astimezone(tz) if r.received else None)
            put(ws, i, base + 2, r.version)
        set_widths(ws, [24, *(_width(f) for f in table.fields), 30, 16, 6])
        table_sheet(ws, header_rows=1, freeze_col=2)
        ws.oddHeader.center.text = f"{annex_label(table.annex)}汇总表"
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


def _width(field: str) -> float:
    if field in ("序号", "分值"):
        return 7
    if field in (
        "目标要求",
        "主要内容",
        "评价方法",
        "评分标准",
        "考核内容",
        "扣分标准",
        "预期成效",
        "认定依据",
        "文件依据",
    ):
        return 40
    return 16


def write_export(
    cfg: Config, annex: int | None, fmt: str, output: str | None, now: datetime
) -> Path | None:
    """Build and write the export; ``output`` "-" writes to stdout (returns None).

    Without ``output`` the file goes to ``data_dir/exports/``.
    """
    if fmt not in ("csv", "xlsx"):
        raise ExportError(f"未知格式：{fmt}（可用：csv、xlsx）")
    if fmt == "csv" and annex is None:
        raise ExportError("csv 只能导出一个附件；全部附件请用 --format xlsx（每个附件一张工作表）")
    db = open_db(cfg.db_path, cfg.schemas)
    try:
        tables = build_export(db, load_roster(cfg.paths.roster), annex, cfg.schemas)
    finally:
        db.close()
    tz = cfg.campaign.timezone
    data = export_csv(tables[0], tz) if fmt == "csv" else export_xlsx(tables, tz)
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

"""单位: one unit's whole history — mails, versions, rows read, receipts, paper copies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ingest.app.web.auth import web_state
from ingest.app.web.render import render_page
from ingest.app.web.views import local, now
from ingest.store.db import from_db
from ingest.store.users import Session
from reports.status import campaign_filter
from reports.summary import annex_label, fmt_date

MAX_ROWS = 200
OUTCOMES = {
    "parsed": "已解析",
    "unparsed": "无法读取",
    "unassigned": "待认领",
    "ignored": "非申报表",
    "expanded": "压缩包",
    "dismissed": "已排除",
}


@dataclass(frozen=True)
class RowsView:
    annex: int
    label: str
    version: int
    fields: tuple[str, ...]
    rows: list[tuple[str, ...]]


def unit_page(request: Request, session: Session) -> Response:
    state = web_state(request)
    name = str(request.path_params.get("name", ""))
    unit = state.roster().get(name)
    report = state.report(now(state))
    status = next((u for u in report.units if u.unit == name), None)
    if unit is None or status is None:
        raise HTTPException(404)
    only = campaign_filter(state.cfg, "s.")  # several campaigns: this one's versions
    with state.db() as db:
        mails = _mails(db, name)
        versions = _versions(db, name, only)
        schemas = state.cfg.schemas
        rows = [
            _rows(db, name, n, schemas[n].field_names, only, report.annex_names)
            for n in sorted(status.annexes)
            if n in schemas
        ]
    for m in mails:
        m["when"] = local(state, from_db(m["received"]))
        m["receipt_when"] = local(state, from_db(m.get("receipt_at")))
    for v in versions:
        v["when"] = local(state, from_db(v["received"]))
    return render_page(
        request,
        "unit.html.j2",
        session,
        unit=unit,
        status=status,
        annexes=[
            (a, annex_label(a.annex, report.annex_names))
            for a in sorted(status.annexes.values(), key=lambda a: a.annex)
        ],
        mails=mails,
        versions=versions,
        rows=[r for r in rows if r is not None],
        outcomes=OUTCOMES,
        fmt_date=fmt_date,
        local_time=lambda dt: local(state, dt),
    )


Only = tuple[str, list[str]]  # a reports.status.campaign_filter on ``s``


def _versions(db: sqlite_utils.Database, unit: str, only: Only) -> list[dict[str, Any]]:
    """Every version of every annex of this unit, with the file it came from."""
    return list(
        db.query(
            "select s.*, a.filename from submissions s left join attachments a "
            f"on a.id = s.attachment where s.unit = ? {only[0]} order by s.annex, s.version",
            [unit, *only[1]],
        )
    )


def _mails(db: sqlite_utils.Database, unit: str) -> list[dict[str, Any]]:
    """Every mail with an attachment counted for, or identified as, this unit."""
    mails = list(
        db.query(
            "select m.id, m.sender, m.sender_name, m.subject, m.received, "
            "r.sent_at as receipt_at, r.status as receipt_status from messages m "
            "left join receipts r on r.message = m.id where m.id in ("
            " select message from attachments where unit = ?"
            " union select message from submissions where unit = ?"
            " union select message from assignments where unit = ?) order by m.received",
            [unit, unit, unit],
        )
    )
    for m in mails:
        m["attachments"] = list(
            db.query(
                "select id, filename, container, size, type, annex, unit, rows, outcome, reason "
                "from attachments where message = ? order by part",
                [m["id"]],
            )
        )
    return mails


def _rows(
    db: sqlite_utils.Database,
    unit: str,
    annex: int,
    fields: tuple[str, ...],
    only: Only,
    names: Mapping[int, str],
) -> RowsView | None:
    """The rows of the latest version that parsed (what the 汇总表 takes)."""
    best = list(
        db.query(
            "select id, version from submissions s where unit = ? and annex = ? "
            f"and status = 'parsed' {only[0]} order by received desc, id desc limit 1",
            [unit, annex, *only[1]],
        )
    )
    if not best:
        return None
    rows = [
        tuple("" if r.get(f) is None else str(r[f]) for f in fields)
        for r in db.query(
            f"select * from annex{annex}_rows where submission = ? order by row_no limit ?",
            [best[0]["id"], MAX_ROWS],
        )
    ]
    return RowsView(annex, annex_label(annex, names), best[0]["version"] or 0, fields, rows)

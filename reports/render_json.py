"""``report --format json``: exactly the shape of contract §7."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from reports.freshness import freshness
from reports.model import AnnexStatus, StatusReport


def report_dict(report: StatusReport, tz: ZoneInfo) -> dict[str, Any]:
    def t(dt: datetime | None) -> str | None:
        return dt.astimezone(tz).isoformat(timespec="seconds") if dt else None

    def annex(a: AnnexStatus) -> dict[str, Any]:
        return {
            "required": a.required,
            "status": a.status.value,
            "first_received": t(a.first_received),
            "latest_received": t(a.latest_received),
            "versions": a.versions,
            "rows": a.rows,
            "reason": a.reason,
        }

    return {
        "campaign": report.campaign,
        "as_of": t(report.as_of),
        "deadline": t(report.deadline),
        "units": [
            {
                "unit": u.unit,
                "category": u.category,
                "annexes": {str(n): annex(a) for n, a in sorted(u.annexes.items())},
            }
            for u in report.units
        ],
        "unassigned": [
            {
                "attachment": x.attachment,
                "filename": x.filename,
                "from": x.sender,
                "subject": x.subject,
                "received": t(x.received),
                "annex": x.annex,
                "reason": x.reason,
            }
            for x in report.unassigned
        ],
        "health": health_dict(report, t),
    }


def health_dict(report: StatusReport, t: Callable[[datetime | None], str | None]) -> dict[str, Any]:
    """Freshness beside the contract §7 keys: last (successful) poll, last error, stale."""
    h = report.health
    if h is None:
        return {"known": False}
    return {
        "known": True,
        "last_poll": t(h.last_poll),
        "last_poll_ok": h.last_poll_ok,
        "last_success": t(h.last_success),
        "last_error": h.last_error,
        "daemon": h.daemon,
        "stale": h.stale,
        "warning": freshness(report).warning,
    }


def render_json(report: StatusReport, tz: ZoneInfo) -> str:
    return json.dumps(report_dict(report, tz), ensure_ascii=False, indent=2) + "\n"

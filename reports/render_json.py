"""``report --format json``: exactly the shape of contract §7."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
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
    return dumps_indented(report_dict(report, tz)) + "\n"


def dumps_indented(obj: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, indent=2)``, character for character, for
    the plain data of :func:`report_dict` (str keys; str, int, float, bool, None, dict,
    list); anything else goes to :func:`json.dumps` itself.

    With an indent, :mod:`json` encodes in Python, one generator step per token
    (~0.3 s for 5,000 units); here each container is one loop and each string one call
    to json's own C string encoder.
    """
    parts: list[str] = []
    try:
        _put(obj, "\n", parts)
    except _Unusual:
        return json.dumps(obj, ensure_ascii=False, indent=2)
    return "".join(parts)


class _Unusual(Exception):
    """A value :func:`dumps_indented` leaves to :func:`json.dumps`."""


def _float(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):
        raise _Unusual
    return float.__repr__(value)


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _float,
    bool: lambda b: "true" if b else "false",
    type(None): lambda _: "null",
}


def _put(obj: Any, newline: str, parts: list[str]) -> None:
    """Append *obj* encoded; *newline*: a line break and the indent of *obj*'s line."""
    scalar = _SCALARS.get(type(obj))
    if scalar is not None:
        parts.append(scalar(obj))
        return
    inner = newline + "  "
    if type(obj) is dict:
        if not obj:
            parts.append("{}")
            return
        sep = "{" + inner
        for key, value in obj.items():
            if type(key) is not str:
                raise _Unusual
            scalar = _SCALARS.get(type(value))
            if scalar is not None:
                parts.append(f"{sep}{encode_basestring(key)}: {scalar(value)}")
            else:
                parts.append(f"{sep}{encode_basestring(key)}: ")
                _put(value, inner, parts)
            sep = "," + inner
        parts.append(newline + "}")
    elif type(obj) is list:
        if not obj:
            parts.append("[]")
            return
        sep = "[" + inner
        for value in obj:
            parts.append(sep)
            _put(value, inner, parts)
            sep = "," + inner
        parts.append(newline + "]")
    else:
        raise _Unusual

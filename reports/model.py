"""The status report as plain data: built once by :mod:`reports.status`, then rendered.

Renderers (json, txt, xlsx, html) and the mail drafts (reminders, receipts)
only read these objects; they never query the database. The consolidated tables
(汇总表) likewise: :class:`LatestForm` as read, :class:`ExportTable` as shaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from ingest.core.vocab import Status
from ingest.store.health import Health

__all__ = [
    "AnnexStatus",
    "SOURCE_COLUMNS",
    "ExportRow",
    "ExportTable",
    "FailedItem",
    "LatestForm",
    "Status",
    "StatusReport",
    "UnassignedItem",
    "UnitStatus",
]


@dataclass(frozen=True)
class AnnexStatus:
    annex: int
    required: bool
    status: Status
    first_received: datetime | None = None
    latest_received: datetime | None = None
    versions: int = 0
    rows: int = 0
    reason: str | None = None
    latest_attachment: str | None = None  # attachment id whose rows count
    paper_received: date | None = None  # paper copy recorded by `kaohe paper`
    stamped_scan: bool = False  # a PDF/image of the form was received
    checks: tuple[str, ...] = ()  # content problems for the clerk (empty names, bad 分值 …)


@dataclass(frozen=True)
class UnitStatus:
    unit: str
    category: str
    annexes: dict[int, AnnexStatus]
    contact: str = ""
    phone: str = ""
    emails: tuple[str, ...] = ()

    @cached_property
    def owes(self) -> list[AnnexStatus]:
        """Required annexes not yet submitted in readable form (worked out once: every
        renderer asks for each unit several times; treat it as read-only)."""
        return [
            a
            for a in self.annexes.values()
            if a.required and a.status in (Status.MISSING, Status.OVERDUE, Status.UNPARSED)
        ]


@dataclass(frozen=True)
class UnassignedItem:
    attachment: str
    filename: str
    sender: str
    subject: str
    received: datetime
    annex: int | None
    reason: str
    container: str | None = None
    message: str = ""  # message sha256
    unit_candidates: tuple[str, ...] = ()  # roster units that fit (ambiguous identification)
    suggested_unit: str | None = None  # the one unit the evidence points to (clerk confirms)
    suggested_annex: int | None = None  # the annex recognised, or the suggested unit's only one


@dataclass(frozen=True)
class FailedItem:
    """A mail the poller could not fetch or process (after retries)."""

    key: str
    attempts: int
    error: str
    last_attempt: datetime | None = None


@dataclass(frozen=True)
class StatusReport:
    campaign: str
    as_of: datetime
    deadline: datetime
    units: list[UnitStatus]
    unassigned: list[UnassignedItem] = field(default_factory=list)
    failures: list[FailedItem] = field(default_factory=list)
    health: Health | None = None  # freshness of the data (last poll, last error, stale)
    poll_every_minutes: int = 10  # the configured interval, for the freshness wording
    # short annex names of a campaign that is not the built-in 2020 one (annexes.toml titles)
    annex_names: dict[int, str] = field(default_factory=dict)

    def count(self, status: Status, required_only: bool = True) -> int:
        return sum(
            1
            for u in self.units
            for a in u.annexes.values()
            if a.status is status and (a.required or not required_only)
        )


@dataclass(frozen=True)
class LatestForm:
    """The version of one unit's form that counts (latest parsed), with its rows.

    Read by :func:`reports.status.latest_forms` for the consolidated tables (汇总表).
    """

    unit: str
    attachment: str
    filename: str
    received: datetime | None
    version: int
    rows: tuple[dict[str, Any], ...]


SOURCE_COLUMNS = ("来源附件", "收到时间", "版本")


@dataclass(frozen=True)
class ExportRow:
    unit: str
    values: tuple[str, ...]  # one per canonical field, in field order
    source: str  # the file name the rows came from (received time and version beside it)
    received: datetime | None
    version: int


@dataclass(frozen=True)
class ExportTable:
    annex: int
    title: str
    label: str  # "附件N（名称）", the campaign's name of the annex
    fields: tuple[str, ...]
    numeric: frozenset[str]
    rows: tuple[ExportRow, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return ("单位名称", *self.fields, *SOURCE_COLUMNS)

"""Build the status report as data: one query pass, then plain objects.

This is the only module under ``reports/`` that reads the database; renderers
and mail drafts take the :class:`~reports.model.StatusReport` it returns, the
content checks and the consolidated tables (汇总表) the rows it reads
(:func:`latest_forms`).
Statuses follow contract §6: only mail received at or before ``as_of`` counts,
timeliness comes from the earliest receipt, rows from the latest version
that parsed.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any

import sqlite_utils

from ingest.core.config import Config
from ingest.core.vocab import Outcome, SourceItemState
from ingest.match.resolve import suggest_unit
from ingest.match.roster import Roster, Unit
from ingest.store.db import from_db, open_db, to_db
from ingest.store.health import read_health
from parsers.schema import DEFAULT_SCHEMAS, AnnexSchema
from parsers.template_check import is_template_note
from reports import forked
from reports.checks import Form, cell_text, check_form
from reports.model import (
    AnnexStatus,
    FailedItem,
    LatestForm,
    Status,
    StatusReport,
    UnassignedItem,
    UnitStatus,
)


def build_status(
    db: sqlite_utils.Database,
    roster: Roster,
    cfg: Config,
    as_of: datetime,
    now: datetime | None = None,
) -> StatusReport:
    """The report as of *as_of* (aware); its freshness (:class:`Health`) as of *now*
    (the real clock by default: a report for an earlier moment is still made now)."""
    cutoff = to_db(as_of)
    subs: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    only = campaign_filter(cfg)
    for s in _dicts(
        db.execute(
            f"select * from submissions where received <= ? {only[0]} order by received, id",
            [cutoff, *only[1]],
        )
    ):
        subs[(s["unit"], s["annex"])].append(s)
    paper = {(p["unit"], p["annex"]): p["received_on"] for p in db.query("select * from paper")}
    names = {u.name for u in roster.units}
    checks = all_checks(db, cfg, {k: v for k, v in subs.items() if k[0] in names})
    units = [_unit_status(u, subs, paper, checks, cfg, as_of) for u in roster.units]
    every = timedelta(minutes=cfg.schedule.poll_every_minutes)
    return StatusReport(
        campaign=cfg.campaign.name,
        as_of=as_of,
        deadline=cfg.campaign.deadline,
        units=units,
        unassigned=_unassigned(db, cutoff, roster),
        failures=_failures(db, cutoff),
        health=read_health(db, cfg.data_dir, every, now or datetime.now(UTC)),
        poll_every_minutes=cfg.schedule.poll_every_minutes,
        annex_names=short_names(cfg.schemas),
    )


def short_names(schemas: Mapping[int, AnnexSchema]) -> dict[int, str]:
    """Short annex names for labels (``AnnexSchema.label``), when the campaign is not the
    built-in 2020 one (whose labels are :data:`reports.summary.ANNEX_NAMES`)."""
    if all(
        DEFAULT_SCHEMAS.get(n) and DEFAULT_SCHEMAS[n].title == s.title for n, s in schemas.items()
    ):
        return {}
    return {n: s.label for n, s in schemas.items()}


def _unit_status(
    unit: Unit,
    subs: dict[tuple[str, int], list[dict[str, Any]]],
    paper: dict[tuple[str, int], str],
    checks: dict[tuple[str, int], tuple[str, ...]],
    cfg: Config,
    as_of: datetime,
) -> UnitStatus:
    sent = {annex for annex in cfg.schemas if (unit.name, annex) in subs}
    annexes = {}
    for annex in sorted(unit.required | sent):
        annexes[annex] = _annex_status(
            annex,
            annex in unit.required,
            subs.get((unit.name, annex), []),
            paper.get((unit.name, annex)),
            cfg,
            as_of,
            checks.get((unit.name, annex), ()),
        )
    return UnitStatus(
        unit=unit.name,
        category=unit.category,
        annexes=annexes,
        contact=unit.contact,
        phone=unit.phone,
        emails=unit.emails,
    )


def _annex_status(
    annex: int,
    required: bool,
    received: list[dict[str, Any]],
    paper_on: str | None,
    cfg: Config,
    as_of: datetime,
    checks: tuple[str, ...],
) -> AnnexStatus:
    paper_date = date.fromisoformat(paper_on) if paper_on else None
    if paper_date is not None and paper_date > as_of.astimezone(cfg.campaign.timezone).date():
        paper_date = None
    if not received:
        status = Status.MISSING if as_of <= cfg.campaign.deadline else Status.OVERDUE
        return AnnexStatus(annex, required, status, paper_received=paper_date)
    first, latest = from_db(received[0]["received"]), from_db(received[-1]["received"])
    parsed = [s for s in received if s["status"] == Outcome.PARSED]
    scan = any(s["scan"] for s in received)
    if not parsed:
        return AnnexStatus(
            annex,
            required,
            Status.UNPARSED,
            first,
            latest,
            len(received),
            0,
            received[-1]["reason"] or "未读出数据行",
            paper_received=paper_date,
            stamped_scan=scan,
        )
    assert first is not None
    best = parsed[-1]
    status = Status.SUBMITTED if first <= cfg.campaign.deadline else Status.LATE
    return AnnexStatus(
        annex,
        required,
        status,
        first,
        latest,
        len(received),
        best["rows"],
        None,
        latest_attachment=best["attachment"],
        paper_received=paper_date,
        stamped_scan=scan,
        checks=checks,
    )


Sub = dict[str, Any]


def _previous(best: Sub, received: list[Sub]) -> Sub | None:
    """The parsed version received before *best* (the one that counts), if any."""
    earlier = [
        s
        for s in received
        if s["status"] == Outcome.PARSED
        and s["id"] != best["id"]
        and (s["received"], s["id"]) < (best["received"], best["id"])
    ]
    return earlier[-1] if earlier else None


def content_checks(
    db: sqlite_utils.Database,
    cfg: Config,
    annex: int,
    best: dict[str, Any],
    received: list[dict[str, Any]],
) -> tuple[str, ...]:
    """Content checks of *best* (the version that counts), against the parsed one before."""
    schema = cfg.schemas.get(annex)
    if schema is None:
        return ()
    previous = _previous(best, received)
    ids = [best["id"], *([previous["id"]] if previous else [])]
    forms = read_forms_text(db, annex, schema, ids)
    notes = read_template_notes(db, [best.get("attachment")])
    return _checks_of(schema, best, previous, forms, notes)


def all_checks(
    db: sqlite_utils.Database, cfg: Config, subs: Mapping[tuple[str, int], list[Sub]]
) -> dict[tuple[str, int], tuple[str, ...]]:
    """:func:`content_checks` of every (unit, annex) in *subs* with a parsed version:
    the rows of all counted versions in one query per annex, notes in one more.

    Many of them (a large province: ~140,000 rows to read and check) are done in two
    halves at once, the second by a forked child with its own connection
    (:mod:`reports.forked`), when the database is a file and this process may fork.
    """
    counted: dict[tuple[str, int], tuple[Sub, Sub | None]] = {}
    for key, received in subs.items():
        parsed = [s for s in received if s["status"] == Outcome.PARSED]
        if key[1] not in cfg.schemas or not parsed:
            continue
        best = parsed[-1]
        counted[key] = (best, _previous(best, received))
    path = _file_of(db) if len(counted) >= FORK_CHECKS_FROM else None
    if not path:
        return _checks(db, cfg, counted)
    keys = list(counted)
    half = len(keys) // 2
    theirs = {k: counted[k] for k in keys[half:]}
    child = forked.start(lambda: _checks(_connect(path), cfg, theirs))
    out = _checks(db, cfg, {k: counted[k] for k in keys[:half]})
    done, found = forked.result(child) if child else (False, {})
    out.update(found if done else _checks(db, cfg, theirs))
    return out


FORK_CHECKS_FROM = 2000  # (unit, annex) pairs: below this a child would not pay for itself


def _checks(
    db: sqlite_utils.Database,
    cfg: Config,
    counted: Mapping[tuple[str, int], tuple[Sub, Sub | None]],
) -> dict[tuple[str, int], tuple[str, ...]]:
    wanted: dict[int, list[str]] = defaultdict(list)
    for (_, annex), (best, previous) in counted.items():
        wanted[annex] += [best["id"], *([previous["id"]] if previous else [])]
    forms = {n: read_forms_text(db, n, cfg.schemas[n], ids) for n, ids in wanted.items()}
    notes = read_template_notes(db, [best.get("attachment") for best, _ in counted.values()])
    return {
        key: _checks_of(cfg.schemas[key[1]], best, previous, forms[key[1]], notes)
        for key, (best, previous) in counted.items()
    }


def _file_of(db: sqlite_utils.Database) -> str:
    """The file of *db*'s main database ("" in memory)."""
    return next((r[2] or "" for r in db.execute("pragma database_list") if r[1] == "main"), "")


def _connect(path: str) -> sqlite_utils.Database:
    """A connection of the child's own (one must not be used across a fork), for reading."""
    conn = sqlite3.connect(path, timeout=30)
    return sqlite_utils.Database(conn, execute_plugins=False)


def _checks_of(
    schema: AnnexSchema,
    best: Sub,
    previous: Sub | None,
    forms: Mapping[str, Form],
    notes: Mapping[str, list[str]],
) -> tuple[str, ...]:
    found = notes.get(best.get("attachment") or "", [])
    latest = forms.get(best["id"], EMPTY_FORM)
    if previous is None:
        return (*found, *check_form(schema, latest))
    before = forms.get(previous["id"], EMPTY_FORM)
    return (*found, *check_form(schema, latest, before, previous.get("version")))


EMPTY_FORM = Form([], [])


def read_forms_text(
    db: sqlite_utils.Database, annex: int, schema: AnnexSchema, submissions: Sequence[str]
) -> dict[str, Form]:
    """The rows of several submissions as the content checks read them (one query):
    each value as :func:`~reports.checks.cell_text`, in form order, by submission id.

    A 5,000-unit report reads ~140,000 rows: the TEXT columns (text or NULL only: the
    affinity makes numbers text, the pipeline writes no bytes) come joined into one
    string per row and are split here, one Python object per row instead of one per
    value. The other columns (NUMERIC: 5, 2.5, "按实际") come apart, as
    :func:`_read_forms_exact` reads them. A value holding the separator: all read again
    that way.
    """
    fields = schema.field_names
    text = _text_columns(db, f"annex{annex}_rows")
    joined = [i for i, f in enumerate(fields) if f in text]
    apart = [i for i, f in enumerate(fields) if f not in text]
    if not joined:
        return _read_forms_exact(db, annex, schema, submissions)
    fetched = [*joined, *apart]  # the schema position of each value as fetched
    order = [fetched.index(i) for i in range(len(fields))]
    pick = None if order == sorted(order) else itemgetter(*order)
    cols = " || char(31) || ".join(f"coalesce({_quoted(fields[i])}, '')" for i in joined)
    cols += "".join(f", {_as_text(_quoted(fields[i]))}" for i in apart)
    cursor = db.execute(
        f"select submission, row_no, {cols} from annex{annex}_rows "
        "where submission in (select value from json_each(?))",
        [json.dumps(list(submissions))],
    )
    out: dict[str, Form] = {}
    strip, n_joined = str.strip, len(joined)
    for r in cursor:
        form = out.get(r[0])
        if form is None:
            form = out[r[0]] = Form([], [])
        form.numbers.append(r[1])
        values = r[2].split(SEPARATOR)
        if len(values) != n_joined:  # the separator inside a value
            return _read_forms_exact(db, annex, schema, submissions)
        if apart:
            values += r[3:]
        if pick is not None:
            values = pick(values)
        try:
            form.texts.append(tuple(map(strip, values)))
        except TypeError:  # a real or a blob
            form.texts.append(tuple(map(cell_text, values)))
    for form in out.values():  # in form order (rows come in the order they were stored)
        numbers, texts = form.numbers, form.texts
        if numbers != sorted(numbers):
            ranked = sorted(range(len(numbers)), key=numbers.__getitem__)
            numbers[:], texts[:] = [numbers[i] for i in ranked], [texts[i] for i in ranked]
    return out


SEPARATOR = "\x1f"  # ASCII unit separator: never typed into a form


def _text_columns(db: sqlite_utils.Database, table: str) -> frozenset[str]:
    """The columns of *table* declared TEXT."""
    info = db.execute(f"pragma table_info({_quoted(table)})").fetchall()
    return frozenset(r[1] for r in info if str(r[2]).upper() == "TEXT")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_text(col: str) -> str:
    """SQL: NULL as "", an integer as its digits (exactly as ``str``); reals and blobs
    come back as they are."""
    return f"case typeof({col}) when 'null' then '' when 'integer' then cast({col} as text) else {col} end"


def _read_forms_exact(
    db: sqlite_utils.Database, annex: int, schema: AnnexSchema, submissions: Sequence[str]
) -> dict[str, Form]:
    """:func:`read_forms_text` one value at a time (SQLite makes integers and NULL text,
    exactly as ``str`` would; reals and blobs come back as they are and are made text here)."""
    cols = ", ".join(_as_text(_quoted(f)) for f in schema.field_names)
    cursor = db.execute(
        f"select submission, row_no, {cols} from annex{annex}_rows "
        "where submission in (select value from json_each(?)) order by submission, row_no",
        [json.dumps(list(submissions))],
    )
    out: dict[str, Form] = {}
    strip = str.strip
    for r in cursor:
        form = out.get(r[0])
        if form is None:
            form = out[r[0]] = Form([], [])
        form.numbers.append(r[1])
        try:
            form.texts.append(tuple(map(strip, r[2:])))
        except TypeError:  # a real or a blob
            form.texts.append(tuple(map(cell_text, r[2:])))
    return out


def template_notes(db: sqlite_utils.Database, attachment: str | None) -> list[str]:
    """How the form differs from this campaign's template (``使用了旧模板：…``), noted
    when it was parsed (:mod:`parsers.template_check`)."""
    return read_template_notes(db, [attachment]).get(attachment or "", [])


def read_template_notes(
    db: sqlite_utils.Database, attachments: Sequence[str | None]
) -> dict[str, list[str]]:
    """:func:`template_notes` of several attachments (one query), by attachment id."""
    ids = [a for a in attachments if a]
    found = db.execute(
        "select id, warnings from attachments where id in (select value from json_each(?)) "
        "and warnings is not null and warnings != ''",
        [json.dumps(ids)],
    )
    out = {}
    for attachment, warnings in found:
        notes = [w for w in warnings.splitlines() if is_template_note(w)]
        if notes:
            out[attachment] = notes
    return out


def annex_rows(db: sqlite_utils.Database, annex: int, submission: str) -> list[dict[str, Any]]:
    """The rows of one submission, in form order."""
    return read_rows(db, annex, [submission]).get(submission, [])


def read_rows(
    db: sqlite_utils.Database, annex: int, submissions: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The rows of several submissions (one query), each in form order, by submission id."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _dicts(
        db.execute(
            f"select * from annex{annex}_rows "
            "where submission in (select value from json_each(?)) order by submission, row_no",
            [json.dumps(list(submissions))],
        )
    ):
        out[r["submission"]].append(r)
    return out


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    """Rows as dicts (what ``db.query`` yields, without its per-row generator)."""
    cols = [d[0] for d in cursor.description]
    return (dict(zip(cols, r, strict=True)) for r in cursor)


def _unassigned(db: sqlite_utils.Database, cutoff: str, roster: Roster) -> list[UnassignedItem]:
    rows = db.query(
        "select a.*, m.sender, m.sender_name, m.subject, m.received from attachments a "
        "join messages m on m.id = a.message where a.outcome = ? and m.received <= ? "
        "order by m.received, a.part",
        [Outcome.UNASSIGNED, cutoff],
    )
    return [
        UnassignedItem(
            attachment=r["id"],
            filename=r["filename"] or "",
            sender=r["sender"] or "",
            subject=r["subject"] or "",
            received=from_db(r["received"]),  # type: ignore[arg-type]
            annex=r["annex"],
            reason=r["reason"] or "",
            container=r["container"],
            message=r["message"],
            unit_candidates=tuple(u.name for u in _candidates(r["reason"] or "", roster)),
            **_suggestion(r, roster),
        )
        for r in rows
    ]


def _suggestion(r: dict[str, Any], roster: Roster) -> dict[str, Any]:
    """The unit and annex to pre-fill in the 认领 command, where evidence points to one."""
    named = re.search(r"表内填报单位“([^”]+)”不在单位名单中", r["reason"] or "")
    candidates = _candidates(r["reason"] or "", roster)
    unit = (
        (candidates[0] if len(candidates) == 1 else None)
        if candidates
        else suggest_unit(
            roster,
            named.group(1).rstrip("…") if named else "",
            r["filename"] or "",
            r["container"] or "",
            r["subject"] or "",
            r["sender_name"] or "",
        )
    )
    annex = r["annex"] or (next(iter(unit.required)) if unit and len(unit.required) == 1 else None)
    return {"suggested_unit": unit.name if unit else None, "suggested_annex": annex}


def _candidates(reason: str, roster: Roster) -> list[Unit]:
    if "多个单位" not in reason:
        return []
    return roster.find_in_text(reason.split("：", 1)[-1])


def _failures(db: sqlite_utils.Database, cutoff: str) -> list[FailedItem]:
    out = [
        FailedItem(
            key=r["key"],
            attempts=r["attempts"] or 0,
            error=r["reason"] or "",
            last_attempt=from_db(r["updated_at"]),
        )
        for r in db.query(
            "select * from source_items where status in (?, ?) and received <= ? order by received",
            [SourceItemState.FAILED, SourceItemState.SKIPPED, cutoff],
        )
    ]
    out += [
        FailedItem(
            key=f"message:{r['id'][:12]}",
            attempts=1,
            error=r["error"],
            last_attempt=from_db(r["processed_at"]),
        )
        for r in db.query(
            "select * from messages where error is not null "
            "and error like '分析失败%' and received <= ?",
            [cutoff],
        )
    ]
    return out


def campaign_filter(cfg: Config, alias: str = "") -> tuple[str, list[str]]:
    """SQL (``and campaign = ?``) keeping the selected campaign's submissions when
    several share the database; nothing with one campaign."""
    if len(cfg.campaigns) < 2:
        return "", []
    return f"and {alias}campaign = ?", [cfg.campaign.name]


def latest_forms(
    db: sqlite_utils.Database, annex: int, only: tuple[str, list[str]] = ("", [])
) -> list[LatestForm]:
    """Per unit, the latest parsed version of *annex* with its rows (all mail so far);
    *only* is a :func:`campaign_filter` on ``s``."""
    latest: dict[str, dict[str, Any]] = {}
    for s in db.query(
        "select s.*, a.filename from submissions s left join attachments a "
        f"on a.id = s.attachment where s.annex = ? and s.status = ? {only[0]} "
        "order by s.received, s.id",
        [annex, Outcome.PARSED, *only[1]],
    ):
        latest[s["unit"]] = s  # later receipt wins
    rows = read_rows(db, annex, [s["id"] for s in latest.values()])
    return [
        LatestForm(
            unit=unit,
            attachment=s["attachment"] or "",
            filename=s["filename"] or "",
            received=from_db(s["received"]),
            version=s["version"] or 0,
            rows=tuple(rows.get(s["id"], [])),
        )
        for unit, s in latest.items()
    ]


def read_forms(cfg: Config, annexes: Sequence[int]) -> dict[int, list[LatestForm]]:
    """:func:`latest_forms` of each of *annexes*, from the campaign's database."""
    db = open_db(cfg.db_path, cfg.schemas)
    try:
        return {n: latest_forms(db, n, campaign_filter(cfg, "s.")) for n in annexes}
    finally:
        db.close()

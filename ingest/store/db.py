"""The SQLite database: schema, and every read/write the pipeline needs.

WAL mode and a busy timeout let the clerk's ``report``/``assign``/``export``
run while the daemon polls. Each message is written in one short
``BEGIN IMMEDIATE`` transaction (:func:`transaction`), so half a message never
lands and a crash at any moment leaves the database consistent.

Times are stored as ISO 8601 text in UTC so that they sort and compare as text.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.core.vocab import SourceItemState
from ingest.store.handle import Db, PlainDb, table_columns
from ingest.store.views import ensure_views, record_campaign
from parsers.schema import DEFAULT_SCHEMAS, AnnexSchema

if TYPE_CHECKING:
    import sqlite_utils

    from ingest.core.config import CampaignConfig

# Canonical fields per annex, in form order (contract §4): one rows table per annex.
# A campaign with other annexes or columns (annexes.toml) adds its own: ensure_annex_tables.
ANNEX_FIELDS: dict[int, tuple[str, ...]] = {
    n: tuple(f.name for f in schema.fields) for n, schema in DEFAULT_SCHEMAS.items()
}
NUMERIC_FIELDS: dict[int, frozenset[str]] = {
    n: frozenset(f.name for f in schema.fields if f.numeric)
    for n, schema in DEFAULT_SCHEMAS.items()
}


def to_db(dt: datetime) -> str:
    """An aware datetime as sortable UTC text."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_db(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def now_db() -> str:
    return to_db(datetime.now(UTC))


BUSY_TIMEOUT_ENV = "KAOHE_BUSY_TIMEOUT_SECONDS"  # how long a write waits for another's lock


def busy_timeout() -> float:
    """Seconds to wait for a lock another process holds (30; the environment may shorten it)."""
    try:
        return max(0.0, float(os.environ.get(BUSY_TIMEOUT_ENV, "30")))
    except ValueError:
        return 30.0


def open_db(
    path: Path,
    schemas: Mapping[int, AnnexSchema] | None = None,
    campaign: CampaignConfig | None = None,
) -> sqlite_utils.Database:
    """Open (creating if needed) the database at *path* with WAL and a busy timeout;
    *schemas* (a campaign's annexes) get their rows tables too, *campaign* its
    timezone and deadline recorded for the Chinese views (:mod:`ingest.store.views`).

    The handle is sqlite-utils' ``Database``; ``kaohe poll`` uses :func:`open_plain`."""
    import sqlite_utils

    # No sqlite-utils plugin runs on our connections (one installed in the same
    # environment could add functions or change pragmas; loading them costs ~3 ms).
    db = sqlite_utils.Database(_connect(path), execute_plugins=False)
    _prepare(db, schemas, campaign)
    return db


def open_plain(
    path: Path,
    schemas: Mapping[int, AnnexSchema] | None = None,
    campaign: CampaignConfig | None = None,
) -> PlainDb:
    """:func:`open_db` without sqlite-utils (see :mod:`ingest.store.handle`)."""
    db = PlainDb(_connect(path))
    _prepare(db, schemas, campaign)
    return db


CURSOR_SQL = "select uid from cursors where folder = ? and uidvalidity = ?"


def peek_last_uid(path: Path, folder: str, uidvalidity: int) -> int | None:
    """The cursor of *folder* as the database at *path* holds it now, read-only, without
    the poll's lock and without waiting for a writer: a guess for fetching ahead (see
    ``ImapSource.connect_ahead``), checked under the lock. None when there is none, or
    the database is missing or cannot be read."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0)
        try:
            row = conn.execute(CURSOR_SQL, [folder, uidvalidity]).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = busy_timeout()
    conn = sqlite3.connect(str(path), timeout=wait, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = wal")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(
    db: Db, schemas: Mapping[int, AnnexSchema] | None, campaign: CampaignConfig | None
) -> None:
    try:
        ensure_schema(db)
        if schemas is not None:
            ensure_annex_tables(db, schemas)
        ensure_views(db)
        if campaign is not None:
            record_campaign(db, campaign)
    except BaseException:
        db.close()
        raise


@contextmanager
def transaction(db: Db) -> Iterator[Db]:
    """One write transaction taken up front (BEGIN IMMEDIATE): no lock upgrade deadlocks.

    Inside a transaction already open (a poll's batch) it joins that one."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


# The tables: name -> ({column: SQL type}, primary key, indexes). The SQL is the text
# sqlite-utils' ``table.create`` wrote for them before (databases made by either match).
_TABLES: dict[str, tuple[dict[str, str], tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "messages": (
        dict.fromkeys(
            ("id", "message_id", "sender", "sender_name", "subject", "date_header", "received"),
            "TEXT",
        )
        | {"size": "INTEGER"}
        | dict.fromkeys(("raw_path", "processed_at", "error", "receipt_sent_at"), "TEXT"),
        ("id",),
        (("message_id",), ("received",)),
    ),
    "source_items": (
        dict.fromkeys(("key", "message", "received", "status", "reason"), "TEXT")
        | {"attempts": "INTEGER", "size": "INTEGER", "updated_at": "TEXT"},
        ("key",),
        (("status",),),
    ),
    "cursors": (
        {"folder": "TEXT", "uidvalidity": "INTEGER", "uid": "INTEGER"},
        ("folder", "uidvalidity"),
        (),
    ),
    "polls": (
        {"id": "INTEGER", "started_at": "TEXT", "finished_at": "TEXT", "ok": "INTEGER"}
        | {"error": "TEXT", "messages": "INTEGER"},
        ("id",),
        (),
    ),
    "attachments": (
        dict.fromkeys(("id", "message", "part", "filename", "container"), "TEXT")
        | {"size": "INTEGER", "sha256": "TEXT", "type": "TEXT", "annex": "INTEGER"}
        | dict.fromkeys(("annex_evidence", "unit", "unit_evidence"), "TEXT")
        | {"rows": "INTEGER"}
        | dict.fromkeys(("outcome", "reason", "stored_path", "warnings"), "TEXT"),
        ("id",),
        (("message",), ("outcome",)),
    ),
    "submissions": (
        {"id": "TEXT", "unit": "TEXT", "annex": "INTEGER", "message": "TEXT", "received": "TEXT"}
        | {"version": "INTEGER", "attachment": "TEXT", "rows": "INTEGER", "status": "TEXT"}
        | {"reason": "TEXT", "evidence": "TEXT", "scan": "INTEGER"},
        ("id",),
        (("unit", "annex"), ("message",)),
    ),
    "assignments": (
        {"attachment": "TEXT", "message": "TEXT", "unit": "TEXT", "annex": "INTEGER"}
        | {"assigned_at": "TEXT"},
        ("attachment",),
        (("message",),),
    ),
    # The clerk's "not a form / not our unit": kept apart from derived data like
    # assignments, so every reparse applies it again (outcome ``dismissed``).
    "dismissals": (
        dict.fromkeys(("attachment", "message", "reason", "dismissed_at", "actor"), "TEXT"),
        ("attachment",),
        (("message",),),
    ),
    "audit": (
        {"id": "INTEGER"}
        | dict.fromkeys(("at", "actor", "action", "target", "before", "after"), "TEXT"),
        ("id",),
        (),
    ),
    "paper": (
        {"unit": "TEXT", "annex": "INTEGER", "received_on": "TEXT", "recorded_at": "TEXT"},
        ("unit", "annex"),
        (),
    ),
    "receipts": (
        dict.fromkeys(("message", "sent_at", "recipient", "path", "status", "error"), "TEXT"),
        ("message",),
        (),
    ),
}


def _create_table(db: Db, name: str) -> None:
    columns, pk, indexes = _TABLES[name]
    lines = [
        f'"{c}" {kind} PRIMARY KEY' if pk == (c,) else f'"{c}" {kind}'
        for c, kind in columns.items()
    ]
    if len(pk) > 1:
        lines.append("PRIMARY KEY ({})".format(", ".join(f'"{c}"' for c in pk)))
    body = ",\n   ".join(lines)
    db.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (\n   {body}\n)')
    for index in indexes:
        _create_index(db, name, index)


def _create_index(db: Db, table: str, columns: tuple[str, ...]) -> None:
    listed = ", ".join(f'"{c}"' for c in columns)
    db.execute(
        f'CREATE INDEX IF NOT EXISTS "idx_{table}_{"_".join(columns)}"\n    ON "{table}" ({listed})'
    )


def ensure_schema(db: Db) -> None:
    """Create the tables and indexes that do not exist yet (idempotent; an existing
    table or index takes no write lock, so this never waits for a running poll)."""
    for name in _TABLES:
        _create_table(db, name)
    # reports.status reads the submissions up to a moment in received order (no sort);
    # databases made before this index get it at their next open.
    db.execute("CREATE INDEX IF NOT EXISTS idx_submissions_received ON submissions (received, id)")
    ensure_annex_tables(db, DEFAULT_SCHEMAS)
    for table in ("attachments", "submissions"):  # several campaigns in one mailbox
        if "campaign" not in table_columns(db, table):
            db.execute(f'ALTER TABLE "{table}" ADD COLUMN campaign TEXT')
            _COLUMNS.pop(table, None)


def ensure_annex_tables(db: Db, schemas: Mapping[int, AnnexSchema]) -> None:
    """One ``annexN_rows`` table per annex, with a column per canonical field.

    Campaigns share a table per annex number: a field another campaign's annex
    lacks is added as a column (``ALTER TABLE … ADD COLUMN``), never dropped.
    """
    for n, schema in schemas.items():
        name = f"annex{n}_rows"
        # NUMERIC affinity keeps 5 and 2.5 as numbers and "按实际完成情况" as text.
        cols = [(f.name, "NUMERIC" if f.numeric else "TEXT") for f in schema.fields]
        have = set(table_columns(db, name))
        if not have:
            listed = ", ".join(f'"{c}" {kind}' for c, kind in cols)
            db.execute(
                f'CREATE TABLE "{name}" (submission TEXT, unit TEXT, row_no INTEGER, '
                f"{listed}, extra TEXT)"
            )
            _create_index(db, name, ("submission",))
            _COLUMNS.pop(name, None)
            continue
        for c, kind in cols:
            if c not in have:
                db.execute(f'ALTER TABLE "{name}" ADD COLUMN "{c}" {kind}')
                _COLUMNS.pop(name, None)


def annex_tables(db: Db) -> list[str]:
    """Every ``annexN_rows`` table there is (all campaigns')."""
    return [
        r[0]
        for r in db.execute(
            "select name from sqlite_master where type = 'table' and name glob 'annex*_rows'"
        ).fetchall()
    ]


# --------------------------------------------------------------------------- source state


@dataclass
class DbSourceState:
    """:class:`ingest.mail.sources.base.SourceState` backed by the database."""

    db: Db
    max_attempts: int = 5

    def last_uid(self, folder: str, uidvalidity: int) -> int | None:
        row = self.db.execute(CURSOR_SQL, [folder, uidvalidity]).fetchone()
        return int(row[0]) if row else None

    def key_done(self, key: str) -> bool:
        row = self.db.execute(
            "select 1 from source_items where key = ? and status in (?, ?)",
            [key, SourceItemState.STORED, SourceItemState.SKIPPED],
        ).fetchone()
        return row is not None

    def retry_keys(self, prefix: str) -> list[str]:
        rows = self.db.execute(
            "select key from source_items where status = ? and attempts < ? "
            "and substr(key, 1, ?) = ? order by key",
            [SourceItemState.FAILED, self.max_attempts, len(prefix), prefix],
        ).fetchall()
        return [r[0] for r in rows]


def record_source_item(
    db: Db,
    key: str,
    *,
    message: str | None,
    received: str,
    status: SourceItemState,
    reason: str | None,
    size: int,
) -> None:
    failed = 1 if status is SourceItemState.FAILED else 0
    db.execute(
        "insert into source_items (key, message, received, status, reason, attempts, size, "
        "updated_at) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (key) do update set "
        "message = excluded.message, received = excluded.received, status = excluded.status, "
        "reason = excluded.reason, attempts = source_items.attempts + ?, size = excluded.size, "
        "updated_at = excluded.updated_at",
        [key, message, received, status, reason, failed, size, now_db(), failed],
    )


def advance_cursor(db: Db, folder: str, uidvalidity: int, uid: int) -> None:
    db.execute(
        "insert into cursors (folder, uidvalidity, uid) values (?, ?, ?) "
        "on conflict (folder, uidvalidity) do update set uid = max(uid, excluded.uid)",
        [folder, uidvalidity, uid],
    )


# --------------------------------------------------------------------------- messages


def upsert_message(db: Db, record: dict[str, Any]) -> bool:
    """Insert a message; for known bytes keep the earliest receipt. True when new."""
    existing = db.execute("select received from messages where id = ?", [record["id"]]).fetchone()
    if existing is None:
        insert_many(db, "messages", [record])
        return True
    if record["received"] < existing[0]:
        db.execute(
            "update messages set received = ? where id = ?", [record["received"], record["id"]]
        )
    return False


def replace_derived(
    db: Db,
    message: str,
    attachments: list[dict[str, Any]],
    submissions: list[dict[str, Any]],
    rows: dict[int, list[dict[str, Any]]],
) -> None:
    """Replace everything derived from one message (call inside :func:`transaction`)."""
    delete_derived(db, message)
    insert_many(db, "attachments", attachments)
    insert_many(db, "submissions", submissions)
    for annex, annex_rows in rows.items():
        insert_many(db, f"annex{annex}_rows", _json_extra(annex_rows))
    db.execute(
        "update messages set processed_at = ?, error = null where id = ?", [now_db(), message]
    )
    for unit, annex in {(s["unit"], s["annex"]) for s in submissions}:
        renumber_versions(db, unit, annex)


def insert_many(db: Db, table: str, records: list[dict[str, Any]]) -> None:
    """Plain ``executemany`` for the hot path: the table's own columns, in one statement.

    (sqlite-utils' ``insert_all`` re-derives the statement and JSON-checks every value,
    which was a tenth of a cold ingest.)
    """
    if not records:
        return
    columns = [c for c in _columns(db, table) if c in records[0]]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    db.conn.executemany(
        f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
        [[r.get(c) for c in columns] for r in records],
    )


_COLUMNS: dict[str, list[str]] = {}


def _columns(db: Db, table: str) -> list[str]:
    """A table's columns, asked of SQLite once per process (``ensure_schema`` fixes them)."""
    if table not in _COLUMNS:
        _COLUMNS[table] = table_columns(db, table)
    return _COLUMNS[table]


def delete_derived(db: Db, message: str) -> None:
    if (
        db.execute("select 1 from attachments where message = ? limit 1", [message]).fetchone()
        is None
    ):
        return  # never derived (a new message): nothing to delete
    old = db.execute(
        "select distinct unit, annex from submissions where message = ?", [message]
    ).fetchall()
    for table in annex_tables(db):
        db.execute(
            f'delete from "{table}" where submission in '
            "(select id from submissions where message = ?)",
            [message],
        )
    db.execute("delete from submissions where message = ?", [message])
    db.execute("delete from attachments where message = ?", [message])
    for unit, annex in old:
        renumber_versions(db, unit, annex)


def renumber_versions(db: Db, unit: str, annex: int) -> None:
    """Versions are 1, 2, … in order of receipt for one (unit, annex)."""
    ids = db.execute(
        "select id from submissions where unit = ? and annex = ? order by received, id",
        [unit, annex],
    ).fetchall()
    for version, (sid,) in enumerate(ids, start=1):
        db.execute("update submissions set version = ? where id = ?", [version, sid])


def _json_extra(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r = dict(r)
        extra = r.get("extra")
        r["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
        out.append(r)
    return out


def message_ids(db: Db, since: str | None = None) -> list[str]:
    if since:
        rows = db.execute(
            "select id from messages where received >= ? order by received, id", [since]
        ).fetchall()
    else:
        rows = db.execute("select id from messages order by received, id").fetchall()
    return [r[0] for r in rows]


def rows_as_dicts(db: Db, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """``db.query`` without sqlite-utils' statement sniffing (a hot path of the poll)."""
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def get_message(db: Db, message: str) -> dict[str, Any] | None:
    rows = rows_as_dicts(db, "select * from messages where id = ?", [message])
    return rows[0] if rows else None


# --------------------------------------------------------------------------- clerk decisions


def assignments_for(db: Db, message: str) -> dict[str, dict[str, Any]]:
    """The clerk's decisions for attachments of *message*, keyed by attachment id."""
    rows = rows_as_dicts(db, "select * from assignments where message = ?", [message])
    return {r["attachment"]: r for r in rows}


def set_assignment(
    db: sqlite_utils.Database, attachment: str, message: str, unit: str, annex: int | None
) -> None:
    db.table("assignments").upsert(
        {
            "attachment": attachment,
            "message": message,
            "unit": unit,
            "annex": annex,
            "assigned_at": now_db(),
        },
        pk="attachment",
    )


def dismissals_for(db: Db, message: str) -> dict[str, str]:
    """The clerk's dismissals for attachments of *message*: attachment id → reason."""
    rows = db.execute(
        "select attachment, reason from dismissals where message = ?", [message]
    ).fetchall()
    return {r[0]: r[1] or "" for r in rows}


def find_attachment(db: Db, prefix: str) -> list[dict[str, Any]]:
    """Attachments whose id starts with *prefix* (the clerk may type a short id)."""
    return list(
        db.query("select * from attachments where id like ? order by id", [prefix.lower() + "%"])
    )

"""Our database connections run no sqlite-utils plugin; the poll's plain handle (no
sqlite-utils at all) opens the same database as sqlite-utils' ``Database``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils import hookimpl
from sqlite_utils.plugins import pm

from ingest.store.db import open_db, open_plain, transaction
from ingest.store.handle import PlainDb
from reports.status import _connect
from tests.support.campaign import make_campaign


class _Meddler:
    """What a sqlite-utils plugin installed in the same environment could do."""

    @hookimpl
    def prepare_connection(self, conn: sqlite3.Connection) -> None:
        conn.create_function("meddled", 0, lambda: 1)


@pytest.fixture
def meddler() -> Iterator[None]:
    plugin = _Meddler()
    pm.register(plugin, name="meddler")
    try:
        yield
    finally:
        pm.unregister(plugin)


def _meddled(db: sqlite_utils.Database) -> bool:
    try:
        db.execute("select meddled()")
    except sqlite3.OperationalError:
        return False
    return True


def test_no_plugin_touches_the_poller_s_or_the_report_s_connection(
    tmp_path: Path, meddler: None
) -> None:
    assert _meddled(sqlite_utils.Database(memory=True))  # the plugin is live
    db = open_db(tmp_path / "kaohe.db")
    assert not _meddled(db)
    assert db.journal_mode == "wal"  # still opened as ours
    db.close()
    assert not _meddled(_connect(str(tmp_path / "kaohe.db")))


def test_no_plugin_touches_the_web_console_s_connection(tmp_path: Path, meddler: None) -> None:
    from ingest.app.web.state import WebState

    state = WebState(make_campaign(tmp_path).cfg)
    with state.db() as db:
        assert not _meddled(db)
        assert db.execute("pragma query_only").fetchone() == (1,)  # its own settings stay


def _schema(db: sqlite_utils.Database | PlainDb) -> list[tuple[str, ...]]:
    return db.execute(
        "select type, name, tbl_name, sql from sqlite_master order by name"
    ).fetchall()


def test_the_plain_handle_makes_the_schema_sqlite_utils_opens(tmp_path: Path) -> None:
    """A database made by the poll (plain SQL) is the one the clerk's commands open, and
    each opens the other's without changing it; the tables sqlite-utils' ``create`` wrote
    before (primary keys, column types, indexes) are the plain handle's too."""
    plain = open_plain(tmp_path / "a.db")
    made_plain = _schema(plain)
    assert plain.execute("pragma journal_mode").fetchone() == ("wal",)
    plain.close()
    utils = open_db(tmp_path / "a.db")
    assert _schema(utils) == made_plain
    assert utils.table("messages").pks == ["id"]
    assert utils.table("cursors").pks == ["folder", "uidvalidity"]
    assert utils.table("paper").pks == ["unit", "annex"]
    assert utils.table("polls").columns_dict["id"] is int
    assert {tuple(i.columns) for i in utils.table("submissions").indexes} >= {
        ("unit", "annex"),
        ("message",),
        ("received", "id"),
    }
    assert "campaign" in utils.table("attachments").columns_dict
    utils.close()
    other = open_db(tmp_path / "b.db")
    assert _schema(other) == made_plain  # sqlite-utils' own database: the same
    other.close()
    again = open_plain(tmp_path / "b.db")
    assert _schema(again) == made_plain
    again.close()


def test_the_plain_handle_answers_as_sqlite_utils_does(tmp_path: Path) -> None:
    plain = open_plain(tmp_path / "kaohe.db")
    with transaction(plain):
        plain.execute(
            "insert into messages (id, subject, size) values (?, ?, ?)", ["m1", "附件2", 7]
        )
        plain.execute(
            "insert into messages (id, subject) values (:id, :s)", {"id": "m2", "s": None}
        )
    got = list(plain.query("select id, subject, size from messages order by id"))
    plain.close()
    utils = open_db(tmp_path / "kaohe.db")
    assert got == list(utils.query("select id, subject, size from messages order by id"))
    assert got == [
        {"id": "m1", "subject": "附件2", "size": 7},
        {"id": "m2", "subject": None, "size": None},
    ]
    utils.close()


def test_opening_an_existing_database_waits_for_no_running_poll(tmp_path: Path) -> None:
    """The schema is created with IF NOT EXISTS: on a database that has it, opening takes
    no write lock, so a command opening it while a poll holds a write transaction does
    not wait (nor fail when it may not wait)."""
    poll = open_plain(tmp_path / "kaohe.db")
    poll.conn.execute("BEGIN IMMEDIATE")
    poll.execute("insert into polls (started_at) values ('2026-03-01T00:00:00+00:00')")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KAOHE_BUSY_TIMEOUT_SECONDS", "0")
        clerk = open_db(tmp_path / "kaohe.db")
        other = open_plain(tmp_path / "kaohe.db")
    assert clerk.execute("select count(*) from polls").fetchone() == (0,)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")  # the lock is real: a write would wait
    poll.conn.execute("COMMIT")
    clerk.close()
    other.close()
    poll.close()


def test_kaohe_poll_does_not_import_sqlite_utils() -> None:
    """Its import costs a poll ~30 ms of its start (see ingest.store.handle)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ingest.app.cli, ingest.app.cli.commands, ingest.match.sandbox\n"
        "import ingest.mail.sources.imap, ingest.store.pipeline, ingest.store.intake\n"
        "print('sqlite_utils' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cursor_is_peeked_read_only_and_a_database_it_cannot_read_gives_no_guess(
    tmp_path: Path,
) -> None:
    """``kaohe poll``'s login thread reads the cursor before the poll takes its lock (a
    guess for fetching ahead): from the committed database, never writing to it, and
    None where there is nothing to read."""
    from ingest.store.db import advance_cursor, peek_last_uid

    path = tmp_path / "data" / "kaohe.sqlite"
    assert peek_last_uid(path, "INBOX", 7) is None  # no database yet
    assert not path.exists()  # and none made
    db = open_plain(path)
    with transaction(db):
        advance_cursor(db, "INBOX", 7, 41)
    db.execute("begin immediate")  # another poll is writing: committed data is still read
    db.execute("update cursors set uid = 99")
    assert peek_last_uid(path, "INBOX", 7) == 41
    assert peek_last_uid(path, "INBOX", 8) is None  # another UIDVALIDITY: no cursor
    assert peek_last_uid(path, "归档", 7) is None
    db.execute("rollback")
    db.close()
    odd = tmp_path / "目录 with space" / "kaohe.sqlite"
    odd.parent.mkdir()
    odd.write_bytes(b"not a database at all" * 100)
    assert peek_last_uid(odd, "INBOX", 7) is None
    assert odd.read_bytes() == b"not a database at all" * 100

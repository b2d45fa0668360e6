"""Our database connections run no sqlite-utils plugin."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils import hookimpl
from sqlite_utils.plugins import pm

from ingest.store.db import open_db
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

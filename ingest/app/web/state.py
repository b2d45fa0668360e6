"""What the app keeps between requests: the config, the accounts file, a report cache.

The status report of a 500-unit campaign takes a few hundred milliseconds to
build; every page that shows it would pay that per request. The cache keys it on
the database files' change stamps (any commit of the poller or a clerk action
touches ``kaohe.db-wal``), the roster's, and the minute — so a page is never
staler than the last write, and never older than a minute.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlite_utils
from markupsafe import Markup

from ingest.app.web.reparse_job import ReparseJob
from ingest.core.config import Config
from ingest.match.roster import Roster, load_roster
from ingest.store.db import open_db
from ingest.store.users import open_users
from reports.model import StatusReport
from reports.output import build_report

Stamp = tuple[tuple[int, int], ...]
MAX_STALE = 60.0  # seconds a report may be served while its successor is built
REFRESH_EVERY = 5.0  # while the poller writes, rebuild at most this often (a build is CPU-bound)
log = logging.getLogger("kaohe.web")


def file_stamp(*paths: Path) -> Stamp:
    """(mtime_ns, size) per file; (0, 0) for a missing one."""
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append((0, 0))
    return tuple(out)


@dataclass
class ReportCache:
    """The latest report, rebuilt when the database, the roster or the minute changes.

    While the poller writes, the stamp changes every few hundred milliseconds; a
    request then gets the report in hand (at most :data:`MAX_STALE` old) and one
    background thread builds the next, at most every :data:`REFRESH_EVERY` seconds. After a clerk's own action
    (:meth:`invalidate`) the next request waits for a fresh build, so the clerk
    always sees what they just did.
    """

    cfg: Config
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key: tuple[object, ...] | None = None
    _report: StatusReport | None = None
    _built: float = 0.0
    _refreshing: bool = False
    _build_lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0  # bumped by invalidate(): a build started before it is dropped
    _roster: tuple[Stamp, Roster] | None = None

    def _stamp(self) -> Stamp:
        db = self.cfg.db_path
        return file_stamp(db, db.with_name(db.name + "-wal"), self.cfg.paths.roster)

    def report(self, now: datetime) -> StatusReport:
        key = (self._stamp(), now.replace(second=0, microsecond=0))
        with self._lock:
            report = self._report
            if report is not None and self._key == key:
                return report
            age = time.monotonic() - self._built
            if report is not None and age < MAX_STALE:
                if not self._refreshing and age >= REFRESH_EVERY:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, args=(key, now), daemon=True).start()
                return report
        return self._build(key, now)

    def _build(self, key: tuple[object, ...], now: datetime) -> StatusReport:
        with self._build_lock:  # one build at a time; a waiting request takes the result
            with self._lock:
                if self._key == key and self._report is not None:
                    return self._report
                generation = self._generation
            report = build_report(self.cfg, now)
            with self._lock:
                if generation == self._generation:
                    self._key, self._report, self._built = key, report, time.monotonic()
            return report

    def _refresh(self, key: tuple[object, ...], now: datetime) -> None:
        try:
            self._build(key, now)
        except Exception:
            log.exception("报告刷新失败")
        finally:
            with self._lock:
                self._refreshing = False

    def invalidate(self) -> None:
        """Forget the report: the next request builds a fresh one and waits for it."""
        with self._lock:
            self._report, self._key = None, None
            self._generation += 1

    def roster(self) -> Roster:
        stamp = file_stamp(self.cfg.paths.roster)
        with self._lock:
            if self._roster is None or self._roster[0] != stamp:
                self._roster = (stamp, load_roster(self.cfg.paths.roster))
            return self._roster[1]


def default_login_delay(failures: int) -> float:
    """Seconds a login attempt waits after *failures* wrong passwords in a row.

    Two free tries, then 1, 2, 4 … seconds, at most 60: a person mistyping barely
    notices; a password guesser gets a few hundred tries a day per address.
    """
    if failures < 3:
        return 0.0
    return float(min(60, 2 ** (failures - 3)))


@dataclass
class WebState:
    cfg: Config
    login_delay: Callable[[int], float] = default_login_delay
    secure_cookies: bool = False  # set under TLS (or behind an https proxy)
    users: sqlite3.Connection | None = None
    users_lock: threading.Lock = field(default_factory=threading.Lock)
    cache: ReportCache | None = None
    reparse: ReparseJob = field(default_factory=ReparseJob)
    fragments: dict[str, tuple[object, Markup]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.users = open_users(self.cfg.data_dir)
        self.cache = ReportCache(self.cfg)

    @contextmanager
    def accounts(self) -> Iterator[sqlite3.Connection]:
        """The accounts connection, one user at a time (the calls are short)."""
        assert self.users is not None
        with self.users_lock:
            yield self.users

    def report(self, now: datetime) -> StatusReport:
        assert self.cache is not None
        return self.cache.report(now)

    def roster(self) -> Roster:
        assert self.cache is not None
        return self.cache.roster()

    @contextmanager
    def db(self) -> Iterator[sqlite_utils.Database]:
        """The campaign database for one request, read only (WAL: the poller may be writing).

        The schema exists once the database does (``open_db`` makes both); a plain
        connection skips ``open_db``'s schema check, 10 ms per request.
        """
        if not self.cfg.db_path.exists():
            open_db(self.cfg.db_path).close()
        conn = sqlite3.connect(str(self.cfg.db_path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA query_only = ON")
        try:
            yield sqlite_utils.Database(conn)
        finally:
            conn.close()

    def fragment(self, name: str, source: object, render: Callable[[], str]) -> Markup:
        """HTML rendered once per *source* object (a report): the same for every user."""
        cached = self.fragments.get(name)
        if cached is not None and cached[0] is source:
            return cached[1]
        html = Markup(render())
        self.fragments[name] = (source, html)
        return html

    def warm_up(self) -> None:
        """Build the first report now (at start-up), so the first page need not wait."""
        try:
            self.report(datetime.now(self.cfg.campaign.timezone))
        except Exception:  # no database or roster yet: the pages say so when asked
            log.warning("启动时未能预先生成报告", exc_info=True)

    def changed(self) -> None:
        """A clerk action changed the data: the next page shows it."""
        assert self.cache is not None
        self.cache.invalidate()

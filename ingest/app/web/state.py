"""What the app keeps between requests: the config, the accounts file, the report cache,
rendered fragments, the reparse job, and the login slow-down."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils
from markupsafe import Markup

from ingest.app.web.reparse_job import ReparseJob
from ingest.app.web.report_cache import ReportCache
from ingest.core.config import Config
from ingest.match.roster import Roster
from ingest.store.db import open_db
from ingest.store.users import open_users
from reports.model import StatusReport

log = logging.getLogger("kaohe.web")


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

    def close(self) -> None:
        """Stop the report worker (at shutdown)."""
        assert self.cache is not None
        self.cache.close()

    def changed(self) -> None:
        """A clerk action changed the data: the next page shows it."""
        assert self.cache is not None
        self.cache.invalidate()

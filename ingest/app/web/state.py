"""What the app keeps between requests: the config, the accounts file, the report cache,
rendered fragments, the reparse job, and the login slow-down.

With several campaigns (``[[campaigns]]``) the app's state is the first campaign's
view; :meth:`WebState.selected` gives another campaign's, which shares everything
but the config and the report cache.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
    fragments: dict[tuple[str, str], tuple[object, Markup]] = field(default_factory=dict)
    root: Config | None = None  # every campaign; cfg is the one this view shows
    # campaign name -> its view (this one included), shared by every view
    views: dict[str, WebState] = field(default_factory=dict, repr=False, compare=False)
    views_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.root is None:  # the app's own state: the first campaign's view
            self.root = self.cfg
            if len(self.cfg.campaigns) > 1:
                self.cfg = self.cfg.select(self.cfg.campaigns[0].name)
            self.views[self.cfg.campaign.name] = self
        if self.users is None:
            self.users = open_users(self.cfg.data_dir)
        if self.cache is None:
            self.cache = ReportCache(self.cfg)

    @property
    def campaign_names(self) -> tuple[str, ...]:
        """The configured campaigns' names, in config order."""
        assert self.root is not None
        return tuple(c.name for c in self.root.campaigns or (self.root.campaign,))

    def selected(self, name: str | None) -> WebState:
        """The view of campaign *name* (its name, or a year in it; None: the first).

        Raises ConfigError for a name no campaign has."""
        assert self.root is not None
        if name is None or len(self.campaign_names) < 2:
            if name is not None:
                self.root.select(name)  # one campaign: still refuse an unknown name
            return self.views[self.campaign_names[0]]
        cfg = self.root.select(name)
        with self.views_lock:
            view = self.views.get(cfg.campaign.name)
            if view is None:
                view = replace(self, cfg=cfg, cache=None)
                self.views[cfg.campaign.name] = view
            return view

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
            yield sqlite_utils.Database(conn, execute_plugins=False)
        finally:
            conn.close()

    def fragment(self, name: str, source: object, render: Callable[[], str]) -> Markup:
        """HTML rendered once per *source* object (a report): the same for every user."""
        key = (self.cfg.campaign.name, name)
        cached = self.fragments.get(key)
        if cached is not None and cached[0] is source:
            return cached[1]
        html = Markup(render())
        self.fragments[key] = (source, html)
        return html

    def warm_up(self) -> None:
        """Build the first report now (at start-up), so the first page need not wait."""
        try:
            self.report(datetime.now(self.cfg.campaign.timezone))
        except Exception:  # no database or roster yet: the pages say so when asked
            log.warning("启动时未能预先生成报告", exc_info=True)

    def _caches(self) -> list[ReportCache]:
        with self.views_lock:
            return [v.cache for v in self.views.values() if v.cache is not None]

    def close(self) -> None:
        """Stop the report workers (at shutdown)."""
        for cache in self._caches():
            cache.close()

    def changed(self) -> None:
        """A clerk action changed the data: the next page shows it, in every campaign."""
        for cache in self._caches():
            cache.invalidate()

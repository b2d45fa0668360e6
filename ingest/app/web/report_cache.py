"""The report every page shows, kept between requests and rebuilt when the data changes.

The status report of a 500-unit campaign takes 0.5–1 s of CPU to build; every
page that shows it would pay that per request. The cache keys it on the
database files' change stamps (any commit of the poller or a clerk action
touches ``kaohe.db-wal``), the roster's, and the minute. Background rebuilds run
in a separate worker process, so a build never competes with requests for the GIL.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ingest.core.config import Config
from ingest.match.roster import Roster, load_roster
from reports.model import StatusReport
from reports.output import build_report

Stamp = tuple[tuple[int, int], ...]
MAX_STALE = 60.0  # seconds a report may be served while its successor is built
REFRESH_EVERY = 10.0  # while the poller writes, rebuild at most this often (a build is CPU-bound)
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
    background worker builds the next, at most every :data:`REFRESH_EVERY` seconds.
    After a clerk's own action (:meth:`invalidate`) the next request waits for a fresh build, so the clerk
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
    _pool: ProcessPoolExecutor | None = None

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

    def _build(
        self, key: tuple[object, ...], now: datetime, elsewhere: bool = False
    ) -> StatusReport:
        with self._build_lock:  # one build at a time; a waiting request takes the result
            with self._lock:
                if self._key == key and self._report is not None:
                    return self._report
                generation = self._generation
            report = (
                self._worker().submit(build_report, self.cfg, now).result()
                if elsewhere
                else build_report(self.cfg, now)
            )
            with self._lock:
                if generation == self._generation:
                    self._key, self._report, self._built = key, report, time.monotonic()
            return report

    def _refresh(self, key: tuple[object, ...], now: datetime) -> None:
        try:
            self._build(key, now, elsewhere=True)
        except Exception:
            log.exception("报告刷新失败")
        finally:
            with self._lock:
                self._refreshing = False

    def _worker(self) -> ProcessPoolExecutor:
        """One spawned worker process for background builds, started on first use."""
        with self._lock:
            if self._pool is None:
                spawn = multiprocessing.get_context("spawn")  # never fork a threaded server
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn)
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

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

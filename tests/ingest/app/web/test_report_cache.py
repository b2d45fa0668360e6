"""The console's report cache: stale while the next builds (in a worker), fresh after an action."""

from __future__ import annotations

import time
from datetime import datetime

from ingest.app.web.report_cache import REFRESH_EVERY, ReportCache
from ingest.core.config import Config
from ingest.store.clerk import record_paper


def paper_of(report: object, unit: str, annex: int) -> object:
    units = report.units  # type: ignore[attr-defined]
    return next(u for u in units if u.unit == unit).annexes[annex].paper_received


def test_stale_report_then_rebuilt_in_a_worker_process(cfg: Config) -> None:
    cache = ReportCache(cfg)
    now = datetime.now(cfg.campaign.timezone)
    try:
        first = cache.report(now)
        assert cache.report(now) is first  # nothing changed: the same object
        record_paper(cfg, "南郑区财政局", [4], None, actor="测试")  # as the poller would: a write
        assert cache.report(now) is first  # too soon for another build: the report in hand
        cache._built -= REFRESH_EVERY  # as if the last build were older
        assert cache.report(now) is first  # still served at once, the next one builds
        deadline = time.monotonic() + 60
        while cache.report(now) is first and time.monotonic() < deadline:
            time.sleep(0.1)
        fresh = cache.report(now)
        assert fresh is not first and paper_of(fresh, "南郑区财政局", 4) is not None
        assert cache._pool is not None  # built in the worker process
    finally:
        cache.close()


def test_after_invalidate_the_next_request_waits_for_a_fresh_build(cfg: Config) -> None:
    cache = ReportCache(cfg)
    now = datetime.now(cfg.campaign.timezone)
    first = cache.report(now)
    record_paper(cfg, "南郑区财政局", [4], None, actor="测试")
    cache.invalidate()
    fresh = cache.report(now)
    assert fresh is not first and paper_of(fresh, "南郑区财政局", 4) is not None
    assert cache._pool is None  # built in the request's own thread

"""``kaohe run``: poll the mailbox on a schedule and write the daily report.

One process per ``data_dir`` (the ``daemon`` lock); each poll also takes the
``poll`` lock inside :func:`ingest.store.pipeline.poll`, so a manual ``kaohe poll``
during a daemon poll refuses instead of fetching the same mail twice.

* poll every ``schedule.poll_every_minutes`` (first run at once), never two at
  a time, missed runs coalesced;
* while the server is unreachable (:class:`MailboxError`), retry sooner with
  exponential backoff, capped at the normal interval;
* a refused login (:class:`LoginFailed`: wrong 授权码) is not retried in a
  tight loop, only at the normal interval — the clerk must fix the code;
* the daily report at ``schedule.report_at`` in the campaign timezone;
* SIGTERM/SIGINT: the pipeline finishes the message in hand, then exit 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime, timedelta, tzinfo
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from ingest.app.daily import report_exists, write_daily_report
from ingest.app.logtime import LOG_FORMAT, log_in_timezone
from ingest.app.outbox.receipts import send_receipts
from ingest.core.config import Config, ConfigError
from ingest.core.failures import describe_failure
from ingest.core.lock import AlreadyRunning, hold_lock
from ingest.mail.sources.base import LoginFailed, MailboxError
from ingest.match.roster import RosterError
from ingest.store import pipeline

if TYPE_CHECKING:
    from ingest.app.web.server import BackgroundServer

log = logging.getLogger("kaohe.daemon")

BACKOFF_FIRST_SECONDS = 30.0


def setup_logging(level: int = logging.INFO, tz: tzinfo | None = None) -> None:
    """Timestamped, levelled log lines on stderr (journald keeps them), unless already set up;
    times in *tz* (the campaign's), as in the reports."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    if tz is not None:
        log_in_timezone(tz)
    if root.level == logging.NOTSET or root.level > level:  # the CLI default is WARNING
        root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("imapclient").setLevel(logging.WARNING)


class Daemon:
    """The scheduler and its jobs; :func:`run_daemon` adds the lock and signal handling."""

    def __init__(
        self,
        cfg: Config,
        *,
        poll_every: timedelta | None = None,
        backoff_first: float = BACKOFF_FIRST_SECONDS,
    ) -> None:
        self.cfg = cfg
        self.poll_every = poll_every or timedelta(minutes=cfg.schedule.poll_every_minutes)
        self.backoff_first = backoff_first
        self.stop = threading.Event()
        self._left = threading.Event()  # run() is past the scheduler
        self.polls = 0  # completed polls, for tests and the stop log line
        self._busy = threading.Lock()
        self._failures = 0
        self._started = False  # the start-up report was considered
        self.scheduler = BlockingScheduler(timezone=cfg.campaign.timezone)

    # ---------------------------------------------------------------- lifecycle

    def run(self) -> int:
        """Block until :meth:`request_stop`; the poll in hand finishes first. Returns 0."""
        self._add_jobs()
        stopper = threading.Thread(target=self._stop_scheduler, name="stopper", daemon=True)
        stopper.start()
        try:
            if not self.stop.is_set():
                self.scheduler.start()
        finally:
            self._left.set()
        with self._busy:  # wait for a poll still finishing its message
            pass
        log.info("kaohe run 已停止（本次共完成 %d 次收信）", self.polls)
        return 0

    def request_stop(self) -> None:
        """Ask the daemon to stop after the message in hand (safe from a signal handler).

        Only an event is set here: the handler runs in the main thread between two
        bytecodes, possibly inside the scheduler while it holds its executor's lock
        (starting a job's thread), so shutting the scheduler down from the handler
        could wait on that lock forever. A thread of its own does it.
        """
        self.stop.set()

    def _stop_scheduler(self) -> None:
        """Shut the scheduler down once a stop is requested (see :meth:`request_stop`)."""
        self.stop.wait()
        while not self._left.is_set():
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:  # not started yet: try again shortly
                self._left.wait(0.05)

    def _add_jobs(self) -> None:
        tz = self.cfg.campaign.timezone
        self.scheduler.add_job(
            self.poll_job,
            "interval",
            id="poll",
            name="收信",
            seconds=self.poll_every.total_seconds(),
            next_run_time=datetime.now(tz),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        at = self.cfg.schedule.report_at
        self.scheduler.add_job(
            self.report_job,
            "cron",
            id="report",
            name="每日报告",
            hour=at.hour,
            minute=at.minute,
            timezone=tz,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        log.info(
            "kaohe run 已启动：每 %s 收信一次，每天 %s（%s）生成报告",
            _minutes(self.poll_every),
            at.strftime("%H:%M"),
            tz.key,
        )

    # -------------------------------------------------------------------- polls

    def poll_job(self) -> None:
        """One poll; the interval job and a backoff retry never overlap."""
        if not self._busy.acquire(blocking=False):
            return
        try:
            if not self.stop.is_set():
                self._poll_once()
        finally:
            self._busy.release()
        self._startup_report()
        if self.stop.is_set():
            self.request_stop()

    def _poll_once(self) -> None:
        try:
            summary = pipeline.poll(self.cfg, stop=self.stop)
        except LoginFailed as e:
            self._recovered()
            log.error("%s。将在 %s 后再试", e, _minutes(self.poll_every))
            return
        except MailboxError as e:
            self._retry_later(e)
            return
        except AlreadyRunning as e:
            log.warning("%s", e)
            return
        except (ConfigError, RosterError) as e:  # the clerk must fix a file: no traceback
            log.error("本次未收信：%s", e)
            return
        except Exception as e:
            expected = describe_failure(e)  # disk full, database locked …: one line, no traceback
            if expected:
                log.error("本次未收信：%s。将按计划再试", expected)
            else:
                log.exception("本次收信出错，将按计划再试")
            return
        self._recovered()
        self.polls += 1
        log.info("%s", summary.line())
        if self.cfg.receipts.send and not self.stop.is_set():
            self._send_receipts()

    def _retry_later(self, error: MailboxError) -> None:
        """Server unreachable: exponential backoff, but never later than the next regular poll."""
        self._failures += 1
        delay = self.backoff_first * 2 ** (self._failures - 1)
        if delay >= self.poll_every.total_seconds():
            log.warning(
                "无法读取邮箱：%s。将在下次定时收信时（%s 后）重试",
                error,
                _minutes(self.poll_every),
            )
            return
        log.warning("无法读取邮箱：%s。%.0f 秒后重试（第 %d 次）", error, delay, self._failures)
        when = datetime.now(self.cfg.campaign.timezone) + timedelta(seconds=delay)
        self.scheduler.add_job(
            self.poll_job,
            "date",
            id="poll-retry",
            name="重新收信",
            run_date=when,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _recovered(self) -> None:
        if self._failures:
            log.info("邮箱连接已恢复")
        self._failures = 0
        try:
            self.scheduler.remove_job("poll-retry")
        except Exception:  # JobLookupError: no retry pending
            pass

    def _send_receipts(self) -> None:
        try:
            send_receipts(self.cfg)
        except Exception:
            log.exception("发送回执失败")

    # ------------------------------------------------------------------- report

    def _startup_report(self) -> None:
        """After the first poll: today's report now if there is none yet (a daemon
        started at 9:00 should not leave the clerk without a report until tomorrow)."""
        if self._started or self.stop.is_set():
            return
        self._started = True
        if not report_exists(self.cfg, datetime.now(self.cfg.campaign.timezone).date()):
            log.info("今天还没有报送情况报告，现在生成一份")
            self.report_job()  # outside the poll slot: a backoff retry is never held up by it

    def report_job(self) -> None:
        now = datetime.now(self.cfg.campaign.timezone)
        try:
            result = write_daily_report(self.cfg, now)
        except Exception:
            log.exception("生成每日报告失败")
            return
        log.info("每日报告已生成：%s", result)


def _minutes(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 60:g} 分钟" if seconds >= 60 else f"{seconds:g} 秒"


def run_daemon(cfg: Config) -> int:
    """``kaohe run``: hold the daemon lock, schedule the jobs, stop cleanly on SIGTERM/SIGINT."""
    setup_logging(tz=cfg.campaign.timezone)
    try:
        with hold_lock(cfg.data_dir, "daemon"):
            daemon = Daemon(cfg)
            previous = _install_signal_handlers(daemon)
            web = _start_web(cfg)
            try:
                return daemon.run()
            finally:
                if web is not None:
                    web.stop()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    except AlreadyRunning as e:
        log.error("%s", e)
        return 1


def _start_web(cfg: Config) -> BackgroundServer | None:
    """The clerk's web console in a thread beside the scheduler, when ``[web] enabled``."""
    if not cfg.web.enabled:
        return None
    from ingest.app.web.server import BackgroundServer, address

    server = BackgroundServer(cfg)
    server.start()
    log.info("经办人网页：%s", address(cfg))
    return server


def _install_signal_handlers(daemon: Daemon) -> dict[signal.Signals, Any]:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("收到信号 %s：处理完当前邮件后退出", signal.Signals(signum).name)
        daemon.request_stop()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handle)
    return previous

"""``kaohe run`` against a real Dovecot: lock, signals, backoff, login failures, report job."""

from __future__ import annotations

import logging
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ingest.app.daemon import Daemon
from ingest.core.config import Config, load_config
from ingest.core.lock import hold_lock
from ingest.mail.sources.imap import LOGIN_HINT
from tests.support.crash_trials import KAOHE, form_mail, kaohe_env
from tests.support.dovecot import DovecotServer, running_dovecot, write_config

pytestmark = pytest.mark.integration
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} (INFO|WARNING|ERROR) ", re.M)


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    with running_dovecot() as d:
        yield d


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def count(cfg: Config, sql: str = "select count(*) from messages") -> int:
    if not cfg.db_path.exists():
        return 0
    con = sqlite3.connect(cfg.db_path, timeout=30)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        con.close()


@contextmanager
def daemon_running(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``kaohe run`` as a subprocess (output to *log*), killed if the test left it running."""
    proc = subprocess.Popen(
        [KAOHE, "-c", str(config), "run"],
        env=kaohe_env(),
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def kaohe(config: Path, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KAOHE, "-c", str(config), command],
        env=kaohe_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------ subprocess


def test_second_run_is_refused_and_sigterm_exits_0(server: DovecotServer, tmp_path: Path) -> None:
    config = write_config(server, tmp_path)
    cfg = load_config(config)
    server.append_many([form_mail(n) for n in range(2)])
    with daemon_running(config, tmp_path / "run.log") as first:
        wait_for(lambda: count(cfg) == 2, 60, "the first poll")
        second = kaohe(config, "run", timeout=60)
        assert second.returncode != 0
        assert "另一个 kaohe run 守护进程正在运行" in second.stderr
        assert first.poll() is None  # the first one is unaffected
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
    log = (tmp_path / "run.log").read_text()
    assert LOG_LINE.search(log), log
    assert "本次收信 2 封" in log and "收到信号 SIGTERM" in log and "已停止" in log


def test_sigterm_mid_poll_finishes_the_message_in_hand(
    server: DovecotServer, tmp_path: Path
) -> None:
    config = write_config(server, tmp_path)
    cfg = load_config(config)
    total = 150
    server.append_many([form_mail(n) for n in range(total)])
    with daemon_running(config, tmp_path / "run.log") as daemon:
        wait_for(lambda: count(cfg) >= 5, 60, "the poll to start storing")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    stored = count(cfg)
    assert 5 <= stored < total, "stopped at once, not after the whole mailbox"
    # every committed message is whole: one source item per message, cursor at the last one
    assert count(cfg, "select count(*) from source_items where status = 'stored'") == stored
    last_stored = count(
        cfg,
        "select max(cast(substr(key, length(rtrim(key, '0123456789')) + 1) "
        "as integer)) from source_items where status = 'stored'",
    )
    assert count(cfg, "select max(uid) from cursors") == last_stored
    rest = kaohe(config, "poll", timeout=120)
    assert rest.returncode == 0, rest.stderr
    assert count(cfg) == total
    assert count(cfg, "select count(distinct message_id) from messages") == total


# -------------------------------------------------------------------- in process


class Running:
    """A Daemon in a background thread (signals are the subprocess tests' business)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.code = self.daemon.run()

    def __enter__(self) -> Daemon:
        self.thread.start()
        return self.daemon

    def __exit__(self, *exc: object) -> None:
        self.daemon.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert self.code == 0


def messages_logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def test_reconnects_with_exponential_backoff(
    server: DovecotServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = load_config(write_config(server, tmp_path, timeout_seconds=2.0))
    server.append_many([form_mail(n) for n in range(3)])
    server.stop()
    caplog.set_level(logging.INFO)
    with Running(Daemon(cfg, poll_every=timedelta(minutes=5), backoff_first=0.2)) as d:
        wait_for(lambda: len(messages_logged(caplog, "秒后重试")) >= 4, 30, "four retries")
        server.start()
        wait_for(lambda: d.polls >= 1, 30, "a poll after the server came back")
    failures = [r.created for r in messages_logged(caplog, "秒后重试")]
    gaps = [b - a for a, b in zip(failures, failures[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2], gaps  # 0.2 s, 0.4 s, 0.8 s …
    assert count(cfg) == 3
    assert messages_logged(caplog, "邮箱连接已恢复")


def test_login_failure_waits_for_the_normal_interval(
    server: DovecotServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = load_config(write_config(server, tmp_path))
    monkeypatch.setenv("KAOHE_TEST_IMAP_PASSWORD", "not-the-code-42")
    caplog.set_level(logging.INFO)
    with Running(Daemon(cfg, poll_every=timedelta(seconds=1.5), backoff_first=0.05)):
        wait_for(lambda: len(messages_logged(caplog, LOGIN_HINT)) >= 1, 20, "a login failure")
        time.sleep(1.0)
        assert len(messages_logged(caplog, LOGIN_HINT)) == 1  # no tight retry loop
        wait_for(lambda: len(messages_logged(caplog, LOGIN_HINT)) >= 2, 20, "the next interval")
    assert "not-the-code-42" not in caplog.text
    assert all(r.levelno == logging.ERROR for r in messages_logged(caplog, LOGIN_HINT))


def test_poll_lock_held_elsewhere_skips_the_round(
    server: DovecotServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = load_config(write_config(server, tmp_path))
    server.append_many([form_mail(0)])
    daemon = Daemon(cfg)
    with hold_lock(cfg.data_dir, "poll"):  # a manual `kaohe poll` is running
        daemon.poll_job()
    assert messages_logged(caplog, "另一个收信过程正在进行")
    assert count(cfg) == 0
    daemon.poll_job()
    assert count(cfg) == 1


def test_report_job_runs_at_report_at_in_campaign_time(
    server: DovecotServer, tmp_path: Path
) -> None:
    cfg = load_config(write_config(server, tmp_path))
    daemon = Daemon(cfg)
    daemon._add_jobs()
    tz = cfg.campaign.timezone
    trigger = daemon.scheduler.get_job("report").trigger
    after = datetime(2020, 3, 20, 23, 0, tzinfo=tz)
    assert trigger.get_next_fire_time(None, after) == datetime(2020, 3, 21, 8, 0, tzinfo=tz)
    poll = daemon.scheduler.get_job("poll")
    assert poll.max_instances == 1 and poll.coalesce
    server.append_many([form_mail(n) for n in range(2)])
    daemon.poll_job()
    daemon.report_job()
    written = [p for p in cfg.data_dir.rglob("*") if p.suffix in (".json", ".html", ".xlsx")]
    assert written, "the daily report job wrote nothing"


def test_broken_roster_is_one_clear_error_line(
    server: DovecotServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = load_config(write_config(server, tmp_path))
    cfg.paths.roster.write_text("名称,类别\n某单位,区直部门\n", encoding="utf-8")
    Daemon(cfg).poll_job()
    errors = messages_logged(caplog, "本次未收信")
    assert len(errors) == 1 and errors[0].exc_info is None


def test_stop_request_does_not_wait_on_the_scheduler_it_interrupted(
    server: DovecotServer, tmp_path: Path
) -> None:
    """SIGTERM's handler runs in the main thread, possibly while the scheduler holds its
    executor's lock (starting a job's thread): the request must not take that lock itself
    (it did, and ``kaohe run`` then hung on SIGTERM about one start in six)."""
    cfg = load_config(write_config(server, tmp_path))
    daemon = Daemon(cfg, poll_every=timedelta(minutes=5))
    with Running(daemon):
        wait_for(lambda: daemon.polls >= 1, 30, "the first poll")
        lock = daemon.scheduler._executors["default"]._pool._shutdown_lock
        with lock:  # as if interrupted inside ThreadPoolExecutor.submit
            asked = threading.Thread(target=daemon.request_stop, daemon=True)
            asked.start()
            asked.join(5)
            assert not asked.is_alive()  # returned at once, lock still held here
        # released: the daemon's own thread shuts the scheduler down, run() returns 0

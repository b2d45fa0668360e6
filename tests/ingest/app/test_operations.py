"""Running the service: start-up report, log times in the campaign zone, poll progress on a
terminal, the Maildir copy warning, and a production install without test servers."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.app.daemon import Daemon
from ingest.app.daily import report_exists
from ingest.app.logtime import log_in_timezone
from ingest.mail.sources.maildir import looks_copied
from ingest.store.pipeline import poll
from tests.support.campaign import Campaign, make_campaign
from tests.support.mails import make_mail
from tests.support.paths import REPO
from tests.support.terminal import run_on_tty

KAOHE = str(Path(sys.executable).with_name("kaohe"))


def inbox(tmp_path: Path, n: int, spread: timedelta) -> Campaign:
    c = make_campaign(tmp_path)
    start = datetime(2020, 3, 10, 9, 0)
    for i in range(n):
        when = (start + i * spread).isoformat(timespec="seconds")
        c.deliver(f"{i}.eml", make_mail(subject=f"南郑区财政局申报{i}"), when)
    return c


# --------------------------------------------------------------------------- daemon


def test_daemon_writes_todays_report_at_start_up_once(tmp_path: Path) -> None:
    c = inbox(tmp_path, 2, timedelta(days=1))
    cfg = c.cfg
    today = datetime.now(cfg.campaign.timezone).date()
    assert not report_exists(cfg, today)
    Daemon(cfg).poll_job()  # the first poll, then the report (not at tomorrow's report_at)
    assert report_exists(cfg, today)
    txt = cfg.data_dir / "reports" / today.isoformat() / f"报送情况-{today}.txt"
    assert "最近一次成功收信" in txt.read_text(encoding="utf-8")
    os.utime(txt, (0, 0))
    again = Daemon(cfg)
    again.poll_job()
    again.poll_job()
    assert txt.stat().st_mtime == 0  # one exists already: not rewritten at start-up


def test_log_lines_in_campaign_time() -> None:
    logger = logging.getLogger("kaohe.test.logtime")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        log_in_timezone(ZoneInfo("Asia/Shanghai"), logger)
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "收信", (), None)
        record.created = datetime(2020, 3, 20, 0, 5, tzinfo=UTC).timestamp()
        line = handler.format(record)
    finally:
        logger.removeHandler(handler)
    assert line == "2020-03-20 08:05:00 +0800 INFO 收信"  # UTC 00:05 is 08:05 in Hanzhong


def test_daemon_log_in_campaign_time(tmp_path: Path) -> None:
    """The real ``kaohe run``: its first log line carries the +0800 offset."""
    c = inbox(tmp_path, 1, timedelta(days=1))
    env = {**os.environ, "TZ": "UTC"}
    proc = subprocess.Popen(
        [KAOHE, "-c", str(c.config_path), "run"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    stamped = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the first log line (anything else printed is skipped)
            seen.append(line)
            if stamped.match(line) or len(seen) > 50:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800 (INFO|WARNING) ", seen[-1]), seen


# --------------------------------------------------------------------------- poll


def run_poll_on(config: Path, stderr_tty: bool) -> tuple[int, str, str]:
    """``kaohe poll`` with stderr on a pseudo-terminal or a pipe; (code, stdout, stderr)."""
    if not stderr_tty:
        done = subprocess.run(
            [KAOHE, "-c", str(config), "poll"], capture_output=True, text=True, timeout=120
        )
        return done.returncode, done.stdout, done.stderr
    done, shown = run_on_tty([KAOHE, "-c", str(config), "poll"], "stderr")
    return done.returncode, done.stdout.decode(), shown.decode(errors="replace")


@pytest.mark.integration
def test_poll_shows_progress_only_on_a_terminal(tmp_path: Path) -> None:
    c = inbox(tmp_path / "a", 3, timedelta(days=1))
    code, out, err = run_poll_on(c.config_path, stderr_tty=True)
    assert code == 0, err
    assert "收信中：已处理 3 封（最近一封 03-12 09:00 收到）" in err
    assert out.startswith("本次收信 3 封")
    piped = inbox(tmp_path / "b", 3, timedelta(days=1))
    code, out, err = run_poll_on(piped.config_path, stderr_tty=False)
    assert code == 0 and "收信中" not in err and out.startswith("本次收信 3 封")


# --------------------------------------------------------------------------- maildir


def test_copied_maildir_is_flagged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    c = inbox(tmp_path, 6, timedelta(seconds=1))  # `cp` of a folder: all within seconds
    with caplog.at_level(logging.WARNING):
        summary = poll(c.cfg)
    assert summary.stored == 6
    assert "像是一次复制进来的" in summary.line() and "收到时间" in summary.line()
    warned = [r.getMessage() for r in caplog.records if "cp -p" in r.getMessage()]
    assert len(warned) == 1 and "6 封新邮件中有 6 封" in warned[0]


def test_delivered_maildir_is_not_flagged(tmp_path: Path) -> None:
    c = inbox(tmp_path, 6, timedelta(hours=3))
    assert "复制" not in poll(c.cfg).line()


def test_looks_copied_needs_most_files_within_seconds() -> None:
    assert looks_copied([0, 1, 2, 3, 4]) == 5
    assert looks_copied([0, 1, 2, 3, 4, 5, 6, 7, 9000, 99999]) == 8
    assert looks_copied([0, 1, 2, 3000, 4000, 5000]) == 0  # deliveries, a few close together
    assert looks_copied([0, 0, 0]) == 0  # three mails may arrive together


# --------------------------------------------------------------------------- install


def apt_list(name: str) -> list[str]:
    script = f'source <(grep -E "^APT_[A-Z]+=" dev.sh); echo "${{{name}[@]}}"'
    done = subprocess.run(
        ["bash", "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_production_install_has_no_test_servers() -> None:
    production = apt_list("APT_PRODUCTION")
    assert {"libreoffice-writer-nogui", "libreoffice-calc-nogui", "unar", "p7zip-full"} <= set(
        production
    )
    assert not [p for p in production if re.search("dovecot|chromium|poppler", p)]
    assert {"dovecot-imapd", "chromium", "poppler-utils"} <= set(apt_list("APT_TEST"))
    usage = subprocess.run(["bash", "dev.sh", "nonsense"], cwd=REPO, capture_output=True, text=True)
    assert usage.returncode == 2 and "install" in usage.stderr


def test_docs_install_for_production_and_run_as_the_service_user() -> None:
    deploy = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "sudo ./dev.sh install" in deploy and "sudo ./dev.sh setup" not in deploy
    assert "./dev.sh install" in readme
    assert "sudo -u kaohe kaohe -c /etc/kaohe/config.toml" in readme
    quick = readme.split("## 快速开始")[1].split("## ")[0]
    assert "./dev.sh demo" in quick and "./dev.sh test" in quick
    assert "cp -p" in deploy and "修改时间" in readme

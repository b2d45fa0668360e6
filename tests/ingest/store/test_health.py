"""Every poll leaves a row; health says when the mailbox was last read and whether it failed."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ingest.core.lock import hold_lock
from ingest.mail.sources.base import MailboxError
from ingest.store.db import open_db
from ingest.store.health import read_health
from ingest.store.pipeline import poll
from tests.support.campaign import make_campaign
from tests.support.mails import make_mail

EVERY = timedelta(minutes=10)


def health_now(cfg, now=None):  # type: ignore[no-untyped-def]
    db = open_db(cfg.db_path)
    try:
        return read_health(db, cfg.data_dir, EVERY, now or datetime.now().astimezone())
    finally:
        db.close()


def test_never_polled_is_stale(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    h = health_now(c.cfg)
    assert h.last_poll is None and not h.last_poll_ok and h.stale and not h.ok


def test_a_good_poll_is_fresh_then_stale_after_three_intervals(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    c.deliver("1.eml", make_mail(subject="财政局附件"), "2020-03-12T09:30")
    poll(c.cfg)
    now = datetime.now().astimezone()
    h = health_now(c.cfg, now)
    assert h.last_poll_ok and h.ok and h.messages == 1 and h.last_error is None
    assert h.last_poll is not None and abs((now - h.last_poll).total_seconds()) < 60
    assert health_now(c.cfg, now + 3 * EVERY + timedelta(minutes=1)).stale
    assert not health_now(c.cfg, now + 2 * EVERY).stale


def test_a_failed_poll_keeps_its_error_and_the_last_success(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    poll(c.cfg)
    shutil.rmtree(tmp_path / "inbox")
    with pytest.raises(MailboxError) as e:
        poll(c.cfg)
    h = health_now(c.cfg)
    assert not h.last_poll_ok and h.last_error == str(e.value)
    assert "邮件目录" in (h.last_error or "")
    assert h.last_success is not None and h.last_success <= (h.last_poll or h.last_success)


def test_daemon_is_seen_while_it_holds_its_lock(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    poll(c.cfg)
    assert not health_now(c.cfg).daemon
    with hold_lock(c.cfg.data_dir, "daemon"):
        assert health_now(c.cfg).daemon
    assert not health_now(c.cfg).daemon

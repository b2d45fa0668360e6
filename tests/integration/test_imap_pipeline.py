"""The whole poll (ImapSource + pipeline + database) against a real Dovecot."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.core.config import Config, load_config
from ingest.mail.sources.base import LoginFailed, MailboxError, SourceItem
from ingest.store import pipeline
from tests.support.crash_trials import KAOHE, form_mail, kaohe_env
from tests.support.dovecot import PASSWORD, DovecotServer, running_dovecot, write_config

pytestmark = pytest.mark.integration
T0 = datetime(2020, 3, 12, 1, 30, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    with running_dovecot() as d:
        yield d


@pytest.fixture
def cfg(server: DovecotServer, tmp_path: Path) -> Config:
    return load_config(write_config(server, tmp_path))


def rows(cfg: Config, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(cfg.db_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def message_ids(cfg: Config) -> list[str]:
    return sorted(str(r[0]) for r in rows(cfg, "select message_id from messages"))


def expected(*numbers: int) -> list[str]:
    return sorted(f"<crash-{n}@kaohe.test>" for n in numbers)


def test_new_mail_between_two_polls(server: DovecotServer, cfg: Config) -> None:
    server.append_many([form_mail(n) for n in range(3)])
    first = pipeline.poll(cfg)
    assert (first.fetched, first.stored, first.duplicates) == (3, 3, 0)
    assert pipeline.poll(cfg).fetched == 0
    server.append_many([form_mail(n) for n in (3, 4)])
    second = pipeline.poll(cfg)
    assert (second.fetched, second.stored) == (2, 2)
    assert message_ids(cfg) == expected(0, 1, 2, 3, 4)
    uv = server.uidvalidity()
    assert rows(cfg, "select folder, uidvalidity, uid from cursors") == [("INBOX", uv, 5)]


def test_same_mail_appended_twice_is_one_message(server: DovecotServer, cfg: Config) -> None:
    raw, when = form_mail(1)
    server.append(raw, when)
    server.append(raw, when + timedelta(minutes=5))
    summary = pipeline.poll(cfg)
    assert (summary.fetched, summary.stored, summary.duplicates) == (2, 1, 1)
    assert message_ids(cfg) == expected(1)
    assert rows(cfg, "select count(*) from submissions") == [(1,)]
    assert rows(cfg, "select count(*) from source_items") == [(2,)]


def test_flags_unchanged_after_a_poll(server: DovecotServer, cfg: Config) -> None:
    for n in range(4):
        raw, when = form_mail(n)
        server.append(raw, when, flags=[b"\\Seen"] if n % 2 else [])
    before = server.flags()
    assert pipeline.poll(cfg).stored == 4
    assert server.flags() == before


def test_uidvalidity_change_adds_only_the_new_mail(server: DovecotServer, tmp_path: Path) -> None:
    cfg = load_config(write_config(server, tmp_path, folder="Forms"))
    server.create_folder("Forms")
    server.append_many([form_mail(n) for n in range(3)], folder="Forms")
    assert pipeline.poll(cfg).stored == 3
    server.recreate_folder("Forms")  # the folder was rebuilt: new UIDVALIDITY, UIDs from 1
    server.append_many([form_mail(n) for n in range(4)], folder="Forms")
    summary = pipeline.poll(cfg)
    assert (summary.fetched, summary.stored, summary.duplicates) == (4, 1, 3)
    assert message_ids(cfg) == expected(0, 1, 2, 3)
    assert rows(cfg, "select count(*) from submissions") == [(4,)]
    assert len(rows(cfg, "select * from cursors")) == 2


def test_server_stopped_mid_poll_then_restarted(server: DovecotServer, cfg: Config) -> None:
    """The server stops after the first batch is committed (mail is fetched ahead of the
    commits, at most ``Intake.max_in_flight``, so the mailbox holds more than that)."""
    n = 120
    server.append_many([form_mail(i) for i in range(n)])
    seen: list[SourceItem] = []

    def stop_after_three(item: SourceItem) -> None:
        seen.append(item)
        if len(seen) == 3:
            server.stop()

    with pytest.raises(MailboxError):
        pipeline.poll(cfg, on_item=stop_after_three)
    kept = message_ids(cfg)
    assert 3 <= len(kept) < n
    assert kept == expected(*range(len(kept)))  # the mails fetched before the stop, in order
    with pytest.raises(MailboxError):  # still down
        pipeline.poll(cfg)
    server.start()
    summary = pipeline.poll(cfg)
    left = n - len(kept)
    assert (summary.fetched, summary.stored, summary.duplicates) == (left, left, 0)
    assert message_ids(cfg) == expected(*range(n))


def test_wrong_password_stores_nothing(
    server: DovecotServer, cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.append_many([form_mail(0)])
    monkeypatch.setenv("KAOHE_TEST_IMAP_PASSWORD", "not-the-code")
    with pytest.raises(LoginFailed, match="授权码"):
        pipeline.poll(cfg)


def kaohe(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KAOHE, "-c", str(config), *args],
        env=env or kaohe_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_poll_exit_codes(server: DovecotServer, tmp_path: Path) -> None:
    config = write_config(server, tmp_path)
    server.append_many([form_mail(n) for n in range(2)])
    ok = kaohe(config, "poll")
    assert ok.returncode == 0, ok.stderr
    assert "新邮件 2" in ok.stdout
    bad = kaohe(config, "poll", env={**kaohe_env(), "KAOHE_TEST_IMAP_PASSWORD": "wrong-XYZ123"})
    assert bad.returncode != 0
    assert "授权码" in bad.stderr
    assert "wrong-XYZ123" not in bad.stderr + bad.stdout and PASSWORD not in bad.stderr
    server.stop()
    down = kaohe(config, "poll")
    assert down.returncode != 0
    assert "无法连接邮箱服务器" in down.stderr


def test_verbose_poll_shows_kaohe_s_debug_lines_not_the_mail_trace(
    server: DovecotServer, tmp_path: Path
) -> None:
    """``kaohe -v poll`` (and the --debug log) would otherwise get imaplib's trace: the
    repr of every fetched mail, megabytes of it on a cold poll."""
    config = write_config(server, tmp_path)
    server.append_many([form_mail(n) for n in range(2)])
    out = kaohe(config, "-v", "--debug", "poll")
    assert out.returncode == 0, out.stderr
    assert " DEBUG imapclient.imapclient: " in out.stderr  # -v shows the IMAP commands
    logs = list(tmp_path.rglob("logs/*.log"))
    text = out.stderr + "".join(p.read_text(encoding="utf-8") for p in logs)
    assert logs and text.count(" DEBUG ") > out.stderr.count(" DEBUG ")  # and so does the log
    assert "imapclient.imaplib" not in text and "crash-0@kaohe.test" not in text
    # the first parse worker is forked from the poll, which has one thread at that point
    # (the login's thread starts after it): see ingest.match.sandbox._may_fork
    assert "parse worker 0 started (pid " in text and "forked from this process" in text

"""One UID the server cannot serve: the real client and pipeline against a misbehaving server.

A fake IMAP server on loopback (tests/support/fake_imap.py) holds five form mails
(UIDs 101–105) and misbehaves on one of them. Every poll must end normally, the
other mails be ingested, the bad one be a ``failed`` source item naming its UID,
retried on later polls (stored once the fault is gone, given up after
``max_attempts`` and listed in the report), nothing doubled, nothing passed over.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.core.config import Config, load_config
from ingest.mail.sources.base import MailboxError
from ingest.mail.sources.imap_list import UNREADABLE_LIST
from ingest.store import pipeline
from tests.support.crash_trials import KAOHE, form_mail
from tests.support.fake_imap import (
    PASSWORD,
    PASSWORD_ENV,
    FakeImapServer,
    Fault,
    write_fake_config,
)

UIDS = [101, 102, 103, 104, 105]
BAD = 103
UV = 1700000000
KEY = f"imap:INBOX:{UV}:{BAD}"

# fault → the reason the clerk reads (each names the UID)
REASONS = {
    Fault.MALFORMED: "服务器返回的邮件（UID 103）格式错误，无法读取",
    Fault.CLOSE_IN_LITERAL: "下载邮件（UID 103）时与服务器的连接中断",
    Fault.STALL_IN_LITERAL: "下载邮件（UID 103）时服务器超过 1 秒没有响应",
    Fault.BAD_SIZE: "服务器报告的邮件（UID 103）大小无法识别",
    Fault.NO_UID: "服务器未返回这封邮件（UID 103）",
    Fault.MISSING: "服务器未返回这封邮件（UID 103）",
}
BREAKS_CONNECTION = {Fault.CLOSE_IN_LITERAL, Fault.STALL_IN_LITERAL}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeImapServer]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with FakeImapServer() as s:
        for n in range(5):
            s.add(*form_mail(n))
        yield s


@pytest.fixture
def config(server: FakeImapServer, tmp_path: Path) -> Path:
    return write_fake_config(server, tmp_path, timeout_seconds=1.0)


@pytest.fixture
def cfg(config: Path) -> Config:
    return load_config(config)


def rows(cfg: Config, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(cfg.db_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def item(cfg: Config, uid: int) -> tuple[object, ...]:
    """(status, attempts, reason) of one UID's source item."""
    [row] = rows(
        cfg,
        f"select status, attempts, reason from source_items where key = 'imap:INBOX:{UV}:{uid}'",
    )
    return row


def mails_of(cfg: Config) -> list[str]:
    return sorted(str(r[0]) for r in rows(cfg, "select message_id from messages"))


def expected(*numbers: int) -> list[str]:
    return sorted(f"<crash-{n}@kaohe.test>" for n in numbers)


def body_uids(command: bytes) -> list[int]:
    """The UIDs a ``UID FETCH <set> (BODY.PEEK[])`` command names, in order."""
    uid_set = command.split()[3].decode()
    out: list[int] = []
    for piece in uid_set.split(","):
        first, _, last = piece.partition(":")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def assert_nothing_lost_or_doubled(cfg: Config, server: FakeImapServer) -> None:
    """Every UID the server holds has a row; the cursor is the last UID; the mailbox is untouched."""
    keys = {str(r[0]) for r in rows(cfg, "select key from source_items")}
    assert keys == {f"imap:INBOX:{UV}:{u}" for u in server.uids()}
    assert rows(cfg, "select uid from cursors") == [(max(server.uids()),)]
    ids = [r[0] for r in rows(cfg, "select message_id from messages")]
    assert len(ids) == len(set(ids))
    sent = [c.upper() for _, c in server.commands]
    assert not any(b" STORE " in c or b" SELECT " in c for c in sent)
    assert not any(b"BODY[]" in c for c in sent)  # only BODY.PEEK[]: \Seen untouched


@pytest.mark.parametrize("fault", list(REASONS))
def test_one_bad_uid_is_recorded_retried_and_then_stored(
    fault: Fault, server: FakeImapServer, cfg: Config
) -> None:
    server.inject(BAD, fault)
    first = pipeline.poll(cfg)
    assert (first.fetched, first.stored, first.failed) == (5, 4, 1)
    assert mails_of(cfg) == expected(0, 1, 3, 4)
    assert item(cfg, BAD) == ("failed", 1, REASONS[fault])
    assert_nothing_lost_or_doubled(cfg, server)

    second = pipeline.poll(cfg)  # still broken: only the retry, counted
    assert (second.fetched, second.stored, second.failed) == (1, 0, 1)
    assert item(cfg, BAD) == ("failed", 2, REASONS[fault])

    server.clear_faults()
    third = pipeline.poll(cfg)
    assert (third.fetched, third.stored, third.failed) == (1, 1, 0)
    assert item(cfg, BAD)[0] == "stored"
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert rows(cfg, "select count(*) from submissions") == [(5,)]
    assert_nothing_lost_or_doubled(cfg, server)


@pytest.mark.parametrize("fault", sorted(BREAKS_CONNECTION))
def test_a_broken_connection_is_replaced_with_id_before_examine(
    fault: Fault, server: FakeImapServer, cfg: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # imapclient logs every command at DEBUG
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")  # kaohe's CLI sets it to INFO
    server.inject(BAD, fault)
    assert pipeline.poll(cfg).stored == 4
    # the batch of bodies broke (connection 1), one at a time on connection 2 until the
    # bad UID broke it again, the mails after it over connection 3
    assert server.connections == 3
    for n in (2, 3):
        sent = [c.split()[1].upper() for m, c in server.commands if m == n]
        assert sent.index(b"LOGIN") < sent.index(b"ID") < sent.index(b"EXAMINE")
    bodies = [(n, body_uids(c)) for n, c in server.commands if b"BODY.PEEK[]" in c]
    assert bodies == [(1, [101, 102, 103]), (2, [101]), (2, [102]), (2, [103])] + [
        (3, [104]),
        (3, [105]),
    ]
    assert PASSWORD not in caplog.text


def test_bodies_of_small_mails_come_in_one_command_per_batch(
    server: FakeImapServer, cfg: Config
) -> None:
    assert pipeline.poll(cfg).stored == 5
    bodies = [body_uids(c) for _, c in server.commands if b"BODY.PEEK[]" in c]
    assert bodies == [[101, 102, 103], [104, 105]]  # batch_size = 3
    assert server.connections == 1
    assert_nothing_lost_or_doubled(cfg, server)


def test_a_transient_fault_in_a_batch_of_bodies_is_retried_alone(
    server: FakeImapServer, cfg: Config
) -> None:
    """Nothing of the broken batch is trusted; from then on each UID is asked for alone."""
    server.inject(BAD, Fault.CLOSE_IN_LITERAL, times=1)  # the batch of bodies 101–103 only
    summary = pipeline.poll(cfg)
    assert (summary.stored, summary.failed) == (5, 0)
    bodies = [body_uids(c) for _, c in server.commands if b"BODY.PEEK[]" in c]
    assert bodies == [[101, 102, 103], *([u] for u in UIDS)]
    assert server.connections == 2
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert_nothing_lost_or_doubled(cfg, server)


def test_transient_fault_in_a_batch_costs_nothing(server: FakeImapServer, cfg: Config) -> None:
    """A batch reply that cannot be parsed is asked again UID by UID: only the bad one is lost."""
    server.inject(BAD, Fault.MALFORMED, times=1)  # the batch FETCH (101–103) only
    summary = pipeline.poll(cfg)
    assert (summary.stored, summary.failed) == (5, 0)
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert_nothing_lost_or_doubled(cfg, server)


def test_permanent_fault_gives_up_after_max_attempts_and_is_reported(
    server: FakeImapServer, config: Path, cfg: Config
) -> None:
    server.inject(BAD, Fault.STALL_IN_LITERAL)
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    for attempt in (1, 2, 3):
        run = subprocess.run(
            [KAOHE, "-c", str(config), "poll"], env=env, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        assert "失败 1" in run.stdout
        assert item(cfg, BAD)[:2] == ("failed", attempt)
    assert pipeline.poll(cfg).fetched == 0  # max_attempts = 3 reached: no longer retried
    assert item(cfg, BAD)[:2] == ("failed", 3)
    report = subprocess.run(
        [KAOHE, "-c", str(config), "report", "--format", "txt", "-o", "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    assert f"{KEY}：{REASONS[Fault.STALL_IN_LITERAL]}（尝试 3 次" in report.stdout
    assert PASSWORD not in report.stdout + report.stderr
    assert_nothing_lost_or_doubled(cfg, server)


def test_garbled_search_is_checked_against_a_fetch_listing(
    server: FakeImapServer, cfg: Config
) -> None:
    server.inject(BAD, Fault.GARBLED_SEARCH)  # * SEARCH 101 102 x103 104 105
    summary = pipeline.poll(cfg)
    assert (summary.stored, summary.failed) == (5, 0)
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert any(c.upper().endswith(b"UID FETCH 1:* (UID)") for _, c in server.commands)
    assert_nothing_lost_or_doubled(cfg, server)


def test_unreadable_listing_stops_the_poll_before_any_uid_is_passed(
    server: FakeImapServer, cfg: Config
) -> None:
    server.messages, server.next_uid = server.messages[:3], 104  # 101–103 arrive first
    assert pipeline.poll(cfg).stored == 3
    for n in (3, 4):
        server.add(*form_mail(n))
    server.inject(105, Fault.GARBLED_SEARCH)
    server.inject(105, Fault.GARBLED_LISTING)
    with pytest.raises(MailboxError) as info:
        pipeline.poll(cfg)
    assert str(info.value) == UNREADABLE_LIST
    assert rows(cfg, "select uid from cursors") == [(103,)]
    assert rows(cfg, "select ok, error from polls order by id desc limit 1") == [
        (0, UNREADABLE_LIST)
    ]
    server.clear_faults()
    assert pipeline.poll(cfg).stored == 2
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert_nothing_lost_or_doubled(cfg, server)


def test_duplicate_and_unordered_search_reply_downloads_each_mail_once(
    server: FakeImapServer, cfg: Config
) -> None:
    server.inject(BAD, Fault.DUPLICATE_SEARCH)  # * SEARCH 105 104 103 102 101 103
    summary = pipeline.poll(cfg)
    assert (summary.fetched, summary.stored, summary.duplicates) == (5, 5, 0)
    bodies = [u for _, c in server.commands if b"BODY.PEEK[]" in c for u in body_uids(c)]
    assert bodies == UIDS
    assert_nothing_lost_or_doubled(cfg, server)


def test_reconnects_are_bounded_and_the_stop_names_the_uid(
    server: FakeImapServer, cfg: Config
) -> None:
    for uid in (101, 102, 103, 104):
        server.inject(uid, Fault.CLOSE_IN_LITERAL)
    with pytest.raises(MailboxError, match="UID 104") as info:
        pipeline.poll(cfg)
    assert "已重连 3 次" in str(info.value)
    # the first, one after the batch of bodies broke (not counted), three replacements
    assert server.connections == 5
    assert [item(cfg, u)[0] for u in (101, 102, 103, 104)] == ["failed"] * 4
    assert rows(cfg, "select uid from cursors") == [(104,)]  # 105 not yet touched
    server.clear_faults()
    again = pipeline.poll(cfg)
    assert (again.fetched, again.stored, again.failed) == (5, 5, 0)
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert_nothing_lost_or_doubled(cfg, server)


def test_a_run_of_unreadable_mails_stops_the_poll(server: FakeImapServer, cfg: Config) -> None:
    """Five failures in a row look like a server fault: stop instead of using up every attempt."""
    for n in (5, 6):
        server.add(*form_mail(n))  # UIDs 106, 107
    for uid in range(101, 107):
        server.inject(uid, Fault.BAD_SIZE)
    with pytest.raises(MailboxError, match="连续 5 封.*UID 105"):
        pipeline.poll(cfg)
    assert rows(cfg, "select count(*) from source_items where status = 'failed'") == [(5,)]
    assert rows(cfg, "select uid from cursors") == [(105,)]
    server.clear_faults()
    assert pipeline.poll(cfg).stored == 7
    assert_nothing_lost_or_doubled(cfg, server)


def test_fault_inside_a_large_mail_fetched_in_pieces(server: FakeImapServer, cfg: Config) -> None:
    from ingest.mail.sources.imap import CHUNK_BYTES
    from tests.support.mails import make_mail

    big = make_mail(
        attachments=[("资料.bin", b"\x01" * (CHUNK_BYTES + 5000))], message_id="<big@kaohe.test>"
    )
    uid = server.add(big, form_mail(0)[1])
    server.inject(uid, Fault.CLOSE_IN_LITERAL, times=1)  # the first piece
    assert pipeline.poll(cfg).failed == 1
    assert item(cfg, uid)[0] == "failed"
    assert pipeline.poll(cfg).stored == 1
    [(size,)] = rows(cfg, "select size from messages where message_id = '<big@kaohe.test>'")
    assert size == len(big)
    assert sum(b"BODY.PEEK[]<" in c for _, c in server.commands) == 3  # cut, then 2 pieces
    assert_nothing_lost_or_doubled(cfg, server)


def test_uidvalidity_changed_during_a_reconnect_stops_and_rescans(
    server: FakeImapServer, cfg: Config
) -> None:
    """The old UIDs mean nothing after the reconnect: stop; the next poll offers everything again."""
    server.inject(BAD, Fault.CLOSE_IN_LITERAL)
    server.renumber_after_cut = True
    with pytest.raises(MailboxError, match="UIDVALIDITY"):
        pipeline.poll(cfg)
    # the batch of bodies 101–103 broke before any of its mails was handed on
    assert mails_of(cfg) == []
    assert rows(cfg, "select count(*) from cursors") == [(0,)]
    assert rows(cfg, "select count(*) from source_items") == [(0,)]
    server.clear_faults()
    again = pipeline.poll(cfg)
    assert (again.fetched, again.stored, again.duplicates) == (5, 5, 0)
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert rows(cfg, "select uidvalidity, uid from cursors") == [(UV + 1, 105)]


def test_uidvalidity_changed_after_mails_were_kept_stops_and_rescans(
    server: FakeImapServer, tmp_path: Path
) -> None:
    """Mails handed on before the change stay; the rescan finds them again as duplicates."""
    # batches of two: bodies 101–102 come whole, the batch 103–104 breaks
    cfg = load_config(write_fake_config(server, tmp_path, timeout_seconds=1.0, batch_size=2))
    server.inject(BAD, Fault.CLOSE_IN_LITERAL)
    server.renumber_after_cut = True
    with pytest.raises(MailboxError, match="UIDVALIDITY"):
        pipeline.poll(cfg)
    assert mails_of(cfg) == expected(0, 1)
    assert rows(cfg, "select uidvalidity, uid from cursors") == [(UV, 102)]
    assert rows(cfg, "select count(*) from source_items") == [(2,)]  # nothing for 103 yet
    server.clear_faults()
    again = pipeline.poll(cfg)
    assert (again.fetched, again.stored, again.duplicates) == (5, 3, 2)
    assert mails_of(cfg) == expected(0, 1, 2, 3, 4)
    assert rows(cfg, "select uidvalidity, uid from cursors order by uidvalidity") == [
        (UV, 102),
        (UV + 1, 105),
    ]


def test_empty_mailbox_then_first_mail(server: FakeImapServer, cfg: Config) -> None:
    """``* SEARCH`` with no numbers is an empty list, not a garbled reply."""
    server.messages, server.next_uid = [], 101
    assert pipeline.poll(cfg).fetched == 0
    assert rows(cfg, "select count(*) from cursors") == [(0,)]
    server.add(*form_mail(0))
    assert pipeline.poll(cfg).stored == 1
    assert not any(b"(UID)" in c for _, c in server.commands)  # no fallback listing needed
    assert_nothing_lost_or_doubled(cfg, server)

"""ImapSource against a real Dovecot (and a 163-like proxy in front of it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ingest.mail.sources.base import Cursor, LoginFailed, MailboxError, SourceItem
from ingest.mail.sources.imap import LOGIN_HINT, ImapSource
from tests.support.dovecot import PASSWORD, DovecotServer, running_dovecot
from tests.support.imap_proxy import BlackHole, NeteaseProxy

pytestmark = pytest.mark.integration
T0 = datetime(2020, 3, 12, 1, 30, tzinfo=UTC)


@dataclass
class MemoryState:
    """The pipeline's bookkeeping, reduced to what the source may ask (cursor + items)."""

    cursors: dict[tuple[str, int], int] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)

    def last_uid(self, folder: str, uidvalidity: int) -> int | None:
        return self.cursors.get((folder, uidvalidity))

    def key_done(self, key: str) -> bool:
        return key in self.done

    def retry_keys(self, prefix: str) -> list[str]:
        return [k for k in self.failed if k.startswith(prefix)]

    def commit(self, item: SourceItem) -> None:
        self.done.add(item.key)
        if item.key in self.failed:
            self.failed.remove(item.key)
        if item.cursor is not None:
            c = item.cursor
            key = (c.folder, c.uidvalidity)
            self.cursors[key] = max(self.cursors.get(key, 0), c.uid)


def mail(n: int, size: int = 0) -> bytes:
    body = b"x" * size if size else f"Form {n}.".encode()
    return (
        (
            f"From: unit{n}@163.com\r\nTo: nzkhb@163.com\r\nSubject: form {n}\r\n"
            f"Message-ID: <m{n}@kaohe.test>\r\nDate: Thu, 12 Mar 2020 09:30:00 +0800\r\n"
            f"\r\n"
        ).encode()
        + body
        + b"\r\n"
    )


def poll(source: ImapSource, state: MemoryState) -> list[SourceItem]:
    """Drain the source the way the pipeline does: commit each item before the next."""
    items = []
    for item in source.fetch_new(state):
        state.commit(item)
        items.append(item)
    return items


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    with running_dovecot() as d:
        yield d


@pytest.fixture
def source_for(server: DovecotServer) -> Iterator[object]:
    made: list[ImapSource] = []

    def make(**overrides: object) -> ImapSource:
        made.append(ImapSource(server.mailbox_config(**overrides)))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_fetches_every_message_with_its_internaldate(server: DovecotServer, source_for) -> None:
    uids = [server.append(mail(i), T0 + timedelta(hours=i)) for i in range(3)]
    uv = server.uidvalidity()
    items = poll(source_for(), MemoryState())
    assert [i.key for i in items] == [f"imap:INBOX:{uv}:{u}" for u in uids]
    assert [i.raw for i in items] == [mail(i) for i in range(3)]
    assert [i.received for i in items] == [T0 + timedelta(hours=i) for i in range(3)]
    assert items[-1].cursor == Cursor("INBOX", uv, uids[-1])
    assert all(i.size == len(mail(n)) for n, i in enumerate(items))


def test_imaplib_trace_only_when_its_logger_listens(
    server: DovecotServer, source_for, caplog: pytest.LogCaptureFixture
) -> None:
    """imapclient turns on imaplib's trace (repr of every fetched mail); kaohe turns it
    off unless the ``imapclient.imaplib`` logger is enabled for DEBUG."""
    server.append(mail(1), T0)
    caplog.set_level(logging.INFO, logger="imapclient.imaplib")  # as the daemon runs it
    quiet = source_for()
    assert [i.raw for i in poll(quiet, MemoryState())] == [mail(1)]
    assert quiet.client()._imap.debug == 0
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")
    traced = source_for()
    assert [i.raw for i in poll(traced, MemoryState())] == [mail(1)]
    assert traced.client()._imap.debug == 5
    trace = [r.getMessage() for r in caplog.records if r.name == "imapclient.imaplib"]
    assert any("FETCH" in line for line in trace)
    assert not any(PASSWORD in line for line in trace)  # imapclient's LOGIN redaction


def test_starttls(server: DovecotServer, source_for) -> None:
    server.append(mail(1), T0)
    src = source_for(port=server.imap_port, ssl=False, starttls=True)
    assert [i.raw for i in poll(src, MemoryState())] == [mail(1)]


def test_only_new_mail_on_the_next_poll(server: DovecotServer, source_for) -> None:
    server.append(mail(1), T0)
    state = MemoryState()
    assert len(poll(source_for(), state)) == 1
    state.done.clear()  # the cursor alone must be enough
    # nothing new: "UID SEARCH UID last+1:*" still matches the last message; it must not return
    assert poll(source_for(), state) == []
    server.append(mail(2), T0 + timedelta(days=1))
    again = poll(source_for(), state)
    assert [i.raw for i in again] == [mail(2)]


def test_flags_are_never_changed(server: DovecotServer, source_for) -> None:
    server.append(mail(1), T0, flags=[b"\\Seen"])
    server.append(mail(2), T0)
    server.append(mail(3), T0, flags=[b"\\Flagged"])
    before = server.flags()
    assert len(poll(source_for(), MemoryState())) == 3
    after = server.flags()
    assert after == before
    assert not any(b"\\Seen" in f for uid, f in after.items() if uid != 1)


def test_large_message_arrives_whole_in_pieces_and_stays_unread(
    server: DovecotServer, source_for
) -> None:
    """Over CHUNK_BYTES a message is fetched with partial BODY.PEEK[]<offset.length>."""
    from ingest.mail.sources.imap import CHUNK_BYTES

    big = mail(7, size=2 * CHUNK_BYTES + 12345)
    server.append(big, T0)
    [item] = poll(source_for(), MemoryState())
    assert item.raw == big and item.size == len(big)
    assert not any(b"\\Seen" in f for f in server.flags().values())


def test_generator_is_lazy_one_body_at_a_time(server: DovecotServer) -> None:
    for i in range(5):
        server.append(mail(i), T0)
    proxy = NeteaseProxy(server.imap_port, server.ca_file, server.root / "key.pem").start()
    try:
        src = ImapSource(server.mailbox_config(port=proxy.port))
        gen = src.fetch_new(MemoryState())
        first = next(gen)
        bodies = [c for c in proxy.commands if b"BODY.PEEK[]" in c]
        assert first.raw == mail(0)
        assert len(bodies) == 1
        assert not any(b"BODY[]" in c and b"PEEK" not in c for c in proxy.commands)
        assert [c.split()[0] for c in proxy.commands[:3]] == [b"CAPABILITY", b"LOGIN", b"ID"]
        assert any(c.startswith(b"EXAMINE") for c in proxy.commands)
        gen.close()
        src.close()
    finally:
        proxy.stop()


def test_oversized_message_is_skipped_without_download(server: DovecotServer) -> None:
    server.append(mail(1, size=300_000), T0)
    server.append(mail(2), T0)
    proxy = NeteaseProxy(server.imap_port, server.ca_file, server.root / "key.pem").start()
    try:
        src = ImapSource(server.mailbox_config(port=proxy.port, max_message_mb=0.1))
        big, small = poll(src, MemoryState())
        src.close()
    finally:
        proxy.stop()
    assert big.raw is None and big.size > 300_000
    assert big.skipped_reason == "邮件过大（0.3 MB），未下载"
    assert big.cursor is not None and big.cursor.uid == 1
    assert small.raw == mail(2)
    assert sum(b"BODY.PEEK[]" in c for c in proxy.commands) == 1


def test_uidvalidity_change_rescans_the_folder(server: DovecotServer, source_for) -> None:
    server.create_folder("Forms")
    for i in range(3):
        server.append(mail(i), T0, folder="Forms")
    state = MemoryState()
    first = poll(source_for(folder="Forms"), state)
    old = server.uidvalidity("Forms")
    server.recreate_folder("Forms")
    for i in range(4):  # the same three again, plus one new
        server.append(mail(i), T0, folder="Forms")
    new = server.uidvalidity("Forms")
    assert new != old
    second = poll(source_for(folder="Forms"), state)
    # Every message comes again under the new UIDVALIDITY; the pipeline dedups by content.
    assert [i.key for i in second] == [f"imap:Forms:{new}:{u}" for u in (1, 2, 3, 4)]
    assert {i.raw for i in second} - {i.raw for i in first} == {mail(3)}


def test_failed_keys_are_retried_without_moving_the_cursor(
    server: DovecotServer, source_for
) -> None:
    for i in range(3):
        server.append(mail(i), T0)
    uv = server.uidvalidity()
    state = MemoryState(cursors={("INBOX", uv): 3}, failed=[f"imap:INBOX:{uv}:2"])
    items = poll(source_for(), state)
    assert [(i.key, i.raw, i.cursor) for i in items] == [(f"imap:INBOX:{uv}:2", mail(1), None)]


def test_163_refuses_examine_without_id(server: DovecotServer) -> None:
    server.append(mail(1), T0)
    proxy = NeteaseProxy(server.imap_port, server.ca_file, server.root / "key.pem").start()
    try:
        bare = ImapSource(server.mailbox_config(port=proxy.port, send_id=False))
        with pytest.raises(MailboxError, match="Unsafe Login.*send_id"):
            poll(bare, MemoryState())
        bare.close()
        assert proxy.refused == 1
        polite = ImapSource(server.mailbox_config(port=proxy.port))
        assert [i.raw for i in poll(polite, MemoryState())] == [mail(1)]
        polite.close()
        assert proxy.refused == 1 and proxy.ids_seen == 1
        ids = [c for c in proxy.commands if c.startswith(b"ID ")]
        assert ids[0].startswith(b'ID ("name" "kaohe-inbox" "version" "')
    finally:
        proxy.stop()


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_black_hole_times_out(server: DovecotServer, tls: str) -> None:
    hole = BlackHole().start()
    try:
        src = ImapSource(
            server.mailbox_config(
                port=hole.port,
                timeout_seconds=1.0,
                ssl=tls == "implicit",
                starttls=tls == "starttls",
            )
        )
        started = time.monotonic()
        with pytest.raises(MailboxError, match="超时"):
            poll(src, MemoryState())
        assert time.monotonic() - started < 5
        src.close()
    finally:
        hole.stop()


def test_wrong_password_names_the_auth_code_and_hides_it(
    server: DovecotServer,
    source_for,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-Secret-9f8e7d"
    monkeypatch.setenv("KAOHE_TEST_IMAP_PASSWORD", wrong)
    caplog.set_level(logging.DEBUG)  # imapclient logs every command at DEBUG
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")  # kaohe's CLI sets it to INFO
    with pytest.raises(LoginFailed) as info:
        poll(source_for(), MemoryState())
    assert str(info.value).startswith(LOGIN_HINT)
    text = str(info.value) + repr(info.value.__cause__) + repr(info.value.__context__)
    assert wrong not in text and wrong not in caplog.text
    assert PASSWORD not in caplog.text
    assert "LOGIN" in caplog.text  # the client's command log was captured (and redacted)


def test_missing_password_is_a_login_failure(
    server: DovecotServer, source_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAOHE_TEST_IMAP_PASSWORD")
    with pytest.raises(LoginFailed, match="KAOHE_TEST_IMAP_PASSWORD"):
        poll(source_for(), MemoryState())


def test_certificate_is_verified(
    server: DovecotServer, source_for, caplog: pytest.LogCaptureFixture
) -> None:
    server.append(mail(1), T0)
    with pytest.raises(MailboxError, match="证书校验失败"):
        poll(source_for(ca_file=None), MemoryState())
    with pytest.raises(MailboxError, match="证书校验失败"):
        poll(
            source_for(ca_file=None, port=server.imap_port, ssl=False, starttls=True), MemoryState()
        )
    caplog.set_level(logging.WARNING)
    assert len(poll(source_for(ca_file=None, verify_tls=False), MemoryState())) == 1
    assert "verify_tls = false" in caplog.text


def test_server_stopped_mid_poll(server: DovecotServer, source_for) -> None:
    for i in range(6):
        server.append(mail(i), T0)
    state = MemoryState()
    src = source_for(batch_size=2)
    got = []
    with pytest.raises(MailboxError):
        for item in src.fetch_new(state):
            state.commit(item)
            got.append(item.raw)
            if len(got) == 2:
                server.stop()
    server.start()
    got += [i.raw for i in poll(src, state)]  # the same source object reconnects
    assert got == [mail(i) for i in range(6)]


def test_post_action_keyword_and_copy(server: DovecotServer, source_for) -> None:
    server.append(mail(1), T0)
    server.create_folder("Archived")
    for overrides in (
        {"post_action": "keyword"},
        {"post_action": "copy", "post_folder": "Archived"},
    ):
        src = source_for(**overrides)
        for item in src.fetch_new(MemoryState()):
            src.mark_done(item)
    flags = server.flags()
    assert flags[1] == (b"KaoheArchived",)  # keyword added, \Seen still not set
    assert server.count("Archived") == 1


def _verbs(proxy: NeteaseProxy) -> list[str]:
    return [c.split(b" ", 1)[0].decode().upper() for c in proxy.commands]


def test_connect_ahead_logs_in_before_the_fetch_and_the_fetch_uses_that_connection(
    server: DovecotServer,
) -> None:
    """``kaohe poll`` has the source log in while it imports the pipeline and opens the
    database: by the time it fetches, the folder is open, on the one connection."""
    uids = [server.append(mail(i), T0 + timedelta(hours=i)) for i in range(3)]
    proxy = NeteaseProxy(server.imap_port, server.ca_file, server.root / "key.pem").start()
    try:
        src = ImapSource(server.mailbox_config(port=proxy.port))
        src.connect_ahead()
        deadline = time.monotonic() + 10
        while "EXAMINE" not in _verbs(proxy):  # logged in and examined, nothing fetched yet
            assert time.monotonic() < deadline, _verbs(proxy)
            time.sleep(0.01)
        assert "LOGIN" in _verbs(proxy) and "UID" not in _verbs(proxy)
        items = poll(src, MemoryState())
        assert [i.raw for i in items] == [mail(i) for i in range(3)]
        assert items[-1].cursor == Cursor("INBOX", server.uidvalidity(), uids[-1])
        verbs = _verbs(proxy)
        assert verbs.count("LOGIN") == 1 and verbs.count("EXAMINE") == 1  # not done again
        src.close()
        assert "LOGOUT" in _verbs(proxy)
    finally:
        proxy.stop()


def _ahead_done(src: ImapSource) -> None:
    """Wait for the login thread (with its fetch ahead) to end."""
    deadline = time.monotonic() + 10
    while [t for t in threading.enumerate() if t.name == "imap-login"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _fetches(proxy: NeteaseProxy) -> list[bytes]:
    return [c for c in proxy.commands if c.upper().startswith(b"UID FETCH")]


def _uids(command: bytes) -> list[int]:
    """The UIDs a ``UID FETCH 1,2,3 (...)`` asks for."""
    return [int(u) for u in command.split()[2].split(b",")]


def test_the_first_mails_fetched_ahead_are_used_once_and_the_rest_follow(
    server: DovecotServer,
) -> None:
    """With the database's cursor, the login thread searches and fetches the first batch's
    sizes and first bodies while the poller starts: the fetch then uses them (no second
    SEARCH, no second download of those bodies) and fetches the rest as before."""
    uids = [server.append(mail(i), T0 + timedelta(hours=i)) for i in range(10)]
    proxy = NeteaseProxy(server.imap_port, server.ca_file, server.root / "key.pem").start()
    asked: list[tuple[str, int]] = []

    def cursor(folder: str, uidvalidity: int) -> int | None:
        asked.append((folder, uidvalidity))
        return None  # a first poll: nothing stored yet

    try:
        src = ImapSource(server.mailbox_config(port=proxy.port))  # batch_size 7
        src.connect_ahead(cursor)
        _ahead_done(src)
        assert asked == [("INBOX", server.uidvalidity())]
        ahead = _fetches(proxy)
        assert len(ahead) == 2  # the batch's sizes, then the first bodies, before fetch_new
        assert _uids(ahead[0]) == uids[:7] and b"RFC822.SIZE" in ahead[0]
        assert _uids(ahead[1]) == uids[:4] and b"BODY.PEEK[]" in ahead[1]
        items = poll(src, MemoryState())
        assert [i.raw for i in items] == [mail(i) for i in range(10)]  # each once, in order
        assert [i.cursor.uid for i in items if i.cursor] == uids
        searches = [c for c in proxy.commands if c.upper().startswith(b"UID SEARCH")]
        assert len(searches) == 1
        later = _fetches(proxy)[2:]
        bodies = [c for c in later if b"BODY.PEEK[]" in c]
        assert _uids(bodies[0]) == uids[4:7]  # the rest of the first run, then the next batch
        assert _uids(bodies[1]) == uids[7:]
        assert not any(set(_uids(c)) & set(uids[:4]) for c in later)  # never fetched again
        src.close()
    finally:
        proxy.stop()


def test_a_fetch_ahead_from_a_cursor_that_moved_is_not_used(server: DovecotServer) -> None:
    """The guess is checked under the poll's lock: a cursor that moved since (another
    poll committed mail) means a new search from the real cursor; nothing comes twice."""
    uids = [server.append(mail(i), T0 + timedelta(hours=i)) for i in range(5)]
    state = MemoryState(cursors={("INBOX", server.uidvalidity()): uids[2]})
    src = ImapSource(server.mailbox_config())
    src.connect_ahead(lambda folder, uidvalidity: None)  # read before the other poll's commit
    items = poll(src, state)
    assert [i.raw for i in items] == [mail(3), mail(4)]
    assert [i.raw for i in poll(src, state)] == []
    src.close()


def test_a_fetch_ahead_that_fails_costs_only_the_guess(server: DovecotServer) -> None:
    uids = [server.append(mail(i), T0 + timedelta(hours=i)) for i in range(3)]

    def broken(folder: str, uidvalidity: int) -> int | None:
        raise RuntimeError("database locked")

    src = ImapSource(server.mailbox_config())
    src.connect_ahead(broken)
    items = poll(src, MemoryState())
    assert [i.raw for i in items] == [mail(i) for i in range(3)]
    assert items[-1].cursor == Cursor("INBOX", server.uidvalidity(), uids[-1])
    src.close()


def test_a_login_that_failed_ahead_is_raised_by_the_fetch(
    server: DovecotServer, source_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-Secret-ahead-1a2b"
    monkeypatch.setenv("KAOHE_TEST_IMAP_PASSWORD", wrong)
    src = source_for()
    src.connect_ahead()
    with pytest.raises(LoginFailed) as info:
        poll(src, MemoryState())
    assert str(info.value).startswith(LOGIN_HINT) and wrong not in str(info.value)
    monkeypatch.setenv("KAOHE_TEST_IMAP_PASSWORD", PASSWORD)
    server.append(mail(1), T0)
    assert [i.raw for i in poll(src, MemoryState())] == [mail(1)]  # the next try logs in


def test_closing_while_a_login_is_still_in_flight_waits_for_it(server: DovecotServer) -> None:
    hole = BlackHole().start()  # accepts, never answers: the login thread waits for its timeout
    try:
        src = ImapSource(server.mailbox_config(port=hole.port, timeout_seconds=1.0))
        src.connect_ahead()
        started = time.monotonic()
        src.close()  # no error (the poll never began); the thread has ended
        assert 0.5 < time.monotonic() - started < 5
        assert not [t for t in threading.enumerate() if t.name == "imap-login"]
    finally:
        hole.stop()

"""Fetching IMAP messages one UID at a time, each fault contained to its UID.

A message the server cannot serve — a FETCH reply imapclient cannot parse, the
connection closed or stalled inside the message literal, a non-numeric
RFC822.SIZE, no FETCH line (or one without its UID) for a UID that SEARCH
listed — becomes a ``failed`` :class:`SourceItem` whose Chinese reason names the
UID. The pipeline records it (the cursor may pass it only because it now has a
row), retries it on later polls up to ``mailbox.max_attempts``, and the reports
show it to the clerk. The poll goes on with the next UID: after a network fault
on a fresh connection (LOGIN, ID, EXAMINE again), after a parse fault on the same
one once a NOOP shows it is still in step.

Bounded per poll: after :data:`MAX_RECONNECTS` reconnections, or
:data:`MAX_STREAK` failures in a row, the poll stops with :class:`MailboxError`
naming the UID; everything committed so far stays, the rest comes next poll.

Sizes and INTERNALDATEs are fetched per batch; a batch reply that cannot be read,
or that lacks a UID it was asked for (a line without its UID is keyed by sequence
number and could be taken for another message), is not trusted and each UID is
asked for alone.

Bodies of small messages also come per batch (one ``UID FETCH`` for up to
:data:`BODY_BATCH_BYTES`; the round trip per message was most of a cold poll's
time), trusted only when the reply holds exactly the UIDs asked for, each with its
body. The first batch that faults turns batching off for the rest of the poll:
the connection is made usable again (a reconnection that does not count against
:data:`MAX_RECONNECTS`, at most one per poll) and its UIDs, like all later ones,
are fetched one at a time as above, so the fault is pinned to its UID (a
transient fault may then simply not recur). Large messages come alone, in pieces.

The first batch may be fetched ahead (:meth:`Fetcher.fetch_ahead`, by the login
thread of ``kaohe poll`` while the poller imports and opens its database): its sizes
and bodies are then taken from what came ahead, by the same instance, with the same
fault budget; a batch it does not cover is fetched as above.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, ProtocolError

from ingest.core.config import MailboxConfig
from ingest.mail.sources.base import Cursor, MailboxError, SourceItem, SourceState

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 * 1024 * 1024  # larger messages are fetched in pieces of this size
BODY_BATCH_BYTES = 8 * 1024 * 1024  # bodies fetched in one command, at most (by RFC822.SIZE)
AHEAD_BODIES = 4  # bodies fetched ahead (Fetcher.fetch_ahead)
NETWORK_ERRORS = (OSError, ssl.SSLError, socket.timeout, IMAPClientAbortError)
META = ["RFC822.SIZE", "INTERNALDATE"]
MAX_RECONNECTS = 3  # per poll
MAX_STREAK = 5  # failed UIDs in a row before the poll stops

FORMAT = "服务器返回的邮件（UID {uid}）格式错误，无法读取"
REFUSED = "服务器拒绝读取这封邮件（UID {uid}）"
DROPPED = "下载邮件（UID {uid}）时与服务器的连接中断"
TIMEOUT = "下载邮件（UID {uid}）时服务器超过 {seconds} 秒没有响应"
BAD_SIZE = "服务器报告的邮件（UID {uid}）大小无法识别"
NOT_RETURNED = "服务器未返回这封邮件（UID {uid}）"
NO_BODY = "服务器没有返回这封邮件（UID {uid}）的内容"
TOO_BIG = "邮件过大（{mb:.1f} MB），未下载"


class Link(Protocol):
    """The connection as the fetcher needs it (implemented by ImapSource)."""

    def client(self) -> IMAPClient:
        """The open, selected connection; MailboxError if there is none."""

    def reopen(self) -> None:
        """Drop the connection, connect, LOGIN, ID, EXAMINE again; MailboxError on failure."""

    def drop(self) -> None:
        """Close an unusable connection without LOGOUT."""


class FetchFault(Exception):
    """One UID could not be fetched; *reason* is what the clerk reads."""

    def __init__(self, reason: str, detail: str, broken: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail  # the library's words, for the log only
        self.broken = broken  # the connection is unusable


def item_key(folder: str, uidvalidity: int, uid: int) -> str:
    return f"imap:{folder}:{uidvalidity}:{uid}"


@dataclass
class Fetcher:
    """Yields one SourceItem per UID; one instance per poll (it holds the fault budget)."""

    link: Link
    cfg: MailboxConfig
    uidvalidity: int
    reconnects: int = 0
    streak: int = 0
    batched: bool = True  # bodies per batch, until the first batch that faults
    ahead_meta: dict[int, dict[bytes, Any]] = field(default_factory=dict)  # see fetch_ahead
    ahead_bodies: dict[int, bytes] = field(default_factory=dict)

    def fetch_ahead(self, uids: Sequence[int]) -> None:
        """Fetch the sizes and dates of the first batch of *uids*, and the bodies of the
        first :data:`AHEAD_BODIES` of its first run, now: :meth:`items` takes them from
        here (its first batch may be smaller, once the cursor's items already done are
        left out, never different) and yields them before it fetches the rest of that run.
        Few bodies: the login thread then ends before the poller needs the first mail."""
        batch = list(uids[: max(1, self.cfg.batch_size)])
        self.ahead_meta = meta = self._batch_meta(batch)
        groups = self._body_groups(batch, meta)
        if groups:
            self.ahead_bodies = self._batch_bodies(groups[0][:AHEAD_BODIES])

    def items(
        self, uids: Sequence[int], advance: bool, state: SourceState | None = None
    ) -> Iterator[SourceItem]:
        """*uids* in batches; ``advance``: the items carry the cursor (new mail, not retries)."""
        step = max(1, self.cfg.batch_size)
        for start in range(0, len(uids), step):
            batch = list(uids[start : start + step])
            if state is not None:
                batch = [u for u in batch if not state.key_done(self.key(u))]
            meta = self._batch_meta(batch)
            for group in self._ahead_first(self._body_groups(batch, meta)):
                bodies = self._batch_bodies(group)
                for uid in group:
                    cursor = Cursor(self.cfg.folder, self.uidvalidity, uid) if advance else None
                    raw = bodies.pop(uid, None)
                    if raw is None:
                        yield from self._one(uid, meta.get(uid), cursor)
                        continue
                    self.streak = 0
                    out = [SourceItem(self.key(uid), received_of(meta[uid]), raw, len(raw), cursor)]
                    del raw  # held by the consumer alone while this generator waits
                    yield out.pop()

    @property
    def _max_bytes(self) -> float:
        return self.cfg.max_message_mb * 1024 * 1024

    def key(self, uid: int) -> str:
        return item_key(self.cfg.folder, self.uidvalidity, uid)

    # ------------------------------------------------------------------ one UID

    def _one(
        self, uid: int, meta: dict[bytes, Any] | None, cursor: Cursor | None
    ) -> Iterator[SourceItem]:
        try:
            item = self._item(uid, meta, cursor)
        except FetchFault as fault:
            log.warning("邮件 %s 读取失败：%s", self.key(uid), fault.reason)
            log.debug("邮件 %s 读取失败的细节：%s", self.key(uid), fault.detail)
            self.streak += 1
            stop = self._recover(fault.broken, f"UID {uid}")
            yield SourceItem(
                key=self.key(uid),
                received=received_of(meta),
                raw=None,
                size=0,
                cursor=cursor,
                failed_reason=fault.reason,
            )
            if stop:
                raise MailboxError(stop) from None
            return
        self.streak = 0
        out = [item]
        del item  # held by the consumer alone while this generator waits
        yield out.pop()

    def _item(self, uid: int, meta: dict[bytes, Any] | None, cursor: Cursor | None) -> SourceItem:
        if meta is None:
            meta = self._call(uid, META).get(uid)
            if meta is None:
                raise FetchFault(NOT_RETURNED.format(uid=uid), "no FETCH line", broken=False)
        size = size_of(uid, meta)
        received = received_of(meta)
        if size > self._max_bytes:
            reason = TOO_BIG.format(mb=size / 1024 / 1024)
            log.warning("邮件 %s %s", self.key(uid), reason)
            key = self.key(uid)
            return SourceItem(key, received, None, size, cursor, skipped_reason=reason)
        raw = self._body(uid, size)
        return SourceItem(self.key(uid), received, raw, len(raw), cursor)

    def _body(self, uid: int, size: int) -> bytes:
        """The message bytes (BODY.PEEK[]: \\Seen stays as it was).

        A large message comes in partial fetches: imaplib and imapclient's response
        parser hold several copies of one literal, so a 36 MB mail fetched whole
        peaked near 120 MB; in 4 MB pieces the whole is held about twice.
        """
        if size <= CHUNK_BYTES:
            raw = self._call(uid, ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            if raw is None:
                raise FetchFault(NO_BODY.format(uid=uid), "no BODY[] item", broken=False)
            return bytes(raw)
        pieces: list[bytes] = []
        offset = 0
        while offset < size:
            got = self._call(uid, [f"BODY.PEEK[]<{offset}.{CHUNK_BYTES}>"]).get(uid, {})
            piece = got.get(f"BODY[]<{offset}>".encode())
            if piece is None:
                raise FetchFault(NO_BODY.format(uid=uid), f"no piece at {offset}", broken=False)
            pieces.append(bytes(piece))
            if len(piece) < CHUNK_BYTES:
                break
            offset += len(piece)
        return b"".join(pieces)

    def _call(self, uid: int, parts: list[str]) -> dict[int, dict[bytes, Any]]:
        """``UID FETCH uid (parts)``, every failure turned into a FetchFault naming *uid*."""
        client = self.link.client()
        try:
            return dict(client.fetch([uid], parts))
        except NETWORK_ERRORS as e:
            if isinstance(e, TimeoutError):
                seconds = f"{self.cfg.timeout_seconds:g}"
                raise FetchFault(
                    TIMEOUT.format(uid=uid, seconds=seconds), "timeout", True
                ) from None
            raise FetchFault(DROPPED.format(uid=uid), _detail(e), broken=True) from None
        except (ProtocolError, ValueError, TypeError) as e:
            raise FetchFault(FORMAT.format(uid=uid), _detail(e), broken=False) from None
        except IMAPClientError as e:
            raise FetchFault(REFUSED.format(uid=uid), _detail(e), broken=False) from None

    # ------------------------------------------------------------------- batches

    def _batch_meta(self, batch: list[int]) -> dict[int, dict[bytes, Any]]:
        """Sizes and dates of *batch* in one FETCH; {} when the reply is not to be trusted."""
        if len(batch) < 2:
            return {}
        if all(u in self.ahead_meta for u in batch):  # fetched ahead (then dropped: once)
            ahead, self.ahead_meta = self.ahead_meta, {}
            return {u: ahead[u] for u in batch}
        self.ahead_meta = {}
        where = f"UID {batch[0]}–{batch[-1]}"
        try:
            got = dict(self.link.client().fetch(batch, META))
        except NETWORK_ERRORS as e:
            log.warning("批量读取邮件信息（%s）时连接中断，改为逐封读取", where)
            log.debug("批量读取的细节：%s", _detail(e))
            stop = self._recover(True, where)
        except (IMAPClientError, ValueError, TypeError) as e:
            log.warning("批量读取邮件信息（%s）失败，改为逐封读取", where)
            log.debug("批量读取的细节：%s", _detail(e))
            stop = self._recover(False, where)
        else:
            missing = [u for u in batch if u not in got]
            if not missing:
                return got
            log.warning("批量读取邮件信息时服务器未返回 UID %s，改为逐封读取", missing)
            return {}
        if stop:
            raise MailboxError(stop)
        return {}

    def _body_groups(self, batch: list[int], meta: dict[int, dict[bytes, Any]]) -> list[list[int]]:
        """*batch* cut in runs whose bodies are fetched together (a run of one: alone).

        Only messages with a readable size of at most :data:`CHUNK_BYTES` join a run;
        the others (too large, unreadable size, every UID once batching is off) stand
        alone, in order.
        """
        groups: list[list[int]] = []
        run: list[int] = []
        run_bytes = 0
        for uid in batch:
            size = (meta.get(uid) or {}).get(b"RFC822.SIZE")
            small = isinstance(size, int) and 0 <= size <= min(CHUNK_BYTES, self._max_bytes)
            if not (self.batched and small):
                if run:
                    groups.append(run)
                groups.append([uid])
                run, run_bytes = [], 0
                continue
            assert isinstance(size, int)
            if run and run_bytes + size > BODY_BATCH_BYTES:
                groups.append(run)
                run, run_bytes = [], 0
            run.append(uid)
            run_bytes += size
        if run:
            groups.append(run)
        return groups

    def _ahead_first(self, groups: list[list[int]]) -> list[list[int]]:
        """The first run cut after the UIDs whose bodies came ahead: those are yielded
        before the rest of the run is fetched."""
        if not (self.ahead_bodies and groups):
            return groups
        first, n = groups[0], 0
        while n < len(first) and first[n] in self.ahead_bodies:
            n += 1
        return [first[:n], first[n:], *groups[1:]] if 0 < n < len(first) else groups

    def _batch_bodies(self, group: list[int]) -> dict[int, bytes]:
        """Bodies of *group* in one FETCH; {} (each UID alone) for one UID or a faulty reply."""
        ahead, self.ahead_bodies = self.ahead_bodies, {}  # for the first run or never
        if group and all(u in ahead for u in group):  # fetched ahead
            return {u: ahead[u] for u in group}
        if len(group) < 2 or not self.batched:
            return {}
        where = f"UID {group[0]}–{group[-1]}"
        try:
            got = dict(self.link.client().fetch(group, ["BODY.PEEK[]"]))
        except NETWORK_ERRORS as e:
            self._stop_batching(where, e, broken=True)
            return {}
        except (IMAPClientError, ValueError, TypeError) as e:
            self._stop_batching(where, e, broken=False)
            return {}
        bodies = {u: v.get(b"BODY[]") for u, v in got.items() if isinstance(v, dict)}
        if set(bodies) != set(group) or not all(isinstance(b, bytes) for b in bodies.values()):
            # a line without its UID is keyed by sequence number: trust none of the reply
            log.warning("批量下载邮件（%s）时服务器的回复不完整，改为逐封下载", where)
            self.batched = False
            return {}
        return {u: bytes(b) for u, b in bodies.items() if isinstance(b, bytes)}

    def _stop_batching(self, where: str, e: BaseException, broken: bool) -> None:
        """A batch of bodies faulted: one at a time from now on, on a usable connection."""
        log.warning("批量下载邮件（%s）失败，改为逐封下载", where)
        log.debug("批量下载的细节：%s", _detail(e))
        self.batched = False
        if broken or not self._alive():
            log.info("重新连接邮箱服务器（批量下载失败后）")
            self.link.reopen()  # MailboxError (e.g. UIDVALIDITY changed) stops the poll

    # -------------------------------------------------------------------- faults

    def _recover(self, broken: bool, where: str) -> str | None:
        """Make the connection usable again; the reason to stop the poll, if it must stop."""
        if not broken and not self._alive():
            broken = True
        if broken:
            if self.reconnects >= MAX_RECONNECTS:
                self.link.drop()
                return (
                    f"收信中止：与邮箱服务器的连接反复中断（本次已重连 {self.reconnects} 次，"
                    f"最近一次在读取邮件 {where} 时）；已收到的邮件均已保存，下次收信继续"
                )
            self.reconnects += 1
            log.info("重新连接邮箱服务器（本次第 %s 次）", self.reconnects)
            self.link.reopen()
        if self.streak >= MAX_STREAK:
            return (
                f"收信中止：服务器连续 {self.streak} 封邮件无法读取（最近一次 {where}）；"
                "已收到的邮件均已保存，下次收信重试"
            )
        return None

    def _alive(self) -> bool:
        """After a reply that could not be parsed: is the connection still in step?"""
        try:
            self.link.client().noop()
        except (*NETWORK_ERRORS, IMAPClientError, ValueError, MailboxError):
            return False
        return True


def size_of(uid: int, meta: dict[bytes, Any]) -> int:
    value = meta.get(b"RFC822.SIZE")
    if isinstance(value, int) and value >= 0:
        return value
    raise FetchFault(BAD_SIZE.format(uid=uid), f"RFC822.SIZE {value!r}", broken=False)


def received_of(meta: dict[bytes, Any] | None) -> datetime:
    """INTERNALDATE as an aware UTC datetime (naive values are taken as UTC; none: now)."""
    value = (meta or {}).get(b"INTERNALDATE")
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _detail(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]

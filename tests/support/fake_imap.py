"""A small IMAP4rev1 server on loopback that misbehaves on purpose, one UID at a time.

It speaks just enough IMAP for imapclient and :class:`ingest.mail.sources.imap.ImapSource`:
CAPABILITY, ID, LOGIN, EXAMINE/SELECT (UIDVALIDITY, EXISTS, UIDNEXT), UID SEARCH,
UID FETCH (UID, FLAGS, RFC822.SIZE, INTERNALDATE, BODY.PEEK[] and BODY.PEEK[]<o.n>),
NOOP, LOGOUT. Like 163.com it refuses EXAMINE until the client sent ID.

Faults are injected per UID (:meth:`FakeImapServer.inject`) and may fire only the
first *times* times, so a retry can succeed. Each is a reply seen from a real
server somewhere: a FETCH line imapclient cannot parse, a connection closed or
stalled inside a message literal, a non-numeric RFC822.SIZE, a FETCH line without
the UID item, no FETCH line at all, a garbled or duplicated number in SEARCH.

Plain TCP only (the client is configured with ``ssl = false``); the asyncio loop
runs in a daemon thread, so a synchronous test can drive the real client.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Self

from tests.support.dovecot import ROSTER_CSV, config_text

USER = "nzkhb@163.com"
PASSWORD = "fake-auth-code-8Hq2"
PASSWORD_ENV = "KAOHE_FAKE_IMAP_PASSWORD"
UNSAFE = b"NO SELECT Unsafe Login. Please contact kefu@188.com for help"
CAPABILITIES = b"IMAP4rev1 ID UIDPLUS"
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|\(([^)]*)\)|(\S+)')
_PARTIAL = re.compile(rb"BODY\.PEEK\[\]<(\d+)\.(\d+)>", re.IGNORECASE)


class Fault(StrEnum):
    MALFORMED = "malformed"  # FETCH item list with a value missing (imapclient: ProtocolError)
    CLOSE_IN_LITERAL = "close_in_literal"  # half the body literal, then the connection closes
    STALL_IN_LITERAL = "stall_in_literal"  # half the body literal, then silence
    BAD_SIZE = "bad_size"  # RFC822.SIZE 12x
    NO_UID = "no_uid"  # the FETCH line lacks the UID item
    MISSING = "missing"  # no FETCH line for this UID at all (SEARCH still lists it)
    GARBLED_SEARCH = "garbled_search"  # * SEARCH 101 x103 104
    DUPLICATE_SEARCH = "duplicate_search"  # * SEARCH 105 104 103 103 102 101
    GARBLED_LISTING = "garbled_listing"  # UID FETCH n:* (UID) answers "UID x103"


BODY_FAULTS = (Fault.CLOSE_IN_LITERAL, Fault.STALL_IN_LITERAL)


@dataclass
class Injection:
    fault: Fault
    times: int | None  # None: every time
    fired: int = 0

    def fire(self) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass
class FakeMessage:
    uid: int
    raw: bytes
    when: datetime
    flags: tuple[bytes, ...] = ()


@dataclass
class Session:
    number: int
    identified: bool = False
    authenticated: bool = False
    selected: bool = False


@dataclass
class FakeImapServer:
    """The server; ``with FakeImapServer() as s:`` runs it on 127.0.0.1:<s.port>."""

    uidvalidity: int = 1700000000
    next_uid: int = 101  # UIDs differ from sequence numbers, as on any mailbox with history
    require_id: bool = True
    renumber_after_cut: bool = False  # a new UIDVALIDITY once a connection was cut
    messages: list[FakeMessage] = field(default_factory=list)
    faults: dict[int, list[Injection]] = field(default_factory=dict)
    commands: list[tuple[int, bytes]] = field(default_factory=list)  # (connection, line)
    connections: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    # ---------------------------------------------------------------- the test's side

    def add(self, raw: bytes, when: datetime, flags: tuple[bytes, ...] = ()) -> int:
        uid, self.next_uid = self.next_uid, self.next_uid + 1
        self.messages.append(FakeMessage(uid, raw, when, flags))
        return uid

    def inject(self, uid: int, fault: Fault, times: int | None = None) -> None:
        """Misbehave on *uid* (every time, or only the first *times* times)."""
        self.faults.setdefault(uid, []).append(Injection(fault, times))

    def clear_faults(self) -> None:
        self.faults.clear()

    def uids(self) -> list[int]:
        return [m.uid for m in self.messages]

    def commands_named(self, name: bytes) -> list[tuple[int, bytes]]:
        return [(n, c) for n, c in self.commands if name.upper() in c.upper().split()[:3]]

    def __enter__(self) -> Self:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake IMAP server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # ---------------------------------------------------------------- the loop

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in self._writers:
            w.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        session = Session(self.connections)
        try:
            writer.write(b"* OK [CAPABILITY " + CAPABILITIES + b"] fake 163 ready\r\n")
            await writer.drain()
            while line := await reader.readline():
                self.commands.append((session.number, line.rstrip(b"\r\n")))
                if not await self._dispatch(session, line.rstrip(b"\r\n"), reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _dispatch(
        self,
        session: Session,
        line: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one command; False when the connection is to be closed."""
        tag, _, rest = line.partition(b" ")
        name, _, args = rest.partition(b" ")
        name = name.upper()
        if name == b"UID":
            name, _, args = args.partition(b" ")
            name = b"UID " + name.upper()
        out = Reply(tag, writer)
        handler = {
            b"CAPABILITY": self._capability,
            b"NOOP": self._noop,
            b"ID": self._id,
            b"LOGIN": self._login,
            b"EXAMINE": self._select,
            b"SELECT": self._select,
            b"UID SEARCH": self._search,
        }.get(name)
        if name == b"LOGOUT":
            await out.send(b"* BYE logging out", b"OK LOGOUT completed")
            return False
        if name == b"UID FETCH":
            return await self._fetch(session, args, out, reader)
        if handler is None:
            await out.send(b"BAD unknown command")
            return True
        await handler(session, args, out)
        return True

    # ---------------------------------------------------------------- commands

    async def _capability(self, session: Session, args: bytes, out: Reply) -> None:
        await out.send(b"* CAPABILITY " + CAPABILITIES, b"OK CAPABILITY completed")

    async def _noop(self, session: Session, args: bytes, out: Reply) -> None:
        await out.send(b"OK NOOP completed")

    async def _id(self, session: Session, args: bytes, out: Reply) -> None:
        session.identified = True
        await out.send(b'* ID ("name" "fake163")', b"OK ID completed")

    async def _login(self, session: Session, args: bytes, out: Reply) -> None:
        words = tokens(args)
        if words[:2] == [USER.encode(), PASSWORD.encode()]:
            session.authenticated = True
            await out.send(b"OK LOGIN completed")
        else:
            await out.send(b"NO [AUTHENTICATIONFAILED] invalid credentials")

    async def _select(self, session: Session, args: bytes, out: Reply) -> None:
        if not session.authenticated:
            await out.send(b"BAD not logged in")
        elif self.require_id and not session.identified:
            await out.send(UNSAFE)
        elif tokens(args)[:1] != [b"INBOX"]:
            await out.send(b"NO no such folder")
        else:
            session.selected = True
            await out.send(
                b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)",
                f"* {len(self.messages)} EXISTS".encode(),
                b"* 0 RECENT",
                f"* OK [UIDVALIDITY {self.uidvalidity}] UIDs valid".encode(),
                f"* OK [UIDNEXT {self.next_uid}] predicted next UID".encode(),
                b"OK [READ-ONLY] EXAMINE completed",
            )

    async def _search(self, session: Session, args: bytes, out: Reply) -> None:
        words = tokens(args)
        if not session.selected or len(words) != 2 or words[0].upper() != b"UID":
            await out.send(b"BAD only UID SEARCH UID <set> is served here")
            return
        found = self._in_set(words[1])
        numbers = [str(u).encode() for u in found]
        for uid in found:
            if self._fires(uid, Fault.GARBLED_SEARCH):
                numbers[numbers.index(str(uid).encode())] = b"x%d" % uid
            if self._fires(uid, Fault.DUPLICATE_SEARCH):
                numbers = list(reversed(numbers)) + [str(uid).encode()]
        await out.send(b" ".join([b"* SEARCH", *numbers]).rstrip(), b"OK SEARCH completed")

    async def _fetch(
        self, session: Session, args: bytes, out: Reply, reader: asyncio.StreamReader
    ) -> bool:
        words = tokens(args)
        if not session.selected or len(words) != 2:
            await out.send(b"BAD UID FETCH <set> (<items>) expected")
            return True
        items = words[1].upper().split()
        for uid in self._in_set(words[0]):
            seq = self.uids().index(uid) + 1
            if not await self._fetch_one(seq, self.messages[seq - 1], items, out, reader):
                return False
        await out.send(b"OK FETCH completed")
        return True

    async def _fetch_one(
        self,
        seq: int,
        msg: FakeMessage,
        items: list[bytes],
        out: Reply,
        reader: asyncio.StreamReader,
    ) -> bool:
        """One ``* seq FETCH (…)`` line, or the fault planned for it; False: connection gone."""
        uid = msg.uid
        listing = items == [b"UID"]
        if not listing and self._fires(uid, Fault.MISSING):
            return True
        parts = self._items(msg, items, listing)
        body = next((p for p in parts if isinstance(p, bytes) and p.startswith(b"\0")), None)
        for fault in BODY_FAULTS:
            if body is not None and self._fires(uid, fault):
                await out.cut(seq, parts, fault == Fault.STALL_IN_LITERAL, reader)
                if self.renumber_after_cut:
                    self.uidvalidity += 1
                return False
        if not listing and self._fires(uid, Fault.MALFORMED):
            parts = parts[:-1]  # an item without its value: uneven list
        await out.fetch_line(seq, parts)
        return True

    def _items(self, msg: FakeMessage, items: list[bytes], listing: bool) -> list[bytes]:
        """Item names and values, alternating; a body value is marked by a leading NUL."""
        uid = msg.uid
        parts: list[bytes] = []
        if listing and self._fires(uid, Fault.GARBLED_LISTING):
            parts += [b"UID", b"x%d" % uid]
        elif listing or not self._fires(uid, Fault.NO_UID):
            parts += [b"UID", str(uid).encode()]
        for item in items:
            if item == b"RFC822.SIZE":
                size = (
                    b"%dx" % len(msg.raw)
                    if self._fires(uid, Fault.BAD_SIZE)
                    else b"%d" % len(msg.raw)
                )
                parts += [b"RFC822.SIZE", size]
            elif item == b"INTERNALDATE":
                parts += [b"INTERNALDATE", b'"' + imap_date(msg.when) + b'"']
            elif item == b"FLAGS":
                parts += [b"FLAGS", b"(" + b" ".join(msg.flags) + b")"]
            elif item == b"BODY.PEEK[]":
                parts += [b"BODY[]", b"\0" + msg.raw]
            elif m := _PARTIAL.fullmatch(item):
                start, length = int(m[1]), int(m[2])
                parts += [b"BODY[]<%d>" % start, b"\0" + msg.raw[start : start + length]]
        return parts

    def _fires(self, uid: int, fault: Fault) -> bool:
        return any(i.fault == fault and i.fire() for i in self.faults.get(uid, []))

    def _in_set(self, text: bytes) -> list[int]:
        """UIDs of existing messages in an IMAP UID set such as ``101:*`` or ``101,103:104``."""
        have = self.uids()
        top = max(have, default=0)
        chosen: set[int] = set()
        for piece in text.split(b","):
            a, _, b = piece.partition(b":")
            lo = top if a == b"*" else int(a)
            hi = lo if not b else top if b == b"*" else int(b)
            lo, hi = min(lo, hi), max(lo, hi)
            chosen.update(u for u in have if lo <= u <= hi)
        return sorted(chosen)


@dataclass
class Reply:
    """Writes the responses to one tagged command."""

    tag: bytes
    writer: asyncio.StreamWriter

    async def send(self, *lines: bytes) -> None:
        """Untagged lines (starting with ``*``) as given; the last line gets the tag."""
        for line in lines:
            prefix = b"" if line.startswith(b"*") else self.tag + b" "
            self.writer.write(prefix + line + b"\r\n")
        await self.writer.drain()

    async def fetch_line(self, seq: int, parts: list[bytes]) -> None:
        chunks = [b"* %d FETCH (" % seq]
        for i, p in enumerate(parts):
            sep = b" " if i else b""
            if p.startswith(b"\0"):
                chunks.append(sep + b"{%d}\r\n" % (len(p) - 1) + p[1:])
            else:
                chunks.append(sep + p)
        self.writer.write(b"".join(chunks) + b")\r\n")
        await self.writer.drain()

    async def cut(
        self, seq: int, parts: list[bytes], stall: bool, reader: asyncio.StreamReader
    ) -> None:
        """Announce the body literal, send half of it, then close (or go silent until EOF)."""
        head = [p for p in parts if not p.startswith(b"\0")]
        body = next(p[1:] for p in parts if p.startswith(b"\0"))
        self.writer.write(b"* %d FETCH (" % seq + b" ".join(head) + b" {%d}\r\n" % len(body))
        self.writer.write(body[: len(body) // 2])
        await self.writer.drain()
        if stall:
            await reader.read()  # until the client gives up and closes
        self.writer.close()


def tokens(args: bytes) -> list[bytes]:
    """Quoted strings (unescaped), parenthesised lists (inner text) and atoms."""
    out = []
    for m in _TOKEN.finditer(args):
        if m[1] is not None:
            out.append(re.sub(rb"\\(.)", rb"\1", m[1]))
        else:
            out.append(m[2] if m[2] is not None else m[3])
    return out


def imap_date(when: datetime) -> bytes:
    return when.strftime("%d-%b-%Y %H:%M:%S %z").encode()


def write_fake_config(server: FakeImapServer, where: Path, **mailbox: object) -> Path:
    """A complete kaohe config (roster, data_dir) whose ``[mailbox]`` is *server*, plain IMAP.

    The password is read from ``$KAOHE_FAKE_IMAP_PASSWORD`` (set it to :data:`PASSWORD`);
    *mailbox* overrides ``[mailbox]`` keys. Returns the config path."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
    values: dict[str, object] = {
        "source": "imap",
        "host": "127.0.0.1",
        "port": server.port,
        "ssl": False,
        "starttls": False,
        "username": USER,
        "password_env": PASSWORD_ENV,
        "folder": "INBOX",
        "timeout_seconds": 2.0,
        "batch_size": 3,
        "max_attempts": 3,
    }
    values.update(mailbox)
    path = where / "config.toml"
    path.write_text(config_text(values), encoding="utf-8")
    return path

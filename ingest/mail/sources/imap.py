"""The IMAP mailbox source (NetEase 163.com in production).

With its two helpers, :mod:`imap_list` (which UIDs are new) and
:mod:`imap_fetch` (one UID at a time, faults contained), the only modules that
import imapclient.

Guarantees, in the order a poll runs:

* TLS with certificate verification (implicit, or STARTTLS); socket timeouts on
  connect and read, so a dead connection raises instead of hanging.
* After LOGIN, the RFC 2971 ``ID`` command: 163 answers ``SELECT``/``EXAMINE``
  with "NO SELECT Unsafe Login" to clients that did not identify themselves.
* ``EXAMINE`` (read-only) and ``BODY.PEEK[]``: the mailbox, ``\\Seen`` flags
  included, is never changed unless a post-action is configured.
* Incremental by (folder, UIDVALIDITY, UID): ``UID SEARCH UID last+1:*`` finds
  what is new; ``*`` always matches the last message, so UIDs ≤ last are
  filtered out. A new UIDVALIDITY means the old UIDs mean nothing: the whole
  folder is offered again and the pipeline deduplicates by content hash and
  Message-ID.
* The new UIDs come from a strictly read SEARCH (see :mod:`imap_list`); each
  is fetched with its faults contained to it (see :mod:`imap_fetch`): a message
  the server cannot serve becomes a ``failed`` item naming its UID, retried on
  later polls, and the poll goes on. New mail comes first, then earlier failures.
* The generator is lazy: bodies are downloaded a batch at a time, as the pipeline
  asks for the next message (it commits them in batches, the cursor past each).
* ``kaohe poll`` starts the login in a thread (:meth:`ImapSource.connect_ahead`) and
  there, from the database's cursor, the search and the first mails' download: the
  server's round trips overlap the poll's own start; what was fetched ahead is used
  only if the cursor is unchanged once the poll holds its lock.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError, IMAPClientError, LoginError

from ingest import VERSION
from ingest.core.config import ConfigError, MailboxConfig
from ingest.core.secrets import Secret, SecretError, load_secret
from ingest.mail.sources.base import LoginFailed, MailboxError, SourceItem, SourceState
from ingest.mail.sources.imap_fetch import CHUNK_BYTES, NETWORK_ERRORS, Fetcher, item_key
from ingest.mail.sources.imap_list import new_uids

__all__ = ["CHUNK_BYTES", "LOGIN_HINT", "ImapSource", "item_key", "parse_key"]

log = logging.getLogger(__name__)

LOGIN_HINT = "登录失败：请检查 163 邮箱的客户端授权码（授权码），而不是网页登录密码"


def program_version() -> str:
    """The version the ID command names (``ingest.VERSION``, kept equal to the package's
    by a test; importlib.metadata would cost each poll ~25 ms to look it up)."""
    return VERSION


IMAPLIB_LOGGER = "imapclient.imaplib"


def quiet_imaplib(client: IMAPClient) -> None:
    """Turn off imaplib's trace unless someone listens to it.

    imapclient sets ``imaplib.IMAP4.debug = 5`` and routes the trace to the
    ``imapclient.imaplib`` logger. At that level imaplib formats ``repr()`` of
    every line and of every fetched literal (the whole mail) before the logger
    can decline it: a cold poll of 21 MB spent ~0.15 s of its main thread on
    text nobody reads. With the logger at DEBUG the trace stays as imapclient
    makes it (with its LOGIN redaction).
    """
    if not logging.getLogger(IMAPLIB_LOGGER).isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def parse_key(key: str) -> tuple[str, int, int]:
    """``imap:FOLDER:UIDVALIDITY:UID`` → (folder, uidvalidity, uid); the folder may contain ':'."""
    head, uidvalidity, uid = key.rsplit(":", 2)
    return head.removeprefix("imap:"), int(uidvalidity), int(uid)


CursorHint = Callable[[str, int], "int | None"]  # (folder, UIDVALIDITY) -> last UID stored


@dataclass
class _Ahead:
    """What the login thread found and fetched ahead (see :meth:`ImapSource.connect_ahead`)."""

    uidvalidity: int
    last: int | None  # the cursor it searched from
    new: list[int]
    fetcher: Fetcher  # holding the first batch's sizes and bodies


class ImapSource:
    """A :class:`~ingest.mail.sources.base.MailSource` reading one folder of an IMAP mailbox."""

    def __init__(self, cfg: MailboxConfig) -> None:
        if cfg.post_action == "copy" and not cfg.post_folder:
            raise ConfigError('mailbox.post_action = "copy" 时必须设置 mailbox.post_folder')
        self.cfg = cfg
        self.copy_warning: str | None = None  # INTERNALDATE is the server's receipt time
        self._client: IMAPClient | None = None
        self._uidvalidity: int | None = None
        self._ahead: threading.Thread | None = None  # see connect_ahead
        self._ahead_error: BaseException | None = None
        self._fetched_ahead: _Ahead | None = None

    def connect_ahead(self, cursor: CursorHint | None = None) -> None:
        """Log in and open the folder in a thread, now: ``kaohe poll`` calls it before
        importing the pipeline and opening the database, so the server's round trips
        (TLS, LOGIN, ID, EXAMINE: ~30 ms) are not waited for one after the other.
        :meth:`fetch_new` waits for it and raises what it raised, as if it had connected
        itself.

        With *cursor* (the last UID the database holds for a folder and UIDVALIDITY,
        read without the poll's lock) the thread goes on: it searches for the UIDs after
        it and fetches the first batch (sizes, dates and bodies, read-only like every
        fetch). It is a guess: :meth:`fetch_new` uses it only when the cursor it reads
        under the lock is the same, else searches and fetches as usual. Anything that
        goes wrong after the login only costs the guess (the connection is dropped and
        opened again when needed)."""
        if self._client is None and self._ahead is None:
            self._ahead = threading.Thread(
                target=self._connect_ahead, args=(cursor,), name="imap-login"
            )
            self._ahead.daemon = True
            self._ahead.start()

    def _connect_ahead(self, cursor: CursorHint | None) -> None:
        try:
            uidvalidity = self._select(self._open())
        except BaseException as e:  # raised again where the poll waits for it
            self._ahead_error = e
            return
        if cursor is None:
            return
        try:
            last = cursor(self.cfg.folder, uidvalidity)
            new = new_uids(self.client(), last or 0)
            fetcher = Fetcher(self, self.cfg, uidvalidity)
            fetcher.fetch_ahead(new)
            self._fetched_ahead = _Ahead(uidvalidity, last, new, fetcher)
        except Exception:  # a guess lost: fetch_new does it all again and meets any fault
            log.debug(
                "fetching ahead failed; the poll searches and fetches as usual", exc_info=True
            )
            self.drop()

    def _await_ahead(self) -> int | None:
        """The folder's UIDVALIDITY once :meth:`connect_ahead` has finished (None if it was
        not called); its error, if it failed."""
        thread, self._ahead = self._ahead, None
        if thread is None:
            return None
        thread.join()
        error, self._ahead_error = self._ahead_error, None
        if error is not None:
            raise error
        return self._uidvalidity

    # ------------------------------------------------------------------ public

    def fetch_new(self, state: SourceState) -> Generator[SourceItem, None, None]:
        """Every message after the cursor, oldest first, then earlier failures to retry.

        New mail comes first so that a message failing again cannot hold back the
        mail that arrived after it.
        """
        uidvalidity = self._await_ahead()
        ahead, self._fetched_ahead = self._fetched_ahead, None
        if uidvalidity is None:
            uidvalidity = self._select(self._open())
        folder = self.cfg.folder
        retry = self._retry_uids(state, folder, uidvalidity)
        last = state.last_uid(folder, uidvalidity)
        if ahead is not None and ahead.uidvalidity == uidvalidity and ahead.last == last:
            self._log_first_scan(folder, uidvalidity, last)
            new, fetcher = ahead.new, ahead.fetcher
        else:
            new = self._new_uids(folder, uidvalidity, last)
            fetcher = Fetcher(self, self.cfg, uidvalidity)
        del ahead
        yield from fetcher.items(new, advance=True, state=state)
        yield from fetcher.items(retry, advance=False)

    def mark_done(self, item: SourceItem) -> None:
        """Post-action after the pipeline committed *item*: add a keyword or copy it.

        Off by default (``post_action = "none"``). Never raises: a failed
        post-action is logged and the message stays ingested.
        """
        action = self.cfg.post_action
        if action == "none" or item.raw is None or self._client is None:
            return
        folder, uidvalidity, uid = parse_key(item.key)
        if folder != self.cfg.folder or uidvalidity != self._uidvalidity:
            return
        try:
            if action == "keyword":
                self._client.add_flags([uid], [self.cfg.post_keyword.encode()], silent=True)
            else:
                self._client.copy([uid], self.cfg.post_folder)
        except NETWORK_ERRORS as e:  # the connection is unusable; the next fetch reconnects
            log.warning("邮件 %s 的后续处理（%s）失败：%s", item.key, action, describe(e))
            self.drop()
        except IMAPClientError as e:
            log.warning("邮件 %s 的后续处理（%s）失败：%s", item.key, action, describe(e))

    def close(self) -> None:
        """Log out and drop the connection; safe to call twice."""
        with contextlib.suppress(Exception):  # a login still in flight ends first
            self._await_ahead()
        self._fetched_ahead = None
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            self._shutdown(client)

    # -------------------------------------------------------------- connection

    def client(self) -> IMAPClient:
        """The open, selected connection (:class:`imap_fetch.Link`).

        A connection dropped by a failed post-action is opened again here.
        """
        if self._client is None:
            self.reopen()
        assert self._client is not None
        return self._client

    def reopen(self) -> None:
        """A fresh connection after a fault: LOGIN, ID and EXAMINE again, same UIDVALIDITY."""
        self.drop()
        before = self._uidvalidity
        if self._select(self._open()) != before and before is not None:
            raise MailboxError(
                f"邮件夹 {self.cfg.folder} 的 UIDVALIDITY 在收信过程中改变，下次收信将重新扫描全部邮件"
            )

    def _open(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        password = self._password()
        client = self._connect()
        try:
            self._login(client, password)
            self._identify(client)
        except BaseException:
            self._shutdown(client)
            raise
        self._client = client
        return client

    def _password(self) -> Secret:
        cfg = self.cfg
        try:
            return load_secret(
                cfg.password_env,
                cfg.password_file,
                "邮箱授权码（mailbox.password_env / mailbox.password_file）",
            )
        except SecretError as e:
            raise LoginFailed(str(e)) from None

    def _ssl_context(self) -> ssl.SSLContext:
        ca = str(self.cfg.ca_file) if self.cfg.ca_file else None
        ctx = ssl.create_default_context(cafile=ca)
        if not self.cfg.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> IMAPClient:
        cfg = self.cfg
        if not cfg.verify_tls:
            log.warning(
                "警告：mailbox.verify_tls = false，未校验 %s 的证书，连接可能被窃听或篡改", cfg.host
            )
        if not cfg.ssl and not cfg.starttls:
            log.warning(
                "警告：与 %s 的连接未加密（ssl 与 starttls 均为 false），授权码以明文传输", cfg.host
            )
        timeout = SocketTimeout(connect=cfg.timeout_seconds, read=cfg.timeout_seconds)
        where = f"{cfg.host}:{cfg.port}"
        try:
            client = IMAPClient(
                cfg.host,
                cfg.port,
                ssl=cfg.ssl,
                timeout=timeout,
                ssl_context=self._ssl_context() if cfg.ssl else None,
            )
        except ssl.SSLCertVerificationError as e:
            raise MailboxError(
                f"无法连接邮箱服务器 {where}：证书校验失败（{e.verify_message}）"
            ) from None
        except (*NETWORK_ERRORS, IMAPClientError) as e:
            raise MailboxError(f"无法连接邮箱服务器 {where}：{describe(e)}") from None
        client.normalise_times = False  # INTERNALDATE with its offset
        quiet_imaplib(client)
        if cfg.starttls and not cfg.ssl:
            self._starttls(client, where)
        return client

    def _starttls(self, client: IMAPClient, where: str) -> None:
        try:
            client.starttls(self._ssl_context())
        except CapabilityError:
            self._shutdown(client)
            raise MailboxError(f"邮箱服务器 {where} 不支持 STARTTLS") from None
        except ssl.SSLCertVerificationError as e:
            self._shutdown(client)
            raise MailboxError(f"邮箱服务器 {where} 证书校验失败（{e.verify_message}）") from None
        except (*NETWORK_ERRORS, IMAPClientError) as e:
            self._shutdown(client)
            raise MailboxError(f"与邮箱服务器 {where} 建立 STARTTLS 失败：{describe(e)}") from None

    def _login(self, client: IMAPClient, password: Secret) -> None:
        try:
            client.login(self.cfg.username, password.reveal())
        except LoginError:
            # The server's text may echo what was sent; never pass it on.
            raise LoginFailed(f"{LOGIN_HINT}（用户名 {self.cfg.username}）") from None
        except (*NETWORK_ERRORS, IMAPClientError) as e:
            raise MailboxError(f"登录邮箱时连接中断：{scrub(describe(e), password)}") from None

    def _identify(self, client: IMAPClient) -> None:
        """RFC 2971 ID right after login: 163 refuses SELECT/EXAMINE without it."""
        if not self.cfg.send_id:
            return
        if not client.has_capability("ID"):
            log.info("邮箱服务器未声明 ID 扩展，跳过 ID 命令")
            return
        with self._guard("发送 ID 命令"):
            client.id_({"name": "kaohe-inbox", "version": program_version()})

    def _select(self, client: IMAPClient) -> int:
        """EXAMINE the folder (read-only unless a post-action needs to write); its UIDVALIDITY."""
        folder = self.cfg.folder
        readonly = self.cfg.post_action == "none"
        with self._guard(f"打开邮件夹 {folder}"):
            info = client.select_folder(folder, readonly=readonly)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        if self._uidvalidity is not None and uidvalidity != self._uidvalidity:
            log.warning(
                "邮件夹 %s 的 UIDVALIDITY 已改变（%s → %s），将重新扫描全部邮件",
                folder,
                self._uidvalidity,
                uidvalidity,
            )
        self._uidvalidity = uidvalidity
        return uidvalidity

    # ------------------------------------------------------------------- search

    def _retry_uids(self, state: SourceState, folder: str, uidvalidity: int) -> list[int]:
        prefix = item_key(folder, uidvalidity, 0)[:-1]
        uids = []
        for key in state.retry_keys(prefix):
            try:
                uids.append(parse_key(key)[2])
            except ValueError:
                log.warning("忽略无法识别的重试键 %s", key)
        return sorted(set(uids))

    def _new_uids(self, folder: str, uidvalidity: int, last: int | None) -> list[int]:
        self._log_first_scan(folder, uidvalidity, last)
        with self._guard("搜索新邮件"):
            return new_uids(self.client(), last or 0)

    @staticmethod
    def _log_first_scan(folder: str, uidvalidity: int, last: int | None) -> None:
        if last is None:
            log.info("邮件夹 %s（UIDVALIDITY %s）首次读取：扫描全部邮件", folder, uidvalidity)

    # ------------------------------------------------------------------ errors

    def _guard(self, what: str) -> _Guard:
        return _Guard(self, what)

    def drop(self) -> None:
        """After an abort or a timeout the connection is unusable: close it without LOGOUT."""
        client, self._client = self._client, None
        if client is not None:
            self._shutdown(client)

    @staticmethod
    def _shutdown(client: IMAPClient) -> None:
        try:
            client.shutdown()
        except Exception:
            pass


class _Guard:
    """Turns imapclient/socket errors into MailboxError, dropping a broken connection."""

    def __init__(self, source: ImapSource, what: str) -> None:
        self.source = source
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or not isinstance(exc, NETWORK_ERRORS + (IMAPClientError,)):
            return
        if isinstance(exc, NETWORK_ERRORS):
            self.source.drop()
            raise MailboxError(f"{self.what}时与邮箱服务器的连接中断：{describe(exc)}") from None
        if "unsafe login" in str(exc).lower():
            raise MailboxError(
                f"{self.what}被服务器拒绝（Unsafe Login）：请在配置中设置 "
                "mailbox.send_id = true（163 邮箱要求先发送 ID 命令）"
            ) from None
        raise MailboxError(f"{self.what}失败：{describe(exc)}") from None


def describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "超时，服务器没有响应"
    text = str(exc) or type(exc).__name__
    return text[:300]


def scrub(text: str, secret: Secret) -> str:
    value = secret.reveal()
    return text.replace(value, "***") if value else text

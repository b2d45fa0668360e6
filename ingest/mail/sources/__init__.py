"""Mailbox sources: where mail comes from. See :mod:`ingest.mail.sources.base`."""

from __future__ import annotations

from collections.abc import Callable

from ingest.core.config import MailboxConfig
from ingest.mail.sources.base import MailboxError, MailSource


def open_source(
    cfg: MailboxConfig,
    connect_ahead: bool = False,
    cursor: Callable[[str, int], int | None] | None = None,
) -> MailSource:
    """The source the config names; imapclient is imported only for ``imap``.
    *connect_ahead*: an IMAP source logs in in the background from now on, and with
    *cursor* fetches its first new mail ahead (see :meth:`ImapSource.connect_ahead`)."""
    if cfg.source == "maildir":
        from ingest.mail.sources.maildir import MaildirSource

        assert cfg.path is not None
        return MaildirSource(cfg.path, cfg.max_message_mb)
    if cfg.source == "imap":
        from ingest.mail.sources.imap import ImapSource

        source = ImapSource(cfg)
        if connect_ahead:
            source.connect_ahead(cursor)
        return source
    raise MailboxError(f"未知的邮箱来源：{cfg.source}")

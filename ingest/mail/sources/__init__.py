"""Mailbox sources: where mail comes from. See :mod:`ingest.mail.sources.base`."""

from __future__ import annotations

from ingest.core.config import MailboxConfig
from ingest.mail.sources.base import MailboxError, MailSource


def open_source(cfg: MailboxConfig) -> MailSource:
    """The source the config names; imapclient is imported only for ``imap``."""
    if cfg.source == "maildir":
        from ingest.mail.sources.maildir import MaildirSource

        assert cfg.path is not None
        return MaildirSource(cfg.path, cfg.max_message_mb)
    if cfg.source == "imap":
        from ingest.mail.sources.imap import ImapSource

        return ImapSource(cfg)
    raise MailboxError(f"未知的邮箱来源：{cfg.source}")

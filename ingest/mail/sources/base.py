"""What every mailbox source gives the pipeline, and what it needs back.

A source yields :class:`SourceItem` objects. The pipeline archives each one
raw and commits it to the database *before* asking for the next, recording
``item.cursor`` in the same transaction, so a crash at any moment loses
nothing (the cursor never passes an uncommitted message) and doubles nothing
(the content hash is the message's identity). A message the source cannot
fetch now is not passed over: it comes as an item with ``failed_reason`` (and
its cursor), is committed as a ``failed`` row, and is offered again through
:meth:`SourceState.retry_keys` until ``max_attempts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class MailboxError(Exception):
    """Raised when the mailbox cannot be read at all (connect, login, select)."""


class LoginFailed(MailboxError):
    """Raised when the server refuses the credentials; retrying will not help."""


@dataclass(frozen=True)
class Cursor:
    """Position of an incremental source: the highest UID done in (folder, uidvalidity)."""

    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class SourceItem:
    """One message as the source delivers it."""

    key: str  # stable identity in the source: "imap:INBOX:1700000000:42", "maildir:cur/abc"
    received: datetime  # aware: IMAP INTERNALDATE, or file mtime for maildir
    raw: bytes | None  # None when the message was skipped (see skipped_reason)
    size: int
    cursor: Cursor | None = None
    skipped_reason: str | None = None  # e.g. "邮件过大（82.1 MB），未下载"
    failed_reason: str | None = None  # could not be fetched now (names the UID); retried later


class SourceState(Protocol):
    """What a source may ask the database while fetching."""

    def last_uid(self, folder: str, uidvalidity: int) -> int | None:
        """Highest UID done for this (folder, uidvalidity), None if never polled."""

    def key_done(self, key: str) -> bool:
        """True when an item with this key was already committed."""

    def retry_keys(self, prefix: str) -> list[str]:
        """Keys of earlier failed items under *prefix* still worth retrying."""


class MailSource(Protocol):
    """A mailbox the pipeline can poll."""

    # A doubt about the receipt times the source gave (a Maildir whose files look copied:
    # their mtimes are not delivery times); None when there is none. Read after fetch_new.
    copy_warning: str | None

    def fetch_new(self, state: SourceState) -> Iterator[SourceItem]:
        """Yield messages not yet done, oldest first, then earlier failures to retry.

        A message that cannot be fetched is yielded as a failed item, never skipped;
        raises MailboxError when the mailbox itself cannot be read.
        """

    def mark_done(self, item: SourceItem) -> None:
        """Called after *item* was committed; a source may act on the server (never raises)."""

    def close(self) -> None:
        """Release connections; safe to call twice."""

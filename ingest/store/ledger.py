"""The receipt ledger: which messages got a receipt (回执), claimed and confirmed.

A receipt is sent *at most once*. Before it is handed to the SMTP server a row
``receipts(message, status='sending')`` is committed (:func:`claim`); after the
server accepts it the row becomes ``sent`` and ``messages.receipt_sent_at`` is
set (:func:`settle`). A crash between the two leaves ``sending``: never retried
automatically, listed by :func:`unconfirmed` for the clerk. A temporary refusal
releases the claim (:func:`release`) so the next run retries. Sending and the
mail's wording live in ``ingest.app.outbox.receipts``; this module only keeps
the books.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils

from ingest.core.vocab import RECEIPT_OUTCOMES, ReceiptState
from ingest.store.db import now_db, to_db, transaction

_OUTCOMES = ", ".join("?" * len(RECEIPT_OUTCOMES))


def awaiting_receipt(db: sqlite_utils.Database, as_of: datetime) -> list[dict[str, Any]]:
    """Processed messages (received up to *as_of*) with a form-like attachment and no
    receipt row yet — neither theirs nor one for an earlier copy with the same Message-ID."""
    return list(
        db.query(
            "select * from messages m where m.processed_at is not null and m.error is null "
            "and m.receipt_sent_at is null and m.received <= ? "
            "and not exists (select 1 from receipts r where r.message = m.id) "
            "and not exists (select 1 from receipts r join messages o on o.id = r.message "
            "  where m.message_id is not null and o.message_id = m.message_id) "
            "and exists (select 1 from attachments a where a.message = m.id and a.outcome in "
            f"  ({_OUTCOMES})) order by m.received, m.id",
            [to_db(as_of), *RECEIPT_OUTCOMES],
        )
    )


def receipt_attachments(db: sqlite_utils.Database, message: str) -> list[dict[str, Any]]:
    """The attachments a receipt lists (forms parsed, unreadable or awaiting the clerk)."""
    return list(
        db.query(
            f"select * from attachments where message = ? and outcome in ({_OUTCOMES}) "
            "order by part",
            [message, *RECEIPT_OUTCOMES],
        )
    )


def claim(
    db: sqlite_utils.Database, message: str, recipient: str, keep_copy: Callable[[], str]
) -> bool:
    """Record the receipt for *message* as being sent, in one committed transaction.

    *keep_copy* saves exactly what goes out and returns its path (relative to
    data_dir); it runs only when the claim is taken. False when *message*
    already has a receipt row (sent, refused or in flight).
    """
    with transaction(db):
        if db.execute("select 1 from receipts where message = ?", [message]).fetchone():
            return False
        db.table("receipts").insert(
            {
                "message": message,
                "sent_at": None,
                "recipient": recipient,
                "path": keep_copy(),
                "status": ReceiptState.SENDING,
            }
        )
    return True


def release(db: sqlite_utils.Database, message: str) -> None:
    """Drop a claim the server refused temporarily (nothing accepted): the next run retries."""
    db.execute(
        "delete from receipts where message = ? and status = ?", [message, ReceiptState.SENDING]
    )


def settle(db: sqlite_utils.Database, message: str, state: ReceiptState, error: str | None) -> None:
    """Confirm a claim as ``sent`` (stamping the message) or ``refused`` with *error*."""
    stamp = now_db()
    with transaction(db):
        db.execute(
            "update receipts set status = ?, error = ?, sent_at = ? where message = ?",
            [state, error, stamp if state is ReceiptState.SENT else None, message],
        )
        if state is ReceiptState.SENT:
            db.execute("update messages set receipt_sent_at = ? where id = ?", [stamp, message])


def unconfirmed(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Receipts claimed but never confirmed (a crash or a broken connection while sending)."""
    return list(
        db.query(
            "select r.*, m.sender, m.subject from receipts r left join messages m "
            "on m.id = r.message where r.status = ? order by r.message",
            [ReceiptState.SENDING],
        )
    )

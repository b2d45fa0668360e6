"""The receipt ledger: a receipt is claimed once, settled or released, and messages
that already have (or share a Message-ID with) a receipt row are not offered again."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils

from ingest.core.vocab import Outcome, ReceiptState
from ingest.store import ledger
from ingest.store.db import ensure_schema

AS_OF = datetime(2020, 3, 22, tzinfo=UTC)


def store(db: sqlite_utils.Database, mid: str, outcome: Outcome, **message: object) -> None:
    db.table("messages").insert(
        {
            "id": mid,
            "message_id": f"<{mid}@163.com>",
            "sender": f"{mid}@163.com",
            "received": "2020-03-12T01:00:00+00:00",
            "processed_at": "2020-03-12T01:00:01+00:00",
            **message,
        }
    )
    db.table("attachments").insert(
        {"id": "a" + mid, "message": mid, "part": "2", "outcome": outcome}
    )


def make_db() -> sqlite_utils.Database:
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    store(db, "m1", Outcome.PARSED)
    store(db, "m2", Outcome.UNASSIGNED)
    store(db, "m3", Outcome.IGNORED)  # nothing to tell the sender
    store(db, "m4", Outcome.PARSED, processed_at=None)  # not analysed yet
    store(db, "m5", Outcome.PARSED, received="2020-03-23T01:00:00+00:00")  # after as_of
    return db


def test_awaiting_receipt_and_the_attachments_it_lists() -> None:
    db = make_db()
    assert [m["id"] for m in ledger.awaiting_receipt(db, AS_OF)] == ["m1", "m2"]
    assert [a["id"] for a in ledger.receipt_attachments(db, "m2")] == ["am2"]
    assert ledger.receipt_attachments(db, "m3") == []


def test_claim_once_settle_and_release() -> None:
    db = make_db()
    copies: list[str] = []

    def keep() -> str:
        copies.append("x")
        return f"outbox/receipts/sent/{len(copies)}.eml"

    assert ledger.claim(db, "m1", "m1@163.com", keep)
    assert not ledger.claim(db, "m1", "m1@163.com", keep) and copies == ["x"]  # no second copy
    assert [r["message"] for r in ledger.unconfirmed(db)] == ["m1"]
    assert [m["id"] for m in ledger.awaiting_receipt(db, AS_OF)] == ["m2"]
    ledger.settle(db, "m1", ReceiptState.SENT, None)
    assert ledger.unconfirmed(db) == []
    row = db.execute("select receipt_sent_at from messages where id = 'm1'").fetchone()
    assert row[0] is not None
    assert ledger.claim(db, "m2", "m2@163.com", keep)
    ledger.release(db, "m2")  # temporary refusal: offered again next run
    assert [m["id"] for m in ledger.awaiting_receipt(db, AS_OF)] == ["m2"]
    assert ledger.claim(db, "m2", "m2@163.com", keep)
    ledger.settle(db, "m2", ReceiptState.REFUSED, "550 no such user")
    ledger.release(db, "m2")  # only a claim in flight is released: the refusal stays
    status = db.execute("select status, error, sent_at from receipts where message = 'm2'")
    assert status.fetchone() == ("refused", "550 no such user", None)


def test_a_copy_with_the_same_message_id_is_not_answered_twice() -> None:
    db = make_db()
    store(db, "m6", Outcome.PARSED, message_id="<m1@163.com>")  # the same mail, relayed again
    assert ledger.claim(db, "m1", "m1@163.com", lambda: "p")
    assert "m6" not in [m["id"] for m in ledger.awaiting_receipt(db, AS_OF)]

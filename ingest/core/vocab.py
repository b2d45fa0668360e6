"""The project's words: outcomes, statuses and states, each with its Chinese label.

Every enum is a :class:`StrEnum` whose values are the strings stored in the
database and written to JSON, so ``Outcome.PARSED == "parsed"`` and rows read
back compare equal to the members. The clerk's word for each member lives in
one table per enum, here and nowhere else; code shows ``member.label``.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What became of one attachment (``attachments.outcome``; ``submissions.status``
    uses the first two)."""

    PARSED = "parsed"
    UNPARSED = "unparsed"
    UNASSIGNED = "unassigned"
    IGNORED = "ignored"
    EXPANDED = "expanded"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.PARSED: "已解析",
    Outcome.UNPARSED: "无法读取",
    Outcome.UNASSIGNED: "待认领",
    Outcome.IGNORED: "非申报表",
    Outcome.EXPANDED: "已解开（压缩包或转发的邮件）",
    Outcome.DISMISSED: "已排除",
}

# Outcomes that tell the sender something about their forms (a receipt lists them).
RECEIPT_OUTCOMES: tuple[Outcome, ...] = (Outcome.PARSED, Outcome.UNPARSED, Outcome.UNASSIGNED)


class Status(StrEnum):
    """Status of a (unit, annex) pair as of a moment (docs/interfaces.md, report JSON)."""

    SUBMITTED = "submitted"
    LATE = "late"
    UNPARSED = "unparsed"
    MISSING = "missing"
    OVERDUE = "overdue"

    @property
    def label(self) -> str:
        """The clerk's word for it."""
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.SUBMITTED: "已报送",
    Status.LATE: "逾期报送",
    Status.UNPARSED: "无法读取",
    Status.MISSING: "未报送",
    Status.OVERDUE: "逾期未报",
}


class SourceItemState(StrEnum):
    """What the poller did with one item of the mail source (``source_items.status``)."""

    STORED = "stored"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return SOURCE_ITEM_LABELS[self]


SOURCE_ITEM_LABELS: dict[SourceItemState, str] = {
    SourceItemState.STORED: "已存档",
    SourceItemState.SKIPPED: "已跳过",
    SourceItemState.FAILED: "收取失败",
}


class ReceiptState(StrEnum):
    """Where a receipt (回执) stands (``receipts.status``; see ingest.store.ledger)."""

    SENDING = "sending"  # claimed, handed to the server, acceptance not confirmed
    SENT = "sent"
    REFUSED = "refused"  # permanent refusal (bad address, 5xx)

    @property
    def label(self) -> str:
        return RECEIPT_LABELS[self]


RECEIPT_LABELS: dict[ReceiptState, str] = {
    ReceiptState.SENDING: "发送中（未确认）",
    ReceiptState.SENT: "已发送",
    ReceiptState.REFUSED: "被拒收",
}

# Formats of the status report (``kaohe report --format``, ``schedule.report_formats``).
REPORT_FORMATS: tuple[str, ...] = ("xlsx", "html", "txt", "json")

"""The vocabulary: stored strings never change, every member has one Chinese label."""

from __future__ import annotations

from enum import StrEnum

import pytest

from ingest.core.vocab import REPORT_FORMATS, Outcome, ReceiptState, SourceItemState, Status


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (Outcome, ["parsed", "unparsed", "unassigned", "ignored", "expanded", "dismissed"]),
        (Status, ["submitted", "late", "unparsed", "missing", "overdue"]),
        (SourceItemState, ["stored", "skipped", "failed"]),
        (ReceiptState, ["sending", "sent", "refused"]),
    ],
)
def test_values_are_the_stored_strings_and_labels_are_distinct(
    enum: type[StrEnum], values: list[str]
) -> None:
    assert [m.value for m in enum] == values  # the database and the JSON hold these
    labels = [m.label for m in enum]  # type: ignore[attr-defined]
    assert all(labels) and len(set(labels)) == len(labels)
    assert enum(values[0]) == values[0]  # a row read back compares equal to the member


def test_labels_the_clerk_reads() -> None:
    assert Outcome.UNASSIGNED.label == "待认领" and Status.OVERDUE.label == "逾期未报"
    assert REPORT_FORMATS == ("xlsx", "html", "txt", "json")

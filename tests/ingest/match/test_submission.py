"""submissions_of: one Submission per (unit, annex) of a message; the attachment with
the most rows counts; nothing unassigned or ignored becomes a submission."""

from __future__ import annotations

from typing import Any

from ingest.core.vocab import Outcome
from ingest.mail.mime import unpack
from ingest.match.analysis_data import AttachmentAnalysis, MessageAnalysis
from ingest.match.submission import submissions_of

RAW = b"From: a@163.com\r\nSubject: x\r\n\r\nbody\r\n"


def att(
    part: str,
    unit: str | None,
    annex: int | None,
    rows: int,
    outcome: Outcome,
    kind: str = "xlsx",
    reason: str | None = None,
) -> AttachmentAnalysis:
    data: list[dict[str, Any]] = [
        {"序号": str(i), "备注": f"{part}-{i}"} for i in range(1, rows + 1)
    ]
    return AttachmentAnalysis(
        id="a" + part, part=part, filename=f"{part}.{kind}", container=None, size=1,
        sha256="0" * 64, type=kind, kind=kind, annex=annex, annex_evidence=f"e{part}",
        unit=unit, unit_evidence="u", rows=data, outcome=outcome, reason=reason,
    )  # fmt: skip


def test_one_submission_per_unit_and_annex_with_the_rows_that_count() -> None:
    analysis = MessageAnalysis(
        "d" * 64,
        unpack(RAW),
        [
            att("1", "财政局", 4, 2, Outcome.PARSED),
            att("2", "财政局", 4, 5, Outcome.PARSED),  # more rows: this one counts
            att("3", "财政局", 4, 0, Outcome.UNPARSED, kind="pdf", reason="仅扫描件"),
            att("4", "财政局", 6, 0, Outcome.UNPARSED, reason="加密文件，无法读取"),
            att("5", None, 2, 3, Outcome.UNASSIGNED),
            att("6", "财政局", None, 0, Outcome.IGNORED),
        ],
    )
    four, six = submissions_of(analysis)
    assert (four.unit, four.annex, four.attachment, four.status) == ("财政局", 4, "a2", "parsed")
    assert four.scan and four.reason is None and four.evidence == "e2；u"
    assert [r["备注"] for r in four.row_records()] == ["2-1", "2-2", "2-3", "2-4", "2-5"]
    assert [r["row_no"] for r in four.row_records()] == [1, 2, 3, 4, 5]
    assert {r["submission"] for r in four.row_records()} == {four.id}
    assert (six.status, six.reason, six.rows, six.scan) == (
        Outcome.UNPARSED, "加密文件，无法读取", (), False,
    )  # fmt: skip
    record = four.record("2020-03-12T01:00:00+00:00")
    assert record["rows"] == 5 and record["scan"] == 1 and record["status"] == "parsed"
    assert record["received"] == "2020-03-12T01:00:00+00:00" and record["message"] == "d" * 64
    again = submissions_of(analysis)
    assert [s.id for s in again] == [four.id, six.id]  # stable: reparse replaces, never doubles

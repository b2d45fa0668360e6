"""ingest.store.clerk, the two decisions it began with: assign and paper.

(The later actions — undo, dismiss, add, stored files, the audit log — are in
test_clerk_actions.py.) Here: what happens when the program knows less."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.store.clerk import ClerkActionError, assign_attachment, record_paper
from ingest.store.pipeline import poll
from reports.output import build_report
from tests.support.campaign import make_campaign
from tests.support.mails import make_mail

CZ = "南郑区财政局"


def blank_pdf() -> bytes:
    """A PDF without a text layer: read as a scan, its annex cannot be told."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_an_attachment_of_unknown_annex_needs_the_annex(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    scan = blank_pdf()
    c.deliver(
        "m.eml",
        make_mail(sender="9@qq.com", subject="材料", attachments=[("扫描.pdf", scan)]),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    as_of = datetime.fromisoformat("2020-03-22T08:00:00+08:00")
    [item] = build_report(c.cfg, as_of).unassigned
    assert item.annex is None
    with pytest.raises(ClerkActionError, match="程序无法判断这个附件是附件几"):
        assign_attachment(c.cfg, item.attachment, "财政局", None)
    done = assign_attachment(c.cfg, item.attachment, "财政局", 5)
    assert CZ in done and "附件5" in done
    a5 = next(u for u in build_report(c.cfg, as_of).units if u.unit == CZ).annexes[5]
    assert a5.status.value == "unparsed" and a5.stamped_scan  # a scan only: no rows
    with pytest.raises(ClerkActionError, match="没有附件9"):
        assign_attachment(c.cfg, item.attachment, "财政局", 9)


def test_paper_without_a_date_is_recorded_for_today(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    today = datetime.now(c.cfg.campaign.timezone).date()
    assert record_paper(c.cfg, "财政局", [4], None).startswith(f"已记录：{today.isoformat()} 收到")

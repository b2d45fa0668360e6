"""A message's forms as submissions: one per (unit, annex), with the rows that count."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ingest.core.vocab import Outcome
from ingest.match.analysis_data import AttachmentAnalysis, MessageAnalysis


@dataclass(frozen=True)
class Submission:
    """One (unit, annex) form of one message: the attachment whose rows count, and those rows."""

    id: str
    unit: str
    annex: int
    message: str  # the message's SHA-256
    attachment: str  # id of the attachment whose rows count
    status: Outcome  # PARSED or UNPARSED
    reason: str | None  # why nothing was read (UNPARSED)
    evidence: str
    scan: bool  # a PDF/image of the form came with it
    rows: tuple[dict[str, Any], ...] = ()
    campaign: str | None = None  # set when several campaigns share the mailbox

    def record(self, received: str) -> dict[str, Any]:
        """The ``submissions`` table row (*received*: the message's time as stored)."""
        return {
            "id": self.id,
            "unit": self.unit,
            "annex": self.annex,
            "message": self.message,
            "received": received,
            "attachment": self.attachment,
            "rows": len(self.rows),
            "status": self.status,
            "reason": self.reason,
            "evidence": self.evidence,
            "scan": int(self.scan),
            "campaign": self.campaign,
        }

    def row_records(self) -> list[dict[str, Any]]:
        """The ``annex<N>_rows`` rows, numbered from 1."""
        return [
            {**r, "submission": self.id, "unit": self.unit, "row_no": i}
            for i, r in enumerate(self.rows, start=1)
        ]


def submissions_of(analysis: MessageAnalysis) -> list[Submission]:
    """Group a message's assigned attachments into one submission per (unit, annex)."""
    groups: dict[tuple[str, int, str | None], list[AttachmentAnalysis]] = {}
    for a in analysis.attachments:
        if a.outcome in (Outcome.PARSED, Outcome.UNPARSED) and a.unit and a.annex:
            groups.setdefault((a.unit, a.annex, a.campaign), []).append(a)
    subs = []
    for (unit, annex, campaign), atts in groups.items():
        best = max(atts, key=lambda a: (len(a.rows), a.outcome is Outcome.PARSED))
        key = f"{analysis.digest}:{unit}:{annex}" + (f":{campaign}" if campaign else "")
        subs.append(
            Submission(
                id=hashlib.sha256(key.encode()).hexdigest()[:16],
                unit=unit,
                annex=annex,
                message=analysis.digest,
                attachment=best.id,
                status=Outcome.PARSED if best.rows else Outcome.UNPARSED,
                reason=None if best.rows else _reasons(atts),
                evidence=f"{best.annex_evidence}；{best.unit_evidence}",
                scan=any(a.is_scan for a in atts),
                rows=tuple(best.rows),
                campaign=campaign,
            )
        )
    return subs


def _reasons(atts: list[AttachmentAnalysis]) -> str:
    seen: list[str] = []
    for a in atts:
        if a.reason and a.reason not in seen:
            seen.append(a.reason)
    return "；".join(seen) or "未读出数据行"

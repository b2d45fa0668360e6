"""Which campaign does an attachment belong to, when one mailbox serves several? (CONTRACT §11)

By its form's template first (the title and header of exactly one campaign's
annex, with no differences), then the date window (``not_before``/``until``),
then the subject keywords. When none of them singles out one campaign the
attachment goes to 待认领 with the reason: never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ingest.match.roster import Roster
from parsers.classify import classify
from parsers.model import Document
from parsers.schema import AnnexSchema
from parsers.template_check import template_diff

__all__ = ["CampaignRoute", "RouteDecision", "choose_campaign"]


@dataclass(frozen=True)
class CampaignRoute:
    """What analysis needs of one campaign: its annexes, roster, window and keywords."""

    name: str
    schemas: Mapping[int, AnnexSchema]
    roster: Roster | None
    not_before: datetime | None = None
    until: datetime | None = None
    keywords: tuple[str, ...] = ()

    def in_window(self, when: datetime) -> bool:
        early = self.not_before is not None and when < self.not_before
        return not early and not (self.until is not None and when > self.until)


@dataclass(frozen=True)
class RouteDecision:
    route: CampaignRoute | None
    evidence: str  # why this campaign, or (route None) why none could be chosen

    @property
    def name(self) -> str | None:
        return self.route.name if self.route else None


def choose_campaign(
    routes: Sequence[CampaignRoute],
    doc: Document | None,
    filename: str,
    subject: str,
    received: datetime | None,
) -> RouteDecision:
    """The one campaign the attachment belongs to, or None with the reason."""
    fits = [r for r in routes if doc is not None and _fits_template(doc, filename, r)]
    if len(fits) == 1:
        return RouteDecision(fits[0], f"收集：{fits[0].name}（表格与其模板一致）")
    candidates = fits or list(routes)
    if received is not None:
        inside = [r for r in candidates if r.in_window(received)]
        if len(inside) == 1:
            return RouteDecision(inside[0], f"收集：{inside[0].name}（收到时间在其收集期内）")
        candidates = inside or candidates
    named = [r for r in candidates if any(k in subject or k in filename for k in r.keywords)]
    if len(named) == 1:
        return RouteDecision(named[0], f"收集：{named[0].name}（邮件主题或文件名含其关键词）")
    listed = "、".join(f"“{r.name}”" for r in (named or candidates))
    return RouteDecision(None, f"无法判断属于哪一次收集（可能是{listed}），请认领")


def _fits_template(doc: Document, filename: str, route: CampaignRoute) -> bool:
    """The form is one of this campaign's annexes, title or header, exactly as its template."""
    guess = classify(doc, filename, "", route.schemas)
    if guess.annex is None or guess.source not in ("title", "header"):
        return False
    return not template_diff(doc, route.schemas[guess.annex]).notes()

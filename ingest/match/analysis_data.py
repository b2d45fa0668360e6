"""The plain data of an analysis: its context, and what it finds in one message.

No behaviour beyond a few properties, and light to import: ``kaohe poll``'s main
process builds the context and receives the results (unpickled from its parse
workers) without importing the analysis itself (:mod:`ingest.match.analyse`, with
the archive, forwarded-mail and reader modules), which only the workers run when
nothing goes wrong: ~15 ms less of its start, before the first mail can be sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ingest.core.config import LimitsConfig
from ingest.core.vocab import Outcome

if TYPE_CHECKING:
    from ingest.mail.mime import Unpacked
    from ingest.match.roster import Roster
    from ingest.match.route import CampaignRoute
    from parsers.model import Document

SCAN_KINDS = ("pdf", "image")


@dataclass
class AnalysisContext:
    """What analysis needs besides the bytes; built once per cycle."""

    schemas: dict[int, Any]
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    roster: Roster | None = None
    converter: Any = None  # parsers.legacy.Converter, shared by a cycle
    pool: Any = None  # ingest.match.sandbox.ParsePool reading the bytes; None: the default
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by attachment id
    dismissals: dict[str, str] = field(default_factory=dict)  # attachment id -> clerk's reason
    campaigns: tuple[CampaignRoute, ...] = ()  # several in one mailbox: route each attachment
    received: datetime | None = None  # the message's receipt time (for the campaign window)
    read_ahead: dict[str, Any] = field(default_factory=dict)  # part path -> Document | ParseError


@dataclass
class AttachmentAnalysis:
    id: str
    part: str
    filename: str
    container: str | None
    size: int
    sha256: str
    type: str  # contract type (docx, xlsx, doc, xls, pdf, zip, rar, 7z, image, text, other)
    kind: str  # detected internal kind (adds wps, et, rtf, html, encrypted …)
    payload: bytes = field(repr=False, default=b"")
    annex: int | None = None
    annex_evidence: str = ""
    unit: str | None = None
    unit_evidence: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome = Outcome.UNASSIGNED
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    inline: bool = False
    campaign: str | None = None  # set when several campaigns share the mailbox
    form_unit: str | None = None  # the unit written on the form (its 填报单位 line)
    document: Document | None = field(default=None, repr=False)  # kept for a clerk's override

    @property
    def is_scan(self) -> bool:
        return self.kind in SCAN_KINDS

    @property
    def in_raw(self) -> bool:
        """The payload is one of the raw message's own parts, not a member of an archive
        or of a forwarded mail: the raw archive holds it, so ingest stores no copy
        (:func:`ingest.store.files.stored_file` writes one from the raw mail when asked;
        :func:`ingest.match.mailjob.store_files` writes the others)."""
        return self.container is None


@dataclass
class MessageAnalysis:
    digest: str
    headers: Unpacked
    attachments: list[AttachmentAnalysis]


def attachment_id(message_digest: str, part: str) -> str:
    """Stable across reparses: the clerk's ``assign`` refers to it."""
    return hashlib.sha256(f"{message_digest}:{part}".encode()).hexdigest()[:12]


@dataclass
class PreparedMessage:
    """A message unpacked and its parts' types detected: cheap, before any reading."""

    digest: str
    headers: Unpacked
    kinds: list[str]
    # top-level parts read in their detection job: part path -> Document | ParseError
    read_ahead: dict[str, Any] = field(default_factory=dict)

    @property
    def convertible(self) -> list[tuple[bytes, str]]:
        """(payload, kind) of the parts LibreOffice has to convert."""
        from parsers import conversion_target

        return [
            (p.payload, k)
            for p, k in zip(self.headers.parts, self.kinds, strict=True)
            if conversion_target(k)
        ]

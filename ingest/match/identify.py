"""Which unit sent an attachment: evidence in a fixed order, never a guess.

Order: the form's own ``填报单位/单位名称`` line, the attachment filename, the
mail subject, the sender address listed in the roster, the mail body. The
first place that names exactly one roster unit decides. A place that names
two or more units stops the search: the attachment goes to the clerk.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.match.roster import Roster

_LEVELS = (
    ("form", "表内填报单位"),
    ("filename", "文件名"),
    ("subject", "邮件主题"),
    ("sender", "发件人地址"),
    ("body", "邮件正文"),
)


@dataclass(frozen=True)
class UnitMatch:
    unit: str | None
    evidence: str  # e.g. "form: 填报单位（盖章）：南郑区财政局"
    reason: str | None = None  # why no unit, for the clerk (Chinese)
    candidates: tuple[str, ...] = ()


def identify_unit(
    roster: Roster, *, unit_line: str | None, filename: str, subject: str, sender: str, body: str
) -> UnitMatch:
    """Identify the unit of one attachment; see the module docstring for the order."""
    notes: list[str] = []
    texts = {"form": unit_line or "", "filename": filename, "subject": subject, "body": body[:4000]}
    for level, label in _LEVELS:
        if level == "sender":
            units = roster.by_email(sender) if sender else []
            shown = sender
        else:
            shown = texts[level]
            units = roster.find_in_text(shown) if shown else []
        if len(units) == 1:
            return UnitMatch(units[0].name, f"{level}: {_clip(shown)}")
        if len(units) > 1:
            names = tuple(u.name for u in units)
            return UnitMatch(
                None,
                f"{level}: {_clip(shown)}",
                f"{label}同时指向多个单位：{'、'.join(names)}，请人工认领",
                names,
            )
        if level == "form" and shown:
            notes.append(f"表内填报单位“{_clip(shown, 30)}”不在单位名单中")
    reason = "表内填报单位、文件名、邮件主题、发件人地址和正文中都找不到名单中的单位"
    if notes:
        reason = "；".join(notes + [reason])
    return UnitMatch(None, "", reason)


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Which unit sent an attachment: evidence in a fixed order, never a guess.

Order: the form's own ``填报单位/单位名称`` line, the attachment filename, the
mail subject, the sender address listed in the roster, the mail body and, for a
file inside a mail forwarded as an attachment, last the addresses of whoever
forwarded it (``forwarded_by``, nearest first). The first place that names
exactly one roster unit decides. A place that names two or more units stops the
search: the attachment goes to the clerk. The evidence shown says, in Chinese,
which place decided ("表内单位：…", "文件名：…", "发件人：…").
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.match.roster import Roster, Unit

_LEVELS = (  # (level, the clerk's word for it, the evidence label)
    ("form", "表内填报单位", "表内单位"),
    ("filename", "文件名", "文件名"),
    ("subject", "邮件主题", "邮件主题"),
    ("sender", "发件人地址", "发件人"),
    ("body", "邮件正文", "正文"),
    ("forwarded_by", "转发人地址", "转发人"),
)


@dataclass(frozen=True)
class UnitMatch:
    unit: str | None
    evidence: str  # e.g. "表内单位：填报单位（盖章）：南郑区财政局"
    reason: str | None = None  # why no unit, for the clerk (Chinese)
    candidates: tuple[str, ...] = ()


def identify_unit(
    roster: Roster,
    *,
    unit_line: str | None,
    filename: str,
    subject: str,
    sender: str,
    body: str,
    forwarded_by: tuple[str, ...] = (),
) -> UnitMatch:
    """Identify the unit of one attachment; see the module docstring for the order."""
    notes: list[str] = []
    texts = {"form": unit_line or "", "filename": filename, "subject": subject, "body": body[:4000]}
    for level, label, tag in _LEVELS:
        if level in ("sender", "forwarded_by"):
            shown, units = _by_address(roster, (sender,) if level == "sender" else forwarded_by)
        else:
            shown = texts[level]
            units = roster.find_in_text(shown) if shown else []
        if len(units) == 1:
            return UnitMatch(units[0].name, f"{tag}：{_clip(shown)}")
        if len(units) > 1:
            names = tuple(u.name for u in units)
            return UnitMatch(
                None,
                f"{tag}：{_clip(shown)}",
                f"{label}同时指向多个单位：{'、'.join(names)}，请人工认领",
                names,
            )
        if level == "form" and shown:
            notes.append(f"表内填报单位“{_clip(shown, 30)}”不在单位名单中")
    reason = "表内填报单位、文件名、邮件主题、发件人地址和正文中都找不到名单中的单位"
    if forwarded_by:
        reason = "表内填报单位、文件名、邮件主题、发件人和转发人地址、正文中都找不到名单中的单位"
    if notes:
        reason = "；".join(notes + [reason])
    return UnitMatch(None, "", reason)


def _by_address(roster: Roster, addresses: tuple[str, ...]) -> tuple[str, list[Unit]]:
    """The first address the roster lists, with its units; ("", []) when none is listed."""
    for address in addresses:
        units = roster.by_email(address) if address else []
        if units:
            return address, units
    return (addresses[0] if addresses else ""), []


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Mail forwarded "as attachment" (``message/rfc822``): opened like an archive.

163, QQ and Outlook forward a mail "作为附件转发" as an attached ``.eml``; the forms
are inside it, sometimes two levels deep. :func:`open_forwarded` unpacks the
attached mail and every mail attached to it (up to ``max_archive_depth`` levels
below the first, as for archives) and returns their file parts flattened in
order, each with the mail it sits in: that mail's sender, subject and body help
to identify the unit, and ``Unpacked.forwarded_by`` keeps the senders of the
enclosing mails as the fallback.

A part's path is ``<path of the .eml>/<MIME position inside it>`` ("2/1", "2/3/2"),
unique within the top message and stable for the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ingest.core.config import LimitsConfig
from ingest.mail.mime import EMBEDDED_TYPES, Part, Unpacked, unpack
from parsers.detect import detect_type

TOO_DEEP = "转发邮件嵌套层数过多，未打开"


@dataclass(frozen=True)
class ForwardedPart:
    """One file part of a forwarded mail (or a forwarded mail inside it)."""

    part: Part
    container: str  # file name of the .eml it came from
    mail: Unpacked  # the forwarded mail the part sits in
    opened: Unpacked | None = None  # set when the part is itself a mail, opened: its parts follow
    too_deep: bool = False  # a mail nested deeper than the limit: listed, not opened


@dataclass(frozen=True)
class Forwarded:
    """An attached mail, opened."""

    mail: Unpacked
    parts: tuple[ForwardedPart, ...]


def is_forwarded(part: Part, kind: str | None = None) -> bool:
    """An attached mail: declared ``message/rfc822``, or an ``.eml`` file that is a mail."""
    if part.content_type in EMBEDDED_TYPES:
        return True
    if not part.filename.lower().endswith(".eml"):
        return False
    return (kind or detect_type(part.payload, part.filename)) == "eml"


def open_forwarded(part: Part, outer: Unpacked, limits: LimitsConfig) -> Forwarded:
    """Unpack the mail attached as *part* of *outer*, nested mails flattened. Never raises."""
    mail = _inner(part, outer)
    found: list[ForwardedPart] = []
    _flatten(mail, part, limits, 0, found)
    return Forwarded(mail, tuple(found))


def describe(mail: Unpacked) -> str:
    """The clerk's line for an opened forwarded mail."""
    who = f"原发件人 {mail.sender}，" if mail.sender else ""
    subject = f"主题“{mail.subject}”，" if mail.subject else ""
    return f"转发的邮件（{who}{subject}带 {len(mail.parts)} 个附件），已打开"


def _inner(part: Part, outer: Unpacked) -> Unpacked:
    mail = unpack(part.payload)
    senders = tuple(s for s in (outer.sender, *outer.forwarded_by) if s)
    return replace(mail, forwarded_by=tuple(dict.fromkeys(senders)))


def _flatten(
    mail: Unpacked, holder: Part, limits: LimitsConfig, depth: int, found: list[ForwardedPart]
) -> None:
    for p in mail.parts:
        inner = replace(p, path=f"{holder.path}/{p.path}")
        if not is_forwarded(p):
            found.append(ForwardedPart(inner, holder.filename, mail))
        elif depth + 1 > limits.max_archive_depth:
            found.append(ForwardedPart(inner, holder.filename, mail, too_deep=True))
        else:
            nested = _inner(p, mail)
            found.append(ForwardedPart(inner, holder.filename, mail, opened=nested))
            _flatten(nested, inner, limits, depth + 1, found)

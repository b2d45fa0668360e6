"""What the clerk reads must be Chinese: find English words in reasons and evidence.

A reason or an evidence line may quote the sender's own text (a file name, a
subject, an address, a link): that is not ours and is cut out first. What is left
may name file formats and the kaohe commands the clerk is told to run, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.match.analysis_data import AttachmentAnalysis, MessageAnalysis

ALLOWED = frozenset(
    w.lower()
    for w in (
        "docx xlsx xlsm xlsb xls doc wps et pdf zip rar 7z csv ods odt rtf eml html txt json"
        " png jpg jpeg Word Excel WPS PDF OLE MB KB GB TB QQ kaohe add assign dismiss"
    ).split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_QUOTED = re.compile(r"“[^”]*”|「[^」]*」")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://\S+")
_MEMBER_PATH = re.compile(r"[^\s：；，（）]+/[^\s：；，（）]+")  # "材料.zip/内层/表.xlsx"


def english_words(text: str | None, quoted: Iterable[str] = ()) -> list[str]:
    """ASCII words in *text* other than format names and command names; the sender's
    own strings in *quoted* (and any “quoted” part, address or link) are skipped."""
    if not text:
        return []
    text = _MEMBER_PATH.sub(" ", _URL.sub(" ", _ADDRESS.sub(" ", _QUOTED.sub(" ", text))))
    for own in sorted((q for q in quoted if q), key=len, reverse=True):
        text = text.replace(own, " ")
    return [w for w in _WORD.findall(text) if w.lower() not in ALLOWED]


def clerk_texts(att: AttachmentAnalysis) -> list[str]:
    """Every string about *att* that the clerk reads (reports, inspect, console)."""
    return [att.reason or "", att.annex_evidence, att.unit_evidence]


def violations(analysis: MessageAnalysis) -> list[tuple[str, str, list[str]]]:
    """(file, text, English words) for each clerk-facing string of a message that has any."""
    h = analysis.headers
    found = []
    for att in analysis.attachments:
        own = [att.filename, att.container or "", h.subject, h.sender_name]
        own += [p.rsplit(".", 1)[0] for p in own if "." in p]  # "附件4-real-xlsx" of a name
        for text in clerk_texts(att):
            words = english_words(text, own)
            if words:
                found.append((att.filename, text, words))
    return found

"""Raw MIME bytes: where each entity sits in the message, and lenient base64.

The ``email`` package re-encodes what it parses; these helpers cut an attached
message out of the original bytes exactly, and decode base64 that old or
truncated mail damaged, reporting the damage instead of raising.
"""

from __future__ import annotations

import binascii
import re

Span = tuple[int, int]  # byte range of one MIME entity (headers + body) in the raw message

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_B64_CLEAN = re.compile(rb"[A-Za-z0-9+/\s]*={0,2}\s*")
_B64_CHUNK = re.compile(rb"[A-Za-z0-9+/]+=*")
_B64_BOUNDARY_REST = re.compile(rb"^--", re.MULTILINE)


def body_start(raw: bytes, start: int, end: int) -> int:
    """Offset of the body of the entity ``raw[start:end]``: just after the blank line."""
    for blank in (b"\r\n", b"\n"):
        if raw.startswith(blank, start):
            return start + len(blank)
    found = _HEADER_END.search(raw, start, end)
    return found.end() if found else end


def child_spans(raw: bytes, start: int, end: int, boundary: str) -> list[Span]:
    """Spans of the entities between ``--boundary`` lines in ``raw[start:end]``,
    cut as the ``email`` parser cuts them (the line break before a delimiter is
    part of the delimiter)."""
    token = re.escape(boundary.encode("utf-8", "surrogateescape"))
    delimiter = re.compile(rb"^--" + token + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    spans: list[Span] = []
    part_start: int | None = None
    for found in delimiter.finditer(raw, start, end):
        if part_start is not None:
            stop = found.start()
            stop -= 2 if raw[stop - 2 : stop] == b"\r\n" else 1 if raw[stop - 1 : stop] == b"\n" else 0
            spans.append((part_start, max(part_start, stop)))
        if found.group(1):
            return spans
        line_end = found.end()
        part_start = line_end + (2 if raw.startswith(b"\r\n", line_end) else 1)
    if part_start is not None:  # no closing delimiter: the last part runs to the end
        spans.append((part_start, max(part_start, end)))
    return spans


def decode_base64(data: bytes) -> tuple[bytes, bool]:
    """Decode base64 leniently: (bytes, damaged). Invalid characters are skipped, a
    truncated tail is decoded as far as whole bytes go, padded blocks glued together
    (some old encoders) are decoded one by one."""
    if _B64_CLEAN.fullmatch(data):
        try:
            return binascii.a2b_base64(data), False
        except binascii.Error:
            pass
    cut = _B64_BOUNDARY_REST.search(data)  # a truncated message ends in a half boundary line
    text = re.sub(rb"\s+", b"", data[: cut.start()] if cut else data)
    chunks = _B64_CHUNK.findall(text)
    damaged = cut is not None or sum(map(len, chunks)) != len(text)
    out = []
    for chunk in chunks:
        body = chunk.rstrip(b"=")
        rest = len(body) % 4
        if rest == 1 or (rest and len(chunk) - len(body) != 4 - rest):
            damaged = True
        body = body[: len(body) - (rest == 1)]
        out.append(binascii.a2b_base64(body + b"=" * (-len(body) % 4)))
    return b"".join(out), damaged

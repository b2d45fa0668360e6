"""Raw MIME bytes: where each entity sits in the message, and lenient base64.

The ``email`` package re-encodes what it parses; these helpers cut an attached
message out of the original bytes exactly, and decode base64 that old or
truncated mail damaged, reporting the damage instead of raising.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass, field

Span = tuple[int, int]  # byte range of one MIME entity (headers + body) in the raw message

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_WHITESPACE = b" \t\n\r\f\v"  # what \\s matches in a bytes pattern
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
            stop -= (
                2 if raw[stop - 2 : stop] == b"\r\n" else 1 if raw[stop - 1 : stop] == b"\n" else 0
            )
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
    if _clean_base64(data):
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


def _clean_base64(data: bytes) -> bool:
    """True when *data* is base64 characters and white space, with at most two ``=``
    at the end (the regex ``[A-Za-z0-9+/\\s]*={0,2}\\s*``, at C speed: bytes.translate)."""
    tail = data.rstrip(_WHITESPACE)
    body = tail.rstrip(b"=")
    return len(tail) - len(body) <= 2 and not body.translate(None, _B64_ALPHABET + _WHITESPACE)


# --- attachments: decode straight from the raw bytes -----------------------------------

SPOOL_MIN_MESSAGE = 16 * 1024  # smaller messages are parsed as they are
# Base64 characters and line breaks kept, every other byte marked "#": finding the next
# other byte is then a memchr (``bytes.find``), ~10× faster than a regex class search.
_MARK_OTHER = bytes(b if b in _B64_ALPHABET or b in b"\r\n" else ord("#") for b in range(256))
_SCAN_WINDOW = 256 * 1024  # translated a window at a time: no copy of a whole 36 MB mail
_B64_LAST = re.compile(rb"[A-Za-z0-9+/]{0,100}={0,2}\r?\n")  # its last, shorter line
_MIN_RUN_LINES = 64  # ~5 KB: shorter runs cost the email parser less than cutting them


@dataclass(frozen=True)
class Spool:
    """A message with its long base64 runs cut out for the ``email`` parser.

    The ``email`` package turns a message into one str and then a list of lines:
    a 36 MB mail peaked near 300 MB, and line splitting was the largest single
    cost of a cold ingest. ``reduced`` carries a short token line in place of each
    run, and :func:`decode_spooled` decodes the run from ``raw`` in one C call.
    """

    raw: bytes
    reduced: bytes
    token: str  # prefix of every token line; random so mail content cannot forge it
    spans: dict[str, Span] = field(default_factory=dict)


def spool_large_bodies(raw: bytes) -> Spool | None:
    """Cut long base64 runs out of a message; None when there is nothing to cut."""
    if len(raw) < SPOOL_MIN_MESSAGE:
        return None
    prefix = f"KAOHESPOOL{secrets.token_hex(8)}X"
    pieces: list[bytes] = []
    spans: dict[str, Span] = {}
    last = 0
    for start, end in _base64_runs(raw):
        token = f"{prefix}{len(spans):06d}"
        eol = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
        pieces += [raw[last:start], token.encode(), eol]
        spans[token] = (start, end)
        last = end
    if not spans:
        return None
    pieces.append(raw[last:])
    return Spool(raw, b"".join(pieces), prefix, spans)


def _base64_runs(raw: bytes) -> list[Span]:
    """Spans of ≥ _MIN_RUN_LINES consecutive base64 lines (plus their last line).

    Regions of base64 characters are found by one C-level search each; a single
    regex with a counted repeat would keep a backtracking mark per line and cost
    more memory than the message.
    """
    runs: list[Span] = []
    pos, size = 0, len(raw)
    scan = _Scan(raw)
    while pos < size:
        while pos < size and raw[pos] in b"\r\n":  # never swallow a blank separator line
            pos += 1
        stop = scan.next_other(pos)
        end = raw.rfind(b"\n", pos, stop) + 1  # the last whole line in the region
        if end > pos and raw.count(b"\n", pos, end) >= _MIN_RUN_LINES:
            tail = _B64_LAST.match(raw, end)
            runs.append((pos, tail.end() if tail else end))
            pos = runs[-1][1]
            continue
        nl = raw.find(b"\n", stop)
        pos = size if nl < 0 else nl + 1
    return runs


class _Scan:
    """Where the next byte that is neither base64 nor a line break is, window by window."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.start = self.end = 0
        self.marked = b""

    def next_other(self, pos: int) -> int:
        """Index of the first such byte at or after *pos*; ``len(raw)`` when there is none."""
        size = len(self.raw)
        while pos < size:
            if not self.start <= pos < self.end:
                self.start, self.end = pos, min(size, pos + _SCAN_WINDOW)
                self.marked = self.raw[self.start : self.end].translate(_MARK_OTHER)
            found = self.marked.find(b"#", pos - self.start)
            if found >= 0:
                return self.start + found
            pos = self.end
        return size


def decode_spooled(body: str, spool: Spool) -> tuple[bytes, bool]:
    """Decode a base64 body whose bulk sits in the spool: (bytes, damaged)."""
    pieces: list[bytes | Span] = []
    for text, span in _split_tokens(body.encode("ascii", "ignore"), spool):
        pieces.append(text)
        if span is not None:
            pieces.append(span)
    if not all(_whole_quads(p, spool.raw) for p in pieces[:-1]):
        return decode_base64(restore(body.encode("utf-8", "surrogateescape"), spool))
    view = memoryview(spool.raw)
    try:
        decoded = [
            binascii.a2b_base64(view[p[0] : p[1]] if isinstance(p, tuple) else p)
            for p in pieces
            if p
        ]
    except binascii.Error:
        return decode_base64(restore(body.encode("utf-8", "surrogateescape"), spool))
    # The line break after a run's token decodes to nothing: dropped, a lone run is
    # returned as decoded, not copied by a join (a 25 MB attachment held twice).
    out = [d for d in decoded if d]
    return (out[0] if len(out) == 1 else b"".join(out)), False


def restore(data: bytes, spool: Spool) -> bytes:
    """Put the cut base64 runs back into bytes taken from ``spool.reduced``."""
    token = spool.token.encode()
    if token not in data:
        return data
    out: list[bytes] = []
    for text, span in _split_tokens(data, spool):
        out.append(text)
        if span is not None:
            out.append(spool.raw[span[0] : span[1]])
    return b"".join(out)


def _split_tokens(data: bytes, spool: Spool) -> list[tuple[bytes, Span | None]]:
    """*data* cut at the spool's token lines: (bytes before a token, the token's span).

    The last pair has no span; a token's line break goes with it (the run put back
    ends in its own). Split with ``bytes.split``, not a regex: a pattern per message
    would crowd the ``re`` module's cache.
    """
    token = spool.token.encode()
    first, *rest = data.split(token)
    out: list[tuple[bytes, Span | None]] = []
    before = first
    for chunk in rest:
        span = spool.spans.get(spool.token + chunk[:6].decode("latin-1"))
        if span is None:  # not one of ours (the prefix is random: not by chance)
            before += token + chunk
            continue
        out.append((before, span))
        before = chunk[6:]
        before = before[2:] if before.startswith(b"\r\n") else before.removeprefix(b"\n")
    out.append((before, None))
    return out


def _whole_quads(piece: bytes | Span, raw: bytes) -> bool:
    """True when the piece holds a multiple of 4 base64 characters (decodable alone)."""
    if isinstance(piece, tuple):
        start, end = piece
        chars = end - start - raw.count(b"\n", start, end) - raw.count(b"\r", start, end)
    else:
        chars = len(re.sub(rb"[^A-Za-z0-9+/=]", b"", piece))
    return chars % 4 == 0

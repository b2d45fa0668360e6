"""Decode subjects, display names and attachment names as Chinese mail clients write them.

Python's ``email`` package gets several of these wrong (each seen in real office
mail; tests/ingest/mail/test_names.py has one case per kind): a GB2312 label on GBK-only characters, unquoted encoded-words in
``filename=``, raw 8-bit GBK bytes, a space inserted before ``.xlsx``. So this
module reads the raw header text (``Message.raw_items()`` under the ``compat32``
policy, where 8-bit bytes survive as surrogate escapes) and decodes it itself:

- every GB label (gb2312, gbk, cp936, euc-cn, x-gbk, gb_2312-80 …) is read as GB18030;
- adjacent encoded-words of one charset are joined *as bytes* before decoding,
  so a character split across two words survives, and no space is inserted;
- RFC 2231 continuations are joined as bytes before decoding;
- raw 8-bit text is tried as strict UTF-8, then GB18030;
- an unknown or missing charset is decoded best effort; nothing here raises.

Decoded names are data, exactly as the sender's client meant them
(``../../etc/passwd`` stays that); never use one as a path.
:func:`safe_display_name` gives a form fit for a terminal or a log line.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from email.header import Header
from email.message import Message

__all__ = [
    "decode_filename",
    "decode_header_text",
    "charset_known",
    "decode_text_bytes",
    "raw_header",
    "safe_display_name",
    "unfold_raw",
    "unknown_charsets",
]

# Labels of GB2312 and its supersets; GB18030 decodes all of them. Compared after
# _squash() (lower case, alphanumerics only), so "GB_2312-80" and "x-gbk" match.
_GB_LABELS = frozenset(
    {
        "gb2312", "gb231280", "gb23121980", "gbk", "xgbk", "cp936", "ms936", "windows936",
        "euccn", "xeuccn", "eucgb2312cn", "csgb2312", "csiso58gb231280", "chinese",
        "isoir58", "gb18030", "gb180302000", "gb180302005",
    }
)  # fmt: skip
_BIG5_LABELS = frozenset({"big5", "xbig5", "csbig5", "cp950", "ms950", "windows950", "big5hkscs"})
# Labels that promise nothing about 8-bit bytes: read them like unlabelled text.
_VAGUE_LABELS = frozenset({"", "usascii", "ascii", "unknown8bit", "default"})
_FALLBACK = ("utf-8", "gb18030")

# An encoded-word. Real clients also write them glued to other text and with
# language tags (=?utf-8*zh?B?…?=), so no surrounding whitespace is required.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]*)(?:\*[^?\s]*)?\?([BbQq])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r?\n$")
_SECTION = re.compile(r"^([^*]+)\*(?:(\d+)\*?)?$")  # name*, name*0, name*0*
_BAD_DISPLAY = re.compile(r"[/\\]")


def _squash(label: str) -> str:
    return re.sub(r"[^0-9a-z]", "", label.lower())


def _codecs_for(label: str | None) -> tuple[str, ...]:
    """The codecs to try, in order, for bytes labelled *label*."""
    squashed = _squash(label or "")
    if squashed in _GB_LABELS:
        return ("gb18030",)
    if squashed in _BIG5_LABELS:
        return ("big5hkscs", "cp950")
    if squashed in _VAGUE_LABELS:
        return _FALLBACK
    try:
        name = codecs.lookup((label or "").strip().strip("\"'")).name
    except (LookupError, ValueError):
        return _FALLBACK
    # A declared charset wins: a stray bad byte in UTF-8 text must give one
    # replacement character, not a whole text of GB18030 mojibake.
    return ("gb18030",) if name in ("gb2312", "gbk", "gb18030") else (name,)


def charset_known(label: str | None) -> bool:
    """True when *label* names a charset we can decode by its name (or says nothing)."""
    squashed = _squash(label or "")
    if squashed in _GB_LABELS or squashed in _BIG5_LABELS or squashed in _VAGUE_LABELS:
        return True
    try:
        codecs.lookup((label or "").strip().strip("\"'"))
    except (LookupError, ValueError):
        return False
    return True


def decode_text_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode *data* labelled *charset*: GB labels as GB18030, a known label as itself,
    a missing, vague (us-ascii) or unknown label as strict UTF-8, else GB18030.

    If no candidate fits strictly, the first is used with replacement characters.
    Never raises.
    """
    candidates = _codecs_for(charset)
    for codec in candidates:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(candidates[0], errors="replace")


def unfold_raw(text: str) -> str:
    """Unfold a raw header value and turn its 8-bit bytes into characters (UTF-8, else
    GB18030), leaving encoded-words alone: for parsing addresses before decoding names.
    """
    return _restore_raw(_unfold(text))


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an 8-bit byte, surrogate-escaped


def _restore_raw(text: str) -> str:
    """Turn surrogate-escaped 8-bit bytes (compat32 header text) back into characters."""
    if _ESCAPED_BYTE.search(text) is None:
        return text
    return decode_text_bytes(text.encode("utf-8", "surrogateescape"))


def _unfold(text: str) -> str:
    # RFC 5322 unfolding: drop the line break, keep the whitespace after it.
    return _FOLD.sub("", text)


def _word_bytes(encoding: str, payload: str) -> bytes:
    raw = payload.encode("utf-8", "surrogateescape")
    if encoding in "Qq":
        return binascii.a2b_qp(raw, header=True)
    return _b64_lenient(raw)


def _b64_lenient(raw: bytes) -> bytes:
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", raw.split(b"=", 1)[0])
    clean = clean[: len(clean) - (len(clean) % 4 == 1)]  # a lone trailing char carries no byte
    return base64.b64decode(clean + b"=" * (-len(clean) % 4))


@dataclass
class _Run:
    """Adjacent encoded-words sharing one charset, to be decoded together."""

    charset: str
    words: list[tuple[str, str]]  # (encoding, encoded text)

    def decode(self) -> str:
        b_texts = [text for enc, text in self.words if enc in "Bb"]
        if len(b_texts) == len(self.words) and any(len(t) % 4 for t in b_texts[:-1]):
            # Some clients cut the base64 text itself, not the bytes: rejoin first.
            data = _b64_lenient("".join(t.rstrip("=") for t in b_texts).encode())
        else:
            data = b"".join(_word_bytes(enc, text) for enc, text in self.words)
        return decode_text_bytes(data, self.charset)


def _decode_words(text: str) -> str:
    """Decode every encoded-word in *text*; whitespace between two words is dropped."""
    out: list[str] = []
    run: _Run | None = None
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        charset, encoding, payload = match.groups()
        if run is not None and (gap.strip() or _squash(run.charset) != _squash(charset)):
            out.append(run.decode())
            if gap.strip():
                out.append(gap)
            run = None
        elif run is None:
            out.append(gap)
        if run is None:
            run = _Run(charset, [])
        run.words.append((encoding, payload))
        pos = match.end()
    if run is not None:
        out.append(run.decode())
    out.append(text[pos:])
    return "".join(out)


def decode_header_text(raw: str | bytes | Header | None) -> str:
    """Decode a subject or display name to text, in any form Chinese clients send.

    *raw* may be the raw header value from ``raw_items()`` (8-bit bytes as
    surrogate escapes), bytes, or a :class:`email.header.Header`. Leading and
    trailing whitespace is removed. ``None`` gives ``""``. Never raises.
    """
    if raw is None:
        return ""
    if isinstance(raw, Header):
        # encode() keeps unknown-8bit chunks as their original bytes.
        raw = raw.encode(maxlinelen=0)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "surrogateescape")
    return _decode_words(_restore_raw(_unfold(raw))).strip()


def raw_header(part: Message, name: str) -> str | None:
    """The first *name* header of *part* as stored: 8-bit bytes still surrogate-escaped."""
    wanted = name.lower()
    for key, value in part.raw_items():
        if key.lower() == wanted:
            return value if isinstance(value, str) else str(value)
    return None


def _split_params(value: str) -> list[tuple[str, str]]:
    """Split ``type; a=1; b="x;y"`` into [(a, 1), (b, x;y)]; the leading type is dropped."""
    params: list[tuple[str, str]] = []
    pieces = _split_semicolons(value)
    # The leading piece is the type ("attachment"); some clients omit it.
    for piece in pieces if "=" in pieces[0] else pieces[1:]:
        key, sep, val = piece.partition("=")
        if sep:
            params.append((key.strip().lower(), _unquote(val.strip())))
    return params


def _split_semicolons(value: str) -> list[str]:
    if '"' not in value:  # nearly every header: nothing is quoted, so nothing escaped
        return value.split(";")
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    pieces.append("".join(current))
    return pieces


def _unquote(value: str) -> str:
    if value.startswith('"'):
        # Only \\ and \" are undone: Windows paths inside quotes are common and unescaped.
        inner = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
        return inner.replace("\\\\", "\\").replace('\\"', '"')
    return value


def _param_value(params: list[tuple[str, str]], wanted: str) -> str | None:
    """The decoded value of parameter *wanted*, preferring RFC 2231 forms over plain ones."""
    sections: dict[int, tuple[str, bool]] = {}
    extended: str | None = None
    plain: str | None = None
    for key, value in params:
        match = _SECTION.match(key)
        if key == wanted and plain is None:
            plain = value
        elif match and match.group(1) == wanted:
            if match.group(2) is None:
                extended = value if extended is None else extended
            else:
                sections.setdefault(int(match.group(2)), (value, key.endswith("*")))
    if sections:
        return _join_sections(sections)
    if extended is not None:
        return _decode_extended(extended)
    if plain is not None:
        return _decode_words(_restore_raw(_unfold(plain)))
    return None


def _join_sections(sections: dict[int, tuple[str, bool]]) -> str:
    """RFC 2231 continuations: join the *bytes* of all sections, then decode once."""
    ordered = [sections[n] for n in sorted(sections)]
    first_value, first_encoded = ordered[0]
    charset: str | None = None
    if first_encoded and first_value.count("'") >= 2:
        charset, _lang, first_value = first_value.split("'", 2)
        ordered[0] = (first_value, True)
    if not any(encoded for _, encoded in ordered):
        return _decode_words(_restore_raw(_unfold("".join(v for v, _ in ordered))))
    data = b"".join(_section_bytes(v, enc) for v, enc in ordered)
    return _decode_words(decode_text_bytes(data, charset))


def _section_bytes(value: str, encoded: bool) -> bytes:
    raw = _unfold(value).encode("utf-8", "surrogateescape")
    return urllib.parse.unquote_to_bytes(raw) if encoded else raw


def _decode_extended(value: str) -> str:
    """``charset'lang'%XX…`` (RFC 2231, single section)."""
    charset: str | None = None
    if value.count("'") >= 2:
        charset, _lang, value = value.split("'", 2)
    data = urllib.parse.unquote_to_bytes(_unfold(value).encode("utf-8", "surrogateescape"))
    # Some clients put an encoded-word inside filename*=; decode that too.
    return _decode_words(decode_text_bytes(data, charset))


def decode_filename(part: Message) -> str | None:
    """The attachment name of *part* exactly as the sender's client meant it, or None.

    Looks at ``Content-Disposition: …; filename`` first, then ``Content-Type: …; name``,
    in every form listed in the module docstring. An empty name counts as none.
    Expects a message parsed with the ``compat32`` policy (raw header text). Never raises.
    """
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = raw_header(part, header)
        if value is None:
            continue
        try:
            name = _param_value(_split_params(value), param)
        except (ValueError, binascii.Error):  # defensive: garbage must not stop the caller
            name = None
        if name:
            return name
    return None


def unknown_charsets(raw: str | None) -> list[str]:
    """Charset labels in a raw header value (encoded-words, RFC 2231) that no codec knows."""
    if not raw:
        return []
    labels = [m.group(1) for m in _ENCODED_WORD.finditer(raw)]
    labels += re.findall(r"\*0?\*?\s*=\s*\"?([^'\";\s]*)'[^']*'", raw)
    seen: list[str] = []
    for label in labels:
        if not charset_known(label) and label not in seen:
            seen.append(label)
    return seen


def safe_display_name(name: str) -> str:
    """*name* fit for a terminal, log line or report cell: no control or bidi characters,
    no path separators (each replaced by ``_``). For display only, never for storage.
    """
    out = []
    for ch in name:
        category = unicodedata.category(ch)
        bad = category in ("Cc", "Cs") or (category == "Cf" and ch not in "\u200d")
        out.append("_" if bad or _BAD_DISPLAY.match(ch) else ch)
    return "".join(out) or "_"

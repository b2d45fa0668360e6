"""Build .eml bytes the way Chinese mail clients really write them.

The ``email`` package would "fix" most of these headers when generating, so the
header lines are written by hand. Everything uses CRLF line ends, as mail comes
from IMAP. Shared by every test that needs a message:

    raw = make_mail(attachments=[("附件4.xlsx", data)], name_style="rfc2047_b")

Name styles (how the attachment name is written, and who writes it that way):

- ``rfc2231``: ``filename*=gbk''%B8%BD…`` (Outlook with some settings, Thunderbird with utf-8)
- ``rfc2047_b``: ``filename="=?GB2312?B?…?="``, long names as several words folded
  inside the quotes (Outlook, Foxmail); GBK label when GB2312 cannot hold the name
- ``rfc2047_q``: ``filename="=?GBK?Q?=B8=BD…?="``
- ``rfc2047_unquoted``: ``filename==?GB2312?B?…?=`` (old Foxmail; policy.default drops it)
- ``gb2312_label_gbk_bytes``: labelled GB2312, bytes GBK (堃, 镕 …; Foxmail, Outlook)
- ``rfc2047_b_split_char``: one GBK character cut across two encoded-words (broken encoders)
- ``rfc2047_b_plain_ext``: ``"=?GBK?B?…?=.xlsx"``, the extension glued on unencoded
- ``rfc2231_continuation_split``: ``filename*0*=gbk''…; filename*1*=…`` cut inside a character
- ``raw_gbk``: unencoded 8-bit GBK bytes in the header (old clients, some OA systems)
- ``raw_utf8``: unencoded 8-bit UTF-8 bytes (RFC 6532 style)
- ``content_type_only``: the name only in ``Content-Type; name=`` (QQ mail, some phones)
- ``utf8``: ``filename="=?UTF-8?B?…?="`` (163 webmail, QQ mail)
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

CRLF = b"\r\n"
NAME_STYLES = (
    "rfc2231",
    "rfc2047_b",
    "rfc2047_q",
    "rfc2047_unquoted",
    "gb2312_label_gbk_bytes",
    "rfc2047_b_split_char",
    "rfc2047_b_plain_ext",
    "rfc2231_continuation_split",
    "raw_gbk",
    "raw_utf8",
    "content_type_only",
    "utf8",
)
SUBJECT_CHARSETS = ("gbk", "gb2312", "gb18030", "utf-8", "big5", "raw")


@dataclass(frozen=True)
class Att:
    """One attachment to build. ``name=None`` gives a part without any name."""

    name: str | None
    data: bytes
    content_type: str | None = None  # guessed from the name when None
    name_style: str | None = None  # None: the mail's name_style
    inline: bool = False
    content_id: str | None = None
    cte: str = "base64"  # "base64" | "7bit" | "8bit" (message/rfc822 must not be base64)


# --- low-level pieces -------------------------------------------------------------


def header(name: str, value: str | bytes) -> bytes:
    """One header line; bytes are written verbatim, text as raw UTF-8 (8-bit allowed)."""
    raw = value if isinstance(value, bytes) else value.encode()
    return name.encode("ascii") + b": " + raw + CRLF


def leaf(headers: list[bytes], body: bytes) -> bytes:
    """A MIME entity: header lines (from :func:`header`), blank line, body as given."""
    return b"".join(headers) + CRLF + body


def multipart(
    subtype: str,
    *parts: bytes,
    boundary: str | None = None,
    headers: list[bytes] | None = None,
    close: bool = True,
) -> bytes:
    """A multipart entity holding *parts*; ``close=False`` leaves out the end boundary."""
    boundary = boundary or "----=_Part_" + hashlib.sha1(b"".join(parts)).hexdigest()[:16]
    head = [*(headers or []), header("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')]
    delim = b"--" + boundary.encode()
    body = b"This is a multi-part message in MIME format." + CRLF
    for part in parts:
        body += CRLF + delim + CRLF + part
    body += CRLF + delim + b"--" + CRLF if close else CRLF
    return leaf(head, body)


def b64_body(data: bytes) -> bytes:
    """Base64 in 76-character lines, as every client writes it."""
    text = base64.b64encode(data)
    return b"".join(text[i : i + 76] + CRLF for i in range(0, len(text), 76))


def encoded_words(text: str, charset: str, encoding: str = "B", max_bytes: int = 45) -> list[str]:
    """RFC 2047 words of at most *max_bytes* encoded bytes each, cut between characters."""
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk", "gb18030") else charset
    chunks: list[bytes] = [b""]
    for ch in text:
        data = ch.encode(codec)
        if chunks[-1] and len(chunks[-1]) + len(data) > max_bytes:
            chunks.append(b"")
        chunks[-1] += data
    return [f"=?{charset}?{encoding}?{_encode_word(c, encoding)}?=" for c in chunks]


def _encode_word(data: bytes, encoding: str) -> str:
    if encoding.upper() == "B":
        return base64.b64encode(data).decode()
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
    return "".join(chr(b) if b in safe else "_" if b == 0x20 else f"={b:02X}" for b in data)


# --- names ------------------------------------------------------------------------


def name_params(name: str, style: str) -> tuple[bytes, bytes]:
    """(Content-Type parameters, Content-Disposition parameters) for *name* in *style*."""
    quoted = _name_value(name, style)
    if style == "content_type_only":
        return b"; name=" + quoted, b""
    if style.startswith("rfc2231"):
        return b"", quoted
    return b"; name=" + quoted, b"; filename=" + quoted


def _name_value(name: str, style: str) -> bytes:
    gbk = name.encode("gb18030")
    if style in ("rfc2047_b", "content_type_only"):
        label = "GB2312" if _fits_gb2312(name) else "GBK"
        return _quoted_words(encoded_words(name, label))
    if style == "gb2312_label_gbk_bytes":
        return _quoted_words(encoded_words(name, "GB2312"))
    if style == "rfc2047_q":
        return _quoted_words(encoded_words(name, "GBK", "Q"))
    if style == "rfc2047_unquoted":
        return " ".join(encoded_words(name, "GB2312", max_bytes=200)).encode()
    if style == "rfc2047_b_split_char":
        cut = _cut_inside_char(name)
        words = [f"=?GBK?B?{base64.b64encode(p).decode()}?=" for p in (gbk[:cut], gbk[cut:])]
        return _quoted_words(words)
    if style == "rfc2047_b_plain_ext":
        stem, dot, ext = name.rpartition(".")
        return _quoted_words(encoded_words(stem, "GBK"))[:-1] + (dot + ext).encode() + b'"'
    if style == "utf8":
        return _quoted_words(encoded_words(name, "UTF-8"))
    if style == "raw_gbk":
        return b'"' + gbk + b'"'
    if style == "raw_utf8":
        return b'"' + name.encode() + b'"'
    if style == "rfc2231":
        return b"; filename*=gbk''" + urllib.parse.quote_from_bytes(gbk, safe="").encode()
    if style == "rfc2231_continuation_split":
        return _continuations(gbk, _cut_inside_char(name))
    raise ValueError(f"unknown name_style {style!r}")


def _fits_gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _quoted_words(words: list[str]) -> bytes:
    # Outlook folds long names between words inside the quoted string.
    return b'"' + "\r\n\t".join(words).encode() + b'"'


def _cut_inside_char(name: str) -> int:
    """A byte offset in the GBK form of *name* that falls inside a two-byte character."""
    offset = 0
    for index, ch in enumerate(name):
        width = len(ch.encode("gb18030"))
        if width > 1 and index >= len(name) // 2:
            return offset + 1
        offset += width
    raise ValueError("name needs a multi-byte character in its second half")


def _continuations(data: bytes, first_cut: int) -> bytes:
    cuts = [0, first_cut, *range(first_cut + 30, len(data), 30), len(data)]
    sections = [
        urllib.parse.quote_from_bytes(data[a:b], safe="")
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    lines = [
        f"filename*{i}*={'gbk' + chr(39) * 2 if i == 0 else ''}{s}" for i, s in enumerate(sections)
    ]
    return b";\r\n\t" + ";\r\n\t".join(lines).encode()


# --- whole messages -------------------------------------------------------------


def encode_header_text(text: str, charset: str = "gbk", encoding: str = "B") -> bytes:
    """A subject/display name as clients write it; charset "raw" gives 8-bit GBK bytes."""
    if charset == "raw":
        return text.encode("gb18030")
    if text.isascii():
        return text.encode()
    return "\r\n ".join(encoded_words(text, charset.upper(), encoding)).encode()


def attachment_part(att: Att, style: str) -> bytes:
    """The MIME entity for one attachment."""
    ctype = (
        att.content_type or mimetypes.guess_type(att.name or "")[0] or "application/octet-stream"
    )
    ct_params, cd_params = (
        name_params(att.name, att.name_style or style) if att.name else (b"", b"")
    )
    headers = [header("Content-Type", ctype.encode() + ct_params)]
    if att.cte == "base64":
        headers.append(header("Content-Transfer-Encoding", "base64"))
        body = b64_body(att.data)
    else:
        headers.append(header("Content-Transfer-Encoding", att.cte))
        body = att.data
    if att.content_id:
        headers.append(header("Content-ID", f"<{att.content_id}>"))
    disposition = b"inline" if att.inline else b"attachment"
    headers.append(header("Content-Disposition", disposition + cd_params))
    return leaf(headers, body)


def text_part(text: str, subtype: str = "plain", charset: str = "gbk") -> bytes:
    """A text body in *charset*, base64 encoded like Foxmail and 163 webmail do."""
    codec = "gb18030" if charset.lower() in ("gbk", "gb2312", "gb18030") else charset
    headers = [
        header("Content-Type", f"text/{subtype}; charset={charset.upper()}"),
        header("Content-Transfer-Encoding", "base64"),
    ]
    return leaf(headers, b64_body(text.encode(codec, errors="replace")))


def top_headers(
    *,
    sender: str,
    sender_name: str,
    subject: str,
    subject_charset: str,
    message_id: str | None,
    date: datetime | str | None,
    to: str = "nzkhb@163.com",
) -> list[bytes]:
    """From, To, Subject, Date, Message-ID, MIME-Version, as Foxmail orders them."""
    if isinstance(date, datetime):
        date = format_datetime(date)
    digest = hashlib.sha1((sender + subject + str(date)).encode()).hexdigest()[:20]
    msgid = message_id or f"<{digest}@kaohe.test>"
    name = encode_header_text(sender_name, subject_charset) if sender_name else b""
    from_value = (b'"' + name + b'" <' + sender.encode() + b">") if name else sender.encode()
    return [
        header("From", from_value),
        header("To", to),
        header("Subject", encode_header_text(subject, subject_charset)),
        header("Date", date or "Thu, 12 Mar 2020 09:05:00 +0800"),
        header("Message-ID", msgid),
        header("X-Mailer", "Foxmail 7.2.16.188[cn]"),
        header("Mime-Version", "1.0"),
    ]


def make_mail(
    *,
    sender: str = "nzczj@163.com",
    sender_name: str = "南郑区财政局",
    subject: str = "南郑区财政局2020年度考核任务申报",
    attachments: list[tuple[str, bytes]] | list[Att] | None = None,
    name_style: str = "rfc2231",
    body: str = "您好，附件是我单位申报表，请查收。",
    html: str | None = None,
    message_id: str | None = None,
    date: datetime | str | None = None,
    subject_charset: str = "gbk",
) -> bytes:
    """A whole message: multipart/mixed with the body (plain, or plain + html) and attachments."""
    atts = [a if isinstance(a, Att) else Att(a[0], a[1]) for a in attachments or []]
    body_part = text_part(body)
    if html is not None:
        body_part = multipart("alternative", body_part, text_part(html, "html"))
    parts = [body_part, *(attachment_part(a, name_style) for a in atts)]
    heads = top_headers(
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        subject_charset=subject_charset,
        message_id=message_id,
        date=date,
    )
    return multipart("mixed", *parts, headers=heads)

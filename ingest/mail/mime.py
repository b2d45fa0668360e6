"""Unpack one raw message: decoded headers, body text, and every part that carries a file.

``unpack(raw)`` never raises. Malformed MIME is decoded as far as it goes and each
problem becomes a clerk-readable defect (Chinese) in ``Unpacked.defects``.

Which parts are listed (contract §8):

- every leaf part with a file name (attachment or inline, images included);
- an attached ``message/rfc822`` as one part whose payload is the embedded
  message's bytes exactly as received, named by its header or ``<subject>.eml``;
  it is not descended into (the pipeline may ``unpack`` it again);
- decision: a *nameless* part is listed too, with a synthetic name, when it
  cannot be a text body: ``image/*`` (a pasted photo of a stamped form;
  ``inline-image-2-1.png``), ``application/*``, ``audio/*``, ``video/*``, or any
  part with ``Content-Disposition: attachment`` (``attachment-3.bin``). Dropping
  those would silently lose forms from old clients; the names never collide with a
  path because the MIME position is in them;
- nameless ``text/plain`` and ``text/html`` parts are bodies, not listed.

``Part.path`` is the IMAP-style MIME position ("1", "2.1"): stable for the same bytes.
Parsing uses the ``compat32`` policy so raw header text reaches :mod:`ingest.mail.names`.
"""

from __future__ import annotations

import email
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

from ingest.mail.mime_raw import (
    Span,
    Spool,
    body_start,
    child_spans,
    decode_base64,
    decode_spooled,
    restore,
    spool_large_bodies,
)
from ingest.mail.names import (
    charset_known,
    decode_filename,
    decode_header_text,
    decode_text_bytes,
    raw_header,
    safe_display_name,
    unfold_raw,
    unknown_charsets,
)

__all__ = ["EMBEDDED_TYPES", "Part", "Unpacked", "parse_address", "unpack"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """One MIME part that carries a file."""

    path: str  # MIME position, "2" or "2.1"
    filename: str  # decoded, exactly as the sender meant it; never a path
    content_type: str  # as declared, lower case ("application/octet-stream")
    payload: bytes  # transfer encoding removed
    inline: bool  # Content-Disposition inline (or none, with a Content-ID)


@dataclass(frozen=True)
class Unpacked:
    """Everything the pipeline needs from one message."""

    message_id: str | None
    sender: str  # address, lower case; "" when there is none
    sender_name: str
    subject: str
    date: datetime | None  # aware; None when missing or unreadable
    in_reply_to: str | None
    references: list[str]
    body_text: str
    parts: list[Part] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    # For a mail forwarded as an attachment: senders of the mails it sits in, nearest
    # first (see ingest.mail.forwarded); the fallback when nothing inside names the unit.
    forwarded_by: tuple[str, ...] = ()
    body_html: str = ""  # the html bodies as sent (links kept: see ingest.mail.bigattach)


_DEFECT_TEXT: dict[type[email_errors.MessageDefect], str] = {
    email_errors.NoBoundaryInMultipartDefect: "多部分邮件缺少分隔符（boundary）",
    email_errors.StartBoundaryNotFoundDefect: "找不到声明的分隔符（boundary），邮件结构可能已损坏",
    email_errors.CloseBoundaryNotFoundDefect: "缺少结束分隔符，邮件可能被截断",
    email_errors.FirstHeaderLineIsContinuationDefect: "邮件头第一行格式错误",
    email_errors.MissingHeaderBodySeparatorDefect: "邮件头与正文之间缺少空行",
    email_errors.MultipartInvariantViolationDefect: "多部分邮件的结构不完整",
    email_errors.InvalidMultipartContentTransferEncodingDefect: "多部分邮件声明了无效的传输编码",
}
_NAMELESS_LISTED = ("image", "application", "audio", "video")
EMBEDDED_TYPES = ("message/rfc822", "message/global")  # an attached mail
_EMBEDDED = EMBEDDED_TYPES
_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200}?)(?:--)?[ \t]*\r?$", re.MULTILINE)


def parse_address(value: str | None) -> tuple[str, str]:
    """(decoded display name, lower-case address) of the first mailbox in *value*.

    *value* is a raw header value (encoded-words and 8-bit bytes allowed); ("", "")
    when nothing usable is found. Addresses are lower-cased: 163.com and the roster
    compare them case-insensitively.
    """
    if not value:
        return "", ""
    text = unfold_raw(value)
    name, addr = parseaddr(text)
    if "@" not in addr:
        found = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)
        addr = found.group(0) if found else ""
    return decode_header_text(name), addr.strip().lower()


def unpack(raw: bytes) -> Unpacked:
    """Headers, body text and file parts of one raw message. Never raises."""
    if not raw or raw.isspace():  # not strip(): that copies the whole message
        return _empty(["邮件内容为空"])
    spool = spool_large_bodies(raw)
    parsed = spool.reduced if spool else raw
    msg = email.message_from_bytes(parsed, policy=compat32)
    if not msg.keys():
        return _empty(["不是邮件格式：找不到邮件头"])
    walker = _Walker(parsed, spool)
    try:
        walker.walk(msg, "", (0, len(parsed)))
    except Exception as exc:  # the contract is "never raise": keep what was found
        log.warning("unpack: walk failed", exc_info=True)
        walker.defects.append(f"邮件结构无法完整解析（{type(exc).__name__}），部分内容可能缺失")
    defects: list[str] = []
    sender_name, sender = parse_address(raw_header(msg, "from") or raw_header(msg, "sender"))
    if not sender:
        defects.append("缺少发件人地址")
    for name in ("subject", "from"):
        for label in unknown_charsets(raw_header(msg, name)):
            defects.append(f"邮件头“{name}”使用了未知字符集“{label}”，已尽量解码")
    return Unpacked(
        message_id=_header_or_none(msg, "message-id"),
        sender=sender,
        sender_name=sender_name,
        subject=decode_header_text(raw_header(msg, "subject")),
        date=_parse_date(raw_header(msg, "date"), defects),
        in_reply_to=_header_or_none(msg, "in-reply-to"),
        references=re.findall(r"<[^<>\s]+>", raw_header(msg, "references") or ""),
        body_text=walker.body_text(),
        parts=walker.parts,
        defects=defects + walker.defects,
        body_html="\n".join(walker.html),
    )


def _empty(defects: list[str]) -> Unpacked:
    return Unpacked(None, "", "", "", None, None, [], "", [], defects)


def _header_or_none(msg: Message, name: str) -> str | None:
    return decode_header_text(raw_header(msg, name)) or None


def _parse_date(value: str | None, defects: list[str]) -> datetime | None:
    if value is None or not value.strip():
        return None
    text = unfold_raw(value).strip()
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(f"邮件日期无法识别：{safe_display_name(text)}")
        return None
    # "-0000" (zone unknown) gives a naive time: it is UTC by RFC 5322.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Walker:
    """Collects file parts, body texts and defects while walking the MIME tree."""

    def __init__(self, raw: bytes, spool: Spool | None = None) -> None:
        self.raw = raw  # the bytes the email package parsed (spool.reduced for large mail)
        self.spool = spool
        self.parts: list[Part] = []
        self.plain: list[str] = []
        self.html: list[str] = []
        self.defects: list[str] = []

    def walk(self, node: Message, path: str, span: Span | None) -> None:
        self._note_defects(node, path)
        if node.get_content_maintype() == "multipart" and not node.is_multipart():
            node = _salvage_multipart(node, path, self.defects)
        # message/* parts are leaves: rfc822 is one .eml, delivery-status is no file.
        if node.is_multipart() and node.get_content_maintype() != "message":
            self._walk_children(node, path, span)
            return
        try:
            self._leaf(node, path or "1", span)
        except Exception as exc:  # one broken part must not hide the others
            log.warning("unpack: part %s failed", path or "1", exc_info=True)
            self.defects.append(f"第 {path or '1'} 部分无法解析（{type(exc).__name__}），已跳过")

    def _walk_children(self, node: Message, path: str, span: Span | None) -> None:
        children = node.get_payload()
        assert isinstance(children, list)
        spans: list[Span | None] = [None] * len(children)
        boundary = node.get_boundary()
        # Byte spans are only needed to cut an attached mail out of the raw bytes exactly.
        if span is not None and boundary and _holds_embedded(node):
            found = child_spans(self.raw, body_start(self.raw, *span), span[1], boundary)
            if len(found) == len(children):
                spans = list(found)
        for index, (child, child_span) in enumerate(zip(children, spans, strict=True), 1):
            self.walk(child, f"{path}.{index}" if path else str(index), child_span)

    def _note_defects(self, node: Message, path: str) -> None:
        for defect in node.defects:
            text = _DEFECT_TEXT.get(type(defect))
            if text:
                self.defects.append(f"第 {path} 部分：{text}" if path else text)

    def _leaf(self, node: Message, path: str, span: Span | None) -> None:
        ctype = node.get_content_type()
        name = decode_filename(node)
        self._check_charsets(node, path)
        if ctype in _EMBEDDED:
            self._embedded(node, path, span, name)
            return
        disposition = _disposition(node)
        if name is None and ctype in ("text/plain", "text/html") and disposition != "attachment":
            self._body(node, path, ctype)
            return
        if name is None and ctype.startswith("multipart/"):  # could not be split: keep its text
            self._body(node, path, "text/plain")
            return
        if name is None and (
            ctype.split("/")[0] in _NAMELESS_LISTED or disposition == "attachment"
        ):
            name = _synthetic_name(ctype, path)
        if name is None:
            return
        payload = self._payload(node, path, name)
        self.parts.append(Part(path, name, ctype, payload, _is_inline(node, disposition)))

    def _check_charsets(self, node: Message, path: str) -> None:
        for header in ("content-type", "content-disposition"):
            for label in unknown_charsets(raw_header(node, header)):
                self.defects.append(f"第 {path} 部分的文件名使用了未知字符集“{label}”，已尽量解码")

    def _payload(self, node: Message, path: str, name: str) -> bytes:
        body = node.get_payload()
        if not isinstance(body, str):
            return b""
        cte = (raw_header(node, "content-transfer-encoding") or "").strip().lower()
        if cte == "base64":
            if self.spool is not None and self.spool.token in body:
                data, damaged = decode_spooled(body, self.spool)
            else:
                data, damaged = decode_base64(body.encode("utf-8", "surrogateescape"))
            if damaged:
                self.defects.append(
                    f"第 {path} 部分“{safe_display_name(name)}”的 base64 编码有误（可能被截断），已尽量解码"
                )
        else:
            decoded = node.get_payload(decode=True)
            data = decoded if isinstance(decoded, bytes) else b""
            if self.spool is not None:  # a long base64-looking run in a 7bit/8bit body
                data = restore(data, self.spool)
        node.set_payload("")  # keep memory to the message plus its decoded parts
        return data

    def _body(self, node: Message, path: str, ctype: str) -> None:
        charset = node.get_content_charset()
        if charset and not charset_known(charset):
            self.defects.append(
                f"第 {path} 部分正文使用了未知字符集“{charset}”，已按 UTF-8/GB18030 尽量解码"
            )
        text = decode_text_bytes(self._payload(node, path, "正文"), charset).replace("\r\n", "\n")
        (self.plain if ctype == "text/plain" else self.html).append(text)

    def _embedded(self, node: Message, path: str, span: Span | None, name: str | None) -> None:
        inner = node.get_payload(0) if node.is_multipart() else None
        data = self._embedded_bytes(node, span)
        if name is None:
            subject = ""
            if isinstance(inner, Message):
                subject = decode_header_text(raw_header(inner, "subject"))
            name = f"{subject or '无主题'}.eml"
        self.parts.append(
            Part(path, name, node.get_content_type(), data, _is_inline(node, _disposition(node)))
        )

    def _embedded_bytes(self, node: Message, span: Span | None) -> bytes:
        cte = (raw_header(node, "content-transfer-encoding") or "").strip().lower()
        if span is not None:
            data = self.raw[body_start(self.raw, *span) : span[1]]
            if self.spool is not None:
                data = restore(data, self.spool)
            if cte == "base64":  # not allowed for message/rfc822, but some clients do it
                return decode_base64(data)[0]
            return data
        inner = node.get_payload(0) if node.is_multipart() else None
        if isinstance(inner, Message):
            return inner.as_bytes(policy=compat32.clone(linesep=_linesep(self.raw)))
        body = node.get_payload()
        return body.encode("utf-8", "surrogateescape") if isinstance(body, str) else b""

    def body_text(self) -> str:
        if self.plain:
            return "\n\n".join(t.strip("\n") for t in self.plain)
        return "\n\n".join(html_to_text(t) for t in self.html)


def _holds_embedded(node: Message) -> bool:
    return any(part.get_content_type() in _EMBEDDED for part in node.walk())


def _disposition(node: Message) -> str:
    value = raw_header(node, "content-disposition") or ""
    return value.split(";", 1)[0].strip().lower()


def _is_inline(node: Message, disposition: str) -> bool:
    if disposition:
        return disposition == "inline"
    return raw_header(node, "content-id") is not None


def _synthetic_name(ctype: str, path: str) -> str:
    ext = mimetypes.guess_extension(ctype) or ".bin"
    stem = "inline-image" if ctype.startswith("image/") else "attachment"
    return f"{stem}-{path.replace('.', '-')}{ext}"


def _linesep(raw: bytes) -> str:
    return "\r\n" if b"\r\n" in raw[:4096] else "\n"


def _salvage_multipart(node: Message, path: str, defects: list[str]) -> Message:
    """A multipart whose boundary is missing or wrong: split it by the first
    ``--delimiter`` line of its body, if that line occurs again."""
    body = node.get_payload()
    if not isinstance(body, str):
        return node
    found = _BOUNDARY_LINE.search(body)
    if found is None or body.count("--" + found.group(1)) < 2:
        return node
    boundary = found.group(1)
    head = f'Content-Type: multipart/{node.get_content_subtype()}; boundary="{boundary}"\r\n\r\n'
    salvaged = email.message_from_bytes(
        head.encode() + body.encode("utf-8", "surrogateescape"), policy=compat32
    )
    if not salvaged.is_multipart():
        return node
    where = f"第 {path} 部分：" if path else ""
    defects.append(f"{where}已按正文中的分隔符“{boundary}”拆分邮件")
    return salvaged


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BREAKS:
            self.out.append("\n")
        elif tag in ("td", "th"):
            self.out.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one line per block; tags and scripts removed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)

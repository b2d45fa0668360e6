"""Large-attachment links in a mail body: 163 超大附件, QQ 超大附件 and 文件中转站.

Above the normal attachment limit, 163 and QQ mail upload the file to their own
service and put a block in the body instead: the file name, its size, a download
link and an expiry (typically 15 days on 163, 30 on QQ). The mail carries no
attachment, so without this module the unit looks as if it sent nothing.

The shapes recognised (html and plain text alike):

- 163: ``<a download filename="NAME" href="https://mail.163.com/large-attachment-download/…">NAME</a>
  <span style="color:#bbb">(56.32M, 2020年3月30日 10:32 到期)</span>``;
- QQ: ``<div class="bigatt_bt" title="NAME&#10;文件大小：12.5M&#10;到期时间：2020年03月30日 10:32">``
  with a ``…mail.qq.com/…ftn…download…`` link, and the same ``(size, date 到期)`` line;
- a link to one of those services with nothing else readable: listed with the
  name the link carries (its ``title``/``file``/``name`` parameter) or "名称未知".

:func:`find_big_attachments` never raises and never downloads anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

UNKNOWN_NAME = "超大附件（名称未知）"
_URL = re.compile(r"https?://[^\s\"'<>()（）\u3000]+", re.I)
_SIZE = r"\d+(?:\.\d+)?\s*(?:[KMGT](?:i?B)?|B|字节)"
_FILE_LINE = re.compile(
    r"(?P<name>[^\n]*?)[ \t]*[(（]\s*(?P<size>" + _SIZE + r")\s*[,，、]\s*"
    r"(?P<exp>[^()（）\n]{0,40}?)\s*(?:到期|过期)\s*[)）]",
    re.I,
)
_TITLE_BLOCK = re.compile(
    r"(?P<name>[^\n]+?)\s*\n\s*文件大小[：:]\s*(?P<size>" + _SIZE + r")\s*\n\s*"
    r"(?:到期|过期)时间[：:]\s*(?P<exp>[^\n]+)",
    re.I,
)
_DATE = re.compile(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})")
_UNITS = {"": 1, "B": 1, "字节": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_NEAR_LINES = 3  # how far from a file line its download link may sit


@dataclass(frozen=True)
class BigAttachment:
    """One file the sender uploaded to a large-attachment service instead of attaching."""

    filename: str
    service: str  # "网易邮箱超大附件", "QQ邮箱超大附件/文件中转站"
    size: str = ""  # as shown to the clerk, "56.32 MB"; "" when the body does not say
    size_bytes: int | None = None
    expires: date | None = None
    permanent: bool = False  # "无限期"
    url: str = ""

    @property
    def reason(self) -> str:
        """The clerk's instruction for this file (Chinese)."""
        facts = "，".join(x for x in (self.size, self.service) if x)
        head = f"超大附件链接（{facts}）" if facts else "超大附件链接"
        if self.expires is not None:
            return f"{head}，请在 {self.expires.isoformat()} 前手动下载后用 `kaohe add` 导入"
        if self.permanent:
            return f"{head}，请手动下载后用 `kaohe add` 导入"
        return f"{head}，有效期未写明，请尽快手动下载后用 `kaohe add` 导入"


def find_big_attachments(html: str, text: str) -> list[BigAttachment]:
    """The large-attachment files a body names; [] for an ordinary mail."""
    for body in (_render_html(html) if html else "", text):
        if not body or not _mentions_service(body):
            continue
        found = _from_lines(body) or _from_links(body)
        if found:
            return found
    return []


def service_of(url: str) -> str | None:
    """Which large-attachment service *url* belongs to, or None."""
    parts = urlsplit(url)
    host, rest = (parts.hostname or "").lower(), f"{parts.path}?{parts.query}".lower()
    if re.search(r"(^|\.)(163|126)\.com$|(^|\.)yeah\.net$", host):
        if host.startswith(("fs.", "dl.")) or any(
            k in rest for k in ("large-attachment", "largeattach", "bigattach", "/fs/")
        ):
            return "网易邮箱超大附件"
    if re.search(r"(^|\.)qq\.com$", host) and any(k in rest for k in ("ftn", "bigattach")):
        return "QQ邮箱超大附件/文件中转站"
    return None


def _mentions_service(body: str) -> bool:
    return any(service_of(u) for u in _URL.findall(body)) or any(
        k in body for k in ("超大附件", "文件中转站")
    )


def _from_lines(body: str) -> list[BigAttachment]:
    """Files named with their size and expiry; each takes the nearest service link."""
    lines = body.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found: dict[tuple[str, date | None], BigAttachment] = {}
    matches = [*_TITLE_BLOCK.finditer(body), *_FILE_LINE.finditer(body)]
    for m in sorted(matches, key=lambda m: m.start("size")):
        row = next(i for i, s in enumerate(starts) if s > m.start("size")) - 1
        name = _clean_name(m.group("name")) or _name_above(lines, row)
        url = _nearest_link(lines, row)
        item = _item(name, url, m.group("size"), m.group("exp"))
        found.setdefault((item.filename, item.expires), item)
    return list(found.values())


def _from_links(body: str) -> list[BigAttachment]:
    """Service links with nothing readable around them: one entry per link."""
    out: dict[str, BigAttachment] = {}
    for url in _URL.findall(body):
        service = service_of(url)
        if service and url not in out:
            out[url] = BigAttachment(_name_in_url(url) or UNKNOWN_NAME, service, url=url)
    return list(out.values())


def _item(name: str, url: str, size: str, expiry: str) -> BigAttachment:
    service = (service_of(url) if url else None) or "邮件正文中的超大附件"
    m = re.fullmatch(r"([\d.]+)\s*(\D*)", size.strip())
    number, unit = (m.group(1), m.group(2)) if m else ("0", "")
    unit_key = unit[:1].upper() if unit and unit != "字节" else unit
    scale = _UNITS.get(unit_key, 1)
    shown = f"{float(number):g} {unit_key}B" if scale > 1 else f"{number} 字节"
    expires = _parse_date(expiry)
    return BigAttachment(
        filename=name or _name_in_url(url) or UNKNOWN_NAME,
        service=service,
        size=shown,
        size_bytes=int(float(number) * scale),
        expires=expires,
        permanent=expires is None and any(k in expiry for k in ("无限期", "永久")),
        url=url,
    )


def _parse_date(text: str) -> date | None:
    m = _DATE.search(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _clean_name(text: str) -> str:
    text = _URL.sub(" ", text)
    text = re.sub(r"^[\s:：\-•·*>]*(?:(?:附件|文件名|文件)\s*[：:])?\s*", "", text)
    return " ".join(text.split()).strip("：: ")


def _name_above(lines: list[str], row: int) -> str:
    for line in reversed(lines[max(0, row - _NEAR_LINES) : row]):
        name = _clean_name(line)
        if name and "超大附件" not in name and "文件中转站" not in name:
            return name
    return ""


def _nearest_link(lines: list[str], row: int) -> str:
    """The service link on the file's line, else the nearest one within a few lines."""
    for distance in range(_NEAR_LINES + 1):
        for r in (row, row + distance, row - distance) if distance else (row,):
            if 0 <= r < len(lines):
                for url in _URL.findall(lines[r]):
                    if service_of(url):
                        return url
    return ""


def _name_in_url(url: str) -> str:
    if not url:
        return ""
    query = parse_qs(urlsplit(url).query)
    for key in ("title", "name", "filename", "file_name", "fname"):
        if query.get(key):
            value = unquote(query[key][0]).strip()
            if value and "." in value:
                return value
    return ""


class _Lines(HTMLParser):
    """Visible text, one block per line, with each link's address kept in place and
    the ``title`` attributes that describe a file (QQ) kept as lines of their own."""

    _BREAKS = frozenset({"br", "p", "div", "tr", "li", "table", "hr", "h1", "h2", "h3", "h4"})
    _SKIP = frozenset({"script", "style", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in self._SKIP:
            self.skipping += 1
        if tag in self._BREAKS:
            self.out.append("\n")
        title = values.get("title", "")
        if "文件大小" in title or "到期" in title:
            self.out.append("\n" + title.replace("\r", "") + "\n")
        if tag == "a" and values.get("href", "").lower().startswith("http"):
            self.out.append(f" {values['href']} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data.replace("\n", " "))


def _render_html(html: str) -> str:
    parser = _Lines()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; a crash here must not lose the mail
        return ""
    lines = (re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.out).split("\n"))
    return "\n".join(line for line in lines if line)

"""What a file really is, from its bytes — never from its name or MIME header.

Units rename files freely: a ``.xls`` that is an HTML table or an xlsx, a ``.doc``
that is RTF, a ``.wps`` that is a Word 97 file. :func:`detect_type` looks at the
content; the file name only breaks ties the bytes cannot (WPS vs. Microsoft
binaries are the same format).

Internal kinds are the contract §8 types (docx, xlsx, doc, xls, pdf, zip, rar,
7z, image, text, other) plus:

- ``wps`` / ``et``: Word 97 / Excel 97 binaries sent as WPS Office files
  (WPS writes the same OLE2 ``WordDocument`` / ``Workbook`` streams). They are
  read exactly like doc / xls; the kind only keeps the hint.
- ``odt`` / ``ods``: OpenDocument text / spreadsheet (LibreOffice, WPS export).
- ``xlsb``: Excel binary workbook (a zip like xlsx, with ``xl/workbook.bin``).
- ``xls`` also covers bare BIFF2–5 record streams (Excel 2.x–5.0, no OLE2 container).
- ``csv``: a delimited text table (UTF-8, GBK or GB18030).
- ``rtf``: Rich Text, often sent as ``.doc``.
- ``html``: an HTML page, usually a ``.xls`` exported by an old web system.
- ``encrypted``: a password-protected Office file (OOXML or binary).
- ``eml``: a whole e-mail message.
- ``empty``: zero bytes.

:func:`contract_type` maps every internal kind onto a contract type.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile

import olefile

from parsers import ooxml
from parsers.biff import has_filepass, is_biff_stream
from parsers.csv import looks_delimited

logger = logging.getLogger(__name__)

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or an empty archive
RAR_MAGIC = b"Rar!\x1a\x07"
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
_CONTENT_TYPES_CAP = 1 << 20  # [Content_Types].xml is a few KB; never read more
_GLOBALS_HEAD = 8192  # FILEPASS follows the BOF at the start of the Workbook stream

CONTRACT_TYPES = ("docx", "xlsx", "doc", "xls", "pdf", "zip", "rar", "7z", "image", "text", "other")
_CONTRACT_OF = {
    "wps": "doc",
    "et": "xls",
    "rtf": "doc",  # a Word-family document, converted like a .doc
    "html": "text",  # the bytes are text; it is read as a table all the same
    "eml": "text",
    "odt": "other",
    "ods": "other",
    "xlsb": "xlsx",
    "csv": "text",
    "empty": "other",
}
_ENCRYPTED_BY_EXTENSION = {
    "docx": "docx",
    "docm": "docx",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "doc": "doc",
    "wps": "doc",
    "xls": "xls",
    "et": "xls",
    "xlsb": "xlsx",
}


def detect_type(data: bytes, filename: str = "") -> str:
    """Return the internal kind of *data* (see the module docstring)."""
    if not data:
        return "empty"
    head = data[:16]
    if head.startswith(ZIP_MAGICS):
        return _zip_kind(data)
    if head.startswith(OLE2_MAGIC):
        return _ole_kind(data, filename)
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(RAR_MAGIC):
        return "rar"
    if head.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    if _is_image(head):
        return "image"
    if is_biff_stream(head):
        return "encrypted" if has_filepass(data) else "xls"
    return _text_kind(data, filename)


def contract_type(kind: str, filename: str = "") -> str:
    """Map an internal kind onto a contract §8 type.

    ``encrypted`` takes the family its extension claims (we cannot look inside),
    falling back to ``other``.
    """
    if kind in CONTRACT_TYPES:
        return kind
    if kind == "encrypted":
        return _ENCRYPTED_BY_EXTENSION.get(_extension(filename), "other")
    return _CONTRACT_OF.get(kind, "other")


def is_encrypted(data: bytes) -> bool:
    """True for a password-protected Office file (OOXML, .doc, .xls) or PDF."""
    if data.startswith(OLE2_MAGIC):
        return _ole_kind(data, "") == "encrypted"
    if data[:1024].find(b"%PDF-") >= 0:
        return _pdf_encrypted(data)
    return False


# --------------------------------------------------------------------------- zip family


def _zip_kind(data: bytes) -> str:
    """The zip family's kind. A docx/xlsx/xlsb package stays open (held) for the
    XML guard and the reader of the same bytes object (see :mod:`parsers.ooxml`),
    when it is small enough to linger if it is never read."""
    if len(data) > ooxml.DETECT_HOLD_BYTES:
        ooxml.release(data)
        return _zip_kind_of(data)
    ooxml.hold(data)
    kind = _zip_kind_of(data)
    members = ooxml.held_members(data)
    if kind not in ("docx", "xlsx", "xlsb") or members is None:
        ooxml.release(data)
    elif members > ooxml.DETECT_HOLD_MEMBERS:
        ooxml.release(data)  # a directory that big is not a form's; never keep it about
    return kind


def _zip_kind_of(data: bytes) -> str:
    try:
        zf = ooxml.package(data)
        names = set(zf.namelist())
        types = _read_capped(zf, "[Content_Types].xml") if "[Content_Types].xml" in names else b""
        mimetype = _read_capped(zf, "mimetype") if "mimetype" in names else b""
        manifest = _read_capped(zf, _MANIFEST) if mimetype and _MANIFEST in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "zip"  # a broken zip is still a zip; expanding it reports why
    if "xl/workbook.bin" in names:  # before the XML checks: an xlsb lists XML parts too
        return "xlsb"
    if b"wordprocessingml" in types or "word/document.xml" in names:
        return "docx"
    if b"spreadsheetml" in types or "xl/workbook.xml" in names:
        return "xlsx"
    return _odf_kind(mimetype, manifest)


_MANIFEST = "META-INF/manifest.xml"
_ODF_KINDS = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}


def _odf_kind(mimetype: bytes, manifest: bytes) -> str:
    """odt / ods, ``encrypted`` when the manifest carries encryption data, else zip."""
    kind = _ODF_KINDS.get(mimetype.strip())
    if kind is None:
        return "zip"
    return "encrypted" if b"encryption-data" in manifest else kind


def _read_capped(zf: ooxml.Package, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size <= _CONTENT_TYPES_CAP:
        whole = zf.whole(info)  # kept for the XML guard (None: not kept, read as before)
        if whole is not None:
            return whole
    with zf.open(info) as f:
        return f.read(_CONTENT_TYPES_CAP)


# --------------------------------------------------------------------------- OLE2


def _ole_kind(data: bytes, filename: str) -> str:
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:  # olefile raises bare OSError/ValueError/struct errors on junk
        return "other"
    try:
        streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=False)}
        globals_head = _workbook_head(ole)
    finally:
        ole.close()
    if "encryptedpackage" in streams or "encryptioninfo" in streams:
        return "encrypted"
    ext = _extension(filename)
    if "worddocument" in streams:
        kind = "wps" if ext == "wps" else "doc"
    elif "workbook" in streams or "book" in streams:
        if has_filepass(globals_head):
            return "encrypted"
        kind = "et" if ext == "et" else "xls"
    else:
        return "other"
    return "encrypted" if _legacy_encrypted(data) else kind


def _workbook_head(ole: olefile.OleFileIO) -> bytes:
    """The start of an Excel workbook's globals substream (b"" when there is none)."""
    book = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
    if book is None:
        return b""
    try:
        return bytes(ole.openstream(book).read(_GLOBALS_HEAD))
    except Exception:  # a damaged stream: the reader reports the damage
        return b""


def _legacy_encrypted(data: bytes) -> bool:
    """A binary .doc/.xls with a password (RC4/XOR), as msoffcrypto-tool sees it."""
    import msoffcrypto

    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted())
    except Exception:  # msoffcrypto raises assorted errors on odd-but-valid files
        logger.debug("msoffcrypto could not inspect the file", exc_info=True)
        return False


def _pdf_encrypted(data: bytes) -> bool:
    from pypdf import PdfReader

    try:
        return bool(PdfReader(io.BytesIO(data)).is_encrypted)
    except Exception:  # a damaged PDF is not our question here
        return False


# --------------------------------------------------------------------------- others


def _is_image(head: bytes) -> bool:
    return (
        head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM"))
        or head.startswith((b"II*\x00", b"MM\x00*"))  # TIFF
        or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")
        or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc")  # phone photos
    )


_EML_HEADERS = (
    b"received:",
    b"return-path:",
    b"from:",
    b"mime-version:",
    b"message-id:",
    b"date:",
    b"subject:",
    b"delivered-to:",
    b"x-",
)


def _text_kind(data: bytes, filename: str = "") -> str:
    head = data[:4096]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(b"{\\rtf"):
        return "rtf"
    if stripped.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or (
        stripped.startswith(b"<") and b"<table" in head.lower()
    ):
        return "html"
    if not _looks_like_text(head):
        return "other"
    if stripped.startswith(_EML_HEADERS) and b"\n\n" in data.replace(b"\r\n", b"\n")[:65536]:
        return "eml"
    if _extension(filename) in ("csv", "tsv") or looks_delimited(head):
        return "csv"
    return "text"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError as e:
            if e.start < len(head) - 4:  # not just a character cut at the 4 KB edge
                continue
            text = head[: e.start].decode(encoding)
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
        return controls <= len(text) // 100
    return False


def _extension(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


# --------------------------------------------------------------------------- OOXML guard

UNSAFE_XML = "文件包含不安全的XML实体，已拒绝"
OOXML_TOO_BIG = "文件解压后过大，疑似压缩炸弹，已拒绝"
OOXML_BROKEN = "文件已损坏，无法读取"
# The parts the readers parse (python-docx/lxml for Word, calamine or openpyxl for Excel);
# themes, fonts and document properties are never parsed, so a DTD there is harmless.
_READ_PARTS = re.compile(
    r"(?i)^(\[content_types\]\.xml|.*\.rels|word/document\.xml|xl/workbook\.xml"
    r"|xl/worksheets/[^/]+\.xml|xl/sharedstrings\.xml|xl/styles\.xml)$"
)
_PROLOG_CHUNK = 2048  # a prolog is a few hundred bytes; expat stops at the root element
# The prolog of (nearly) every OOXML part: an optional UTF-8 BOM, an optional XML
# declaration of no or UTF-8 encoding, white space, then the root element's start.
# Such a prolog can hold no DTD, so expat is not needed to say so; anything else
# (a comment, a PI, another encoding, UTF-16 bytes, a DOCTYPE) goes to expat.
_PLAIN_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml[^<>?]*\?>)?[ \t\r\n]*<[A-Za-z_]", re.ASCII)
_ENCODING = re.compile(rb"encoding[ \t\r\n]*=[ \t\r\n]*([\"'])([^\"']*)\1")
_ELEMENT_START = re.compile(r"<[A-Za-z_]")


class _PrologDone(Exception):
    """The root element started: the prolog held no DTD."""


class _DtdFound(Exception):
    """A DOCTYPE (and so possibly entities) appeared in a part."""


def check_ooxml(data: bytes, max_expanded_bytes: int = 200 << 20, max_ratio: float = 200.0) -> None:
    """Refuse a docx/xlsx whose XML parts declare a DTD, or that inflates like a bomb.

    OOXML never needs a DOCTYPE, so any DTD is refused: that stops billion-laughs
    expansion and external entities (XXE) before python-docx, openpyxl or
    calamine see the file. Only each part's prolog is parsed (expat stops at the
    root element), so the cost is a few KB per part. Declared sizes bound every
    read. Raises :class:`ParseError` with a clerk-readable reason.
    """
    from parsers.errors import ParseError

    try:
        zf = ooxml.package(data)  # the one detect_type opened, when it is held
        infos = [i for i in zf.infolist() if not i.is_dir()]
        _check_ooxml_sizes(infos, max_expanded_bytes, max_ratio)
        for info in infos:
            if _READ_PARTS.match(info.filename):
                _check_prolog(zf, info)
    except _DtdFound:
        raise ParseError(UNSAFE_XML) from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError):
        raise ParseError(OOXML_BROKEN) from None


def _check_ooxml_sizes(infos: list[zipfile.ZipInfo], max_total: int, max_ratio: float) -> None:
    from parsers.errors import ParseError

    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > max_total or (info.file_size > (1 << 20) and ratio > max_ratio):
            raise ParseError(OOXML_TOO_BIG)


def _plain_prolog(data: bytes) -> bool:
    """True when *data* starts with a prolog that cannot declare a DTD (see _PLAIN_PROLOG)."""
    found = _PLAIN_PROLOG.match(data)
    if found is None:
        return False
    encoding = _ENCODING.search(data, 0, found.end())
    return encoding is None or encoding.group(2).lower() in (b"utf-8", b"utf8")


def _check_prolog(zf: ooxml.Package, info: zipfile.ZipInfo) -> None:
    """Raise _DtdFound when the part's prolog declares a DTD or an entity.

    A part the reader parses whole is inflated whole here and kept for it
    (:meth:`parsers.ooxml.Package.whole`); the check itself reads the same
    2 KB chunks either way, in the same order, with the same fallback. A part
    whose first chunk opens with a plain prolog (:func:`_plain_prolog`, nearly
    all) needs no parser.
    """
    import xml.parsers.expat

    whole = zf.whole(info)
    if whole is None:
        with zf.open(info) as f:
            head = f.read(_PROLOG_CHUNK)
    else:
        head = whole[:_PROLOG_CHUNK]
    if _plain_prolog(head):
        return
    parser = xml.parsers.expat.ParserCreate()

    def on_doctype(*_: object) -> None:
        raise _DtdFound

    def on_start(*_: object) -> None:
        raise _PrologDone

    parser.StartDoctypeDeclHandler = on_doctype
    parser.EntityDeclHandler = on_doctype
    parser.StartElementHandler = on_start
    try:
        if whole is None:
            with zf.open(info) as f:
                while chunk := f.read(_PROLOG_CHUNK):
                    parser.Parse(chunk, False)
        else:
            view = memoryview(whole)
            for start in range(0, len(view), _PROLOG_CHUNK):
                parser.Parse(view[start : start + _PROLOG_CHUNK], False)
        parser.Parse(b"", True)
    except _PrologDone:
        return
    except (xml.parsers.expat.ExpatError, ValueError):
        # Expat gave up: an encoding it does not know (a multi-byte one, GBK or
        # Shift_JIS, is a ValueError), or bytes it cannot read as XML at all.
        if _dtd_in_text(head):
            raise _DtdFound from None


def _dtd_in_text(head: bytes) -> bool:
    """Expat's fallback: the start of a part read as text — NULs dropped (UTF-16/32
    without a BOM), and decoded with the encoding it declares (GBK …). True for a
    DOCTYPE or an entity; ValueError (a damaged file) when no reading shows an element
    start, as with EBCDIC: OOXML is UTF-8 or UTF-16, and the guard does not let what it
    cannot read through."""
    texts = [head.replace(b"\x00", b"").decode("latin-1")]
    declared = _ENCODING.search(head)
    if declared is not None:
        try:
            texts.append(head.decode(declared.group(2).decode("ascii"), "ignore"))
        except (LookupError, UnicodeError):  # not a text codec Python knows (or "idna")
            pass  # the bytes alone
    for text in texts:
        upper = text.upper()
        if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
            return True
    if not any(_ELEMENT_START.search(text) for text in texts):
        raise ValueError("no XML prolog this guard can read")
    return False

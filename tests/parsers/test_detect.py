"""Type detection by content, the contract mapping, encryption, and the OOXML guard."""

from __future__ import annotations

import io
import zipfile

import pytest

from parsers.detect import (
    CONTRACT_TYPES,
    OOXML_BROKEN,
    OOXML_TOO_BIG,
    UNSAFE_XML,
    _dtd_in_text,
    _plain_prolog,
    check_ooxml,
    contract_type,
    detect_type,
    is_encrypted,
)
from parsers.errors import ParseError
from tests.support.corpus import (
    BILLION_LAUGHS,
    XXE,
    encrypt_ooxml,
    laughs_sheet,
    legacy_files,
    make_7z,
    make_docx,
    make_html_xls,
    make_png,
    make_rar4_stored,
    make_xlsx,
    make_zip,
    replace_part,
    require_soffice,
    sheet_with_dtd,
)


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (make_docx(), "附件4.docx", "docx"),
        (make_xlsx(), "附件4.xlsx", "xlsx"),
        (make_xlsx(), "附件4.xls", "xlsx"),  # renamed xlsx: content wins
        (make_docx(), "附件4.doc", "docx"),
        (make_html_xls(), "附件4.xls", "html"),
        (b"{\\rtf1\\ansi hello}", "附件4.doc", "rtf"),
        (b"%PDF-1.4\n%...", "a.pdf", "pdf"),
        (make_png(), "photo.jpg", "image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "x.png", "image"),
        (b"GIF89a\x01\x00", "x", "image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "IMG_0001.HEIC", "image"),
        (make_zip({"a.txt": b"x"}), "a.zip", "zip"),
        (make_7z({"a.txt": b"x"}), "a.7z", "7z"),
        (make_rar4_stored({"a.txt": b"x"}), "a.rar", "rar"),
        ("附件4 填报说明\n请于3月15日前报送".encode("gbk"), "说明.txt", "text"),
        ("附件4 填报说明\n".encode(), "说明.txt", "text"),
        (b"From: a@b.cn\r\nSubject: x\r\n\r\nbody", "fwd.eml", "eml"),
        (b"", "empty.docx", "empty"),
        (bytes(range(256)) * 4, "blob.bin", "other"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "broken.doc", "other"),
        (b"PK\x03\x04garbage", "broken.zip", "zip"),
    ],
)
def test_detect_type_by_content(data: bytes, name: str, kind: str) -> None:
    assert detect_type(data, name) == kind


def test_every_kind_maps_onto_a_contract_type() -> None:
    kinds = [
        "docx",
        "xlsx",
        "doc",
        "xls",
        "wps",
        "et",
        "rtf",
        "odt",
        "ods",
        "html",
        "eml",
        "pdf",
        "zip",
        "rar",
        "7z",
        "image",
        "text",
        "other",
        "empty",
        "encrypted",
    ]
    assert all(contract_type(k) in CONTRACT_TYPES for k in kinds)
    assert contract_type("wps") == "doc" and contract_type("et") == "xls"
    assert contract_type("rtf") == "doc" and contract_type("html") == "text"
    assert contract_type("encrypted", "预算表.xlsx") == "xlsx"
    assert contract_type("encrypted", "说明.doc") == "doc"
    assert contract_type("encrypted", "noext") == "other"


def test_encrypted_office_files_are_detected() -> None:
    for plain, name in ((make_xlsx(), "附件4.xlsx"), (make_docx(), "附件4.docx")):
        locked = encrypt_ooxml(plain)
        assert detect_type(locked, name) == "encrypted"
        assert is_encrypted(locked)
        assert not is_encrypted(plain)


def test_legacy_formats_made_by_libreoffice() -> None:
    require_soffice()
    files = legacy_files()
    expected = {
        "附件4.doc": "doc", "附件4.wps": "wps", "附件4.rtf": "rtf", "附件4-rtf.doc": "rtf",
        "附件4.odt": "odt", "附件4.xls": "xls", "附件4.et": "et", "附件4.ods": "ods",
        "附件4.pdf": "pdf", "扫描件.pdf": "pdf",
    }  # fmt: skip
    assert {name: detect_type(data, name) for name, data in files.items()} == expected
    assert not any(is_encrypted(data) for data in files.values())


# --------------------------------------------------------------------------- OOXML guard


@pytest.mark.parametrize(
    ("base", "part", "text"),
    [
        ("docx", "word/document.xml", BILLION_LAUGHS),
        ("docx", "word/document.xml", XXE),
        ("xlsx", "xl/worksheets/sheet1.xml", laughs_sheet()),
        (
            "xlsx",
            "xl/worksheets/sheet1.xml",
            sheet_with_dtd('<!ENTITY x SYSTEM "file:///etc/passwd">', "&x;"),
        ),
        (
            "xlsx",
            "[Content_Types].xml",
            '<?xml version="1.0"?><!DOCTYPE t SYSTEM "http://x/t.dtd"><Types/>',
        ),
        # a long comment pushes the DTD past the first chunk: still found
        (
            "docx",
            "word/document.xml",
            "<?xml version='1.0'?><!--" + "x" * 200_000 + "-->" + XXE.split("\n", 1)[1],
        ),
    ],
)
def test_check_ooxml_refuses_dtds(base: str, part: str, text: str) -> None:
    data = replace_part(make_docx() if base == "docx" else make_xlsx(), part, text)
    with pytest.raises(ParseError) as err:
        check_ooxml(data)
    assert err.value.reason == UNSAFE_XML


def test_check_ooxml_sees_utf16_doctype() -> None:
    data = replace_part(make_docx(), "word/document.xml", "")
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = (
                XXE.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
                if info.filename == "word/document.xml"
                else src.read(info)
            )
            dst.writestr(info, body)
    with pytest.raises(ParseError, match=UNSAFE_XML):
        check_ooxml(buf.getvalue())


def _sheet_in(encoding: str, dtd: bool) -> bytes:
    """An xlsx whose sheet part is written in *encoding* (and says so), with or without a DTD."""
    decl = '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>' if dtd else ""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>{decl}'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheetData/></worksheet>"
    )
    part = "xl/worksheets/sheet1.xml"
    src = zipfile.ZipFile(io.BytesIO(make_xlsx()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, text.encode(encoding) if info.filename == part else src.read(info))
    return buf.getvalue()


# Expat reads none of these: a multi-byte one is a ValueError from it (the DTD was
# reported as a damaged file), the others an error; the fallback reads the text.
@pytest.mark.parametrize(
    "encoding", ["gbk", "gb18030", "big5", "shift_jis", "utf-16-le", "utf-16-be", "utf-7"]
)
def test_a_dtd_in_a_part_expat_cannot_read_is_refused_as_unsafe(encoding: str) -> None:
    with pytest.raises(ParseError) as err:
        check_ooxml(_sheet_in(encoding, dtd=True))
    assert err.value.reason == UNSAFE_XML
    check_ooxml(_sheet_in(encoding, dtd=False))  # without one it is the reader's to judge


def test_a_part_no_reading_shows_as_xml_is_refused_not_let_through() -> None:
    # EBCDIC: neither expat nor the fallback sees its prolog; it used to pass the guard
    for dtd in (True, False):
        with pytest.raises(ParseError) as err:
            check_ooxml(_sheet_in("cp500", dtd))
        assert err.value.reason == OOXML_BROKEN


@pytest.mark.parametrize("declared", ["idna", "zlib", "no-such-codec", "\u00e9"])
def test_a_declared_encoding_python_cannot_decode_with_leaves_the_bytes_to_judge(
    declared: str,
) -> None:
    head = f'<?xml version="1.0" encoding="{declared}"?>'.encode()
    assert _dtd_in_text(head + b"<!DOCTYPE t><t/>") is True
    assert _dtd_in_text(head + b"<t/>") is False


def test_check_ooxml_passes_real_files_and_refuses_bombs() -> None:
    check_ooxml(make_docx())
    check_ooxml(make_xlsx())
    bomb = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(50 << 20)})
    with pytest.raises(ParseError, match=OOXML_TOO_BIG):
        check_ooxml(bomb)
    with pytest.raises(ParseError):
        check_ooxml(b"PK\x03\x04 not really a zip")


@pytest.mark.parametrize(
    ("head", "plain"),
    [
        (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Types xmlns="x">', True),
        (b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?><w:document>", True),
        (b"<worksheet><sheetData/>", True),  # no declaration at all
        (b'<?xml version="1.0"?>\n  <_root/>', True),
        # anything else is expat's to judge
        (b'<?xml version="1.0"?><!DOCTYPE t SYSTEM "x"><Types/>', False),
        (b'<?xml version="1.0"?><!-- note --><Types/>', False),
        (b'<?xml version="1.0"?><?pi here?><Types/>', False),
        (b'<?xml version="1.0" encoding="UTF-7"?><Types/>', False),  # "<" may be "+ADw-"
        (b'<?xml version="1.0" encoding="GB2312"?><Types/>', False),
        ('<?xml version="1.0" encoding="UTF-16"?><Types/>'.encode("utf-16"), False),
        (b"  <!DOCTYPE t><t/>", False),
        (b"", False),
    ],
)
def test_plain_prologs_skip_the_parser_and_nothing_else_does(head: bytes, plain: bool) -> None:
    assert _plain_prolog(head) is plain


@pytest.mark.parametrize(
    ("part", "text"),
    [
        # a part the guard streams (not kept for a reader): its first chunk is checked too
        ("word/_rels/document.xml.rels", '<?xml version="1.0"?><!DOCTYPE r SYSTEM "x"><r/>'),
        # a declaration of another encoding, then a DTD
        (
            "word/document.xml",
            XXE.replace('version="1.0"', 'version="1.0" encoding="ISO-8859-1"'),
        ),
        # a processing instruction between the declaration and the DTD
        ("[Content_Types].xml", '<?xml version="1.0"?><?x y?><!DOCTYPE t SYSTEM "x"><Types/>'),
        # a BOM and white space before it
        ("[Content_Types].xml", '\ufeff<?xml version="1.0"?>\n\n<!DOCTYPE t SYSTEM "x"><Types/>'),
    ],
)
def test_check_ooxml_refuses_dtds_behind_an_almost_plain_prolog(part: str, text: str) -> None:
    with pytest.raises(ParseError) as err:
        check_ooxml(replace_part(make_docx(), part, text))
    assert err.value.reason == UNSAFE_XML

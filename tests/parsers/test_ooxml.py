"""One zip package per OOXML file, shared by detect_type, the XML guard and the reader."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterator
from contextlib import nullcontext

import pytest

import parsers
from parsers import ooxml
from parsers.detect import UNSAFE_XML, check_ooxml, detect_type
from parsers.errors import ParseError
from tests.support.corpus import XXE, make_docx, make_xlsx, make_zip


@pytest.fixture
def directory_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times a zip central directory was read."""
    reads: list[int] = []
    real = zipfile.ZipFile._RealGetContents  # type: ignore[attr-defined]

    def counting(self: zipfile.ZipFile) -> None:
        reads.append(1)
        real(self)

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", counting)
    yield reads


@pytest.mark.parametrize(("make", "kind"), [(make_docx, "docx"), (make_xlsx, "xlsx")])
def test_detect_guard_and_reader_open_the_zip_once(
    make: Callable[[], bytes], kind: str, directory_reads: list[int]
) -> None:
    data = make()
    expected = parsers.read_document(bytes(bytearray(data)), kind)  # a copy: not shared
    directory_reads.clear()
    assert detect_type(data, f"附件.{kind}") == kind
    doc = parsers.read_document(data, kind)
    assert doc == expected
    assert len(directory_reads) == 1


def test_a_copy_of_the_bytes_is_not_served_the_held_package() -> None:
    data = make_docx()
    copy = bytes(bytearray(data))
    assert copy == data and copy is not data
    detect_type(data, "a.docx")
    held = ooxml.package(data)
    assert ooxml.package(data) is held
    assert ooxml.package(copy) is not held
    parsers.read_document(data, "docx")
    assert ooxml.package(data) is not held  # released once its read finished
    detect_type(data, "a.docx")
    held = ooxml.package(data)
    parsers.read_document(copy, "docx")  # one entry: another object's read replaces it
    assert ooxml.package(data) is not held


def test_other_zips_are_not_held() -> None:
    data = make_zip({"a.txt": b"hello", "b.txt": b"world"})
    assert detect_type(data, "a.zip") == "zip"
    assert ooxml.package(data) is not ooxml.package(data)


def test_detect_holds_only_small_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    # a form detected but never read lingers until the next hold: it must be small
    data = make_docx()
    detect_type(data, "a.docx")
    assert ooxml.held_members(data) == len(ooxml.package(data).filelist)
    monkeypatch.setattr(ooxml, "DETECT_HOLD_BYTES", len(data) - 1)
    assert detect_type(data, "a.docx") == "docx"
    assert ooxml.held_members(data) is None
    monkeypatch.undo()
    many = make_zip({"word/document.xml": b"<w:document/>"} | {f"m/{i}": b"" for i in range(1001)})
    assert detect_type(many, "a.docx") == "docx"
    assert ooxml.held_members(many) is None
    assert ooxml.held_members(data) is None  # and the earlier one was replaced


def test_released_after_a_refused_read() -> None:
    data = _replace(make_docx(), "word/document.xml", XXE.encode())
    assert detect_type(data, "a.docx") == "docx"
    with pytest.raises(ParseError, match=UNSAFE_XML):
        parsers.read_document(data, "docx")
    assert ooxml.package(data) is not ooxml.package(data)


def test_kept_part_is_the_member_a_name_lookup_finds() -> None:
    # two members named word/document.xml: the reader gets the last one, so only
    # that one may be kept; both are checked by the guard
    clean = make_docx()
    with zipfile.ZipFile(io.BytesIO(clean)) as zf:
        body = zf.read("word/document.xml")
    data = _append_member(clean, "word/document.xml", XXE.encode())
    package = ooxml.Package(data)
    first, last = [i for i in package.infolist() if i.filename == "word/document.xml"]
    assert package.whole(first) is None
    assert package.whole(last) == XXE.encode()
    assert package.read("word/document.xml") == XXE.encode()
    assert package.read(first) == body  # the shadowed member, read from the zip
    with pytest.raises(ParseError, match=UNSAFE_XML):
        check_ooxml(data)
    shadowed = _append_member(_replace(clean, "word/document.xml", XXE.encode()), "x.xml", b"")
    with pytest.raises(ParseError, match=UNSAFE_XML):
        check_ooxml(shadowed)


def test_a_part_that_fails_its_crc_is_reported_by_the_reader_as_before() -> None:
    # The guard reads the prolog only (a bad CRC shows at the end of the part), so
    # the damage is the reader's to report — keeping the part must not change that.
    data = make_docx()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.getinfo("word/document.xml").file_size > 2048
    broken = _spoil_crc(data, b"word/document.xml")
    assert detect_type(broken, "a.docx") == "docx"
    check_ooxml(broken)
    with pytest.raises(ParseError) as err:
        parsers.read_document(broken, "docx")
    assert err.value.reason == "文件已损坏，无法打开（docx）"


def test_parts_too_big_to_keep_are_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ooxml, "PART_MAX", 100)
    data = make_docx()
    package = ooxml.Package(data)
    assert package.whole(package.getinfo("word/document.xml")) is None
    expected = parsers.read_document(bytes(bytearray(data)), "docx")
    assert parsers.read_document(data, "docx") == expected
    with pytest.raises(ParseError, match=UNSAFE_XML):
        check_ooxml(_replace(data, "word/document.xml", XXE.encode()))


def _replace(data: bytes, part: str, body: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, body if info.filename == part else src.read(info))
    return buf.getvalue()


def _append_member(data: bytes, name: str, body: bytes) -> bytes:
    buf = io.BytesIO(data)
    with (
        pytest.warns(UserWarning, match="Duplicate name") if name in _names(data) else nullcontext()
    ):
        with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, body)
    return buf.getvalue()


def _names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.namelist()


def _spoil_crc(data: bytes, name: bytes) -> bytes:
    """Flip the CRC the central directory records for member *name*."""
    at = data.rindex(b"PK\x01\x02", 0, data.rindex(name))
    assert data[at + 46 : at + 46 + len(name)] == name
    (crc,) = struct.unpack_from("<I", data, at + 16)
    return data[: at + 16] + struct.pack("<I", crc ^ 0xFFFFFFFF) + data[at + 20 :]

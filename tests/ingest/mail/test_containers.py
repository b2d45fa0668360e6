"""Archive expansion: names as the sender meant them, nesting, formats, limits."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import py7zr
import pytest

from ingest.core.config import LimitsConfig
from ingest.mail.container_formats import MEMBER_BROKEN, zip_member_name
from ingest.mail.containers import (
    BOMB,
    BROKEN,
    ENCRYPTED,
    TOO_BIG,
    TOO_DEEP,
    TOO_MANY,
    TOTAL_TOO_BIG,
    display_name,
    expand,
)
from parsers.detect import detect_type
from tests.support.corpus import (
    make_7z,
    make_docx,
    make_nested_zip,
    make_rar4_stored,
    make_xlsx,
    make_zip,
)

LIMITS = LimitsConfig()
XLSX = make_xlsx()
DOCX = make_docx()


def _need_7z_cli() -> str:
    import os

    found = shutil.which("7z")
    if not found:
        message = "7z is missing: apt-get install -y p7zip-full"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return str(found)


def test_gbk_names_without_utf8_flag_are_repaired() -> None:
    data = make_zip(
        {"附件4：考核任务申报表.xlsx": XLSX, "南郑区财政局/附件2 说明.docx": DOCX}, gbk=True
    )
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # what a naive reader shows
        assert not any(i.flag_bits & 0x800 for i in zf.infolist())
        assert "附件4" not in zf.namelist()[0]
    result = expand(data, "zip", "材料.zip", LIMITS)
    assert [m.filename for m in result.members] == ["附件4：考核任务申报表.xlsx", "附件2 说明.docx"]
    assert result.members[1].path == "材料.zip/南郑区财政局/附件2 说明.docx"
    assert [m.kind for m in result.members] == ["xlsx", "docx"]
    assert result.members[0].payload == XLSX
    assert all(m.container == "材料.zip" and m.depth == 1 for m in result.members)
    assert result.refusals == ()


def test_mixed_archive_names_decided_per_member() -> None:
    data = make_zip(
        {"附件4-flagged.xlsx": XLSX, "附件5-gbk.xlsx": XLSX, "plain.txt": b"x"},
        gbk={"附件5-gbk.xlsx"},
    )
    flags = [i.flag_bits & 0x800 for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    assert flags == [0x800, 0, 0]
    result = expand(data, "zip", "mixed.zip", LIMITS)
    assert [m.filename for m in result.members] == [
        "附件4-flagged.xlsx",
        "附件5-gbk.xlsx",
        "plain.txt",
    ]


def test_utf8_names_without_flag_and_unicode_path_extra() -> None:
    info = zipfile.ZipInfo("x")
    info.orig_filename = "附件6.xlsx".encode().decode("cp437")  # Linux zip: UTF-8, no flag
    assert zip_member_name(info) == "附件6.xlsx"
    extra_name = "附件3 汇总.xlsx".encode()
    info.extra = struct.pack("<HHB", 0x7075, 5 + len(extra_name), 1) + b"\0\0\0\0" + extra_name
    assert zip_member_name(info) == "附件3 汇总.xlsx"


def test_nested_archives_are_flattened_within_depth() -> None:
    data = make_nested_zip(2, XLSX)  # level2.zip > level1.zip > 附件4.xlsx
    result = expand(data, "zip", "outer.zip", LIMITS)
    assert [(m.filename, m.expanded, m.depth) for m in result.members] == [
        ("level1.zip", True, 1),
        ("附件4.xlsx", False, 2),
    ]
    assert result.members[1].path == "outer.zip/level1.zip/附件4.xlsx"
    assert result.members[1].container == "level1.zip"


def test_nesting_beyond_the_depth_limit_is_refused() -> None:
    data = make_nested_zip(5, XLSX)
    result = expand(data, "zip", "deep.zip", replace(LIMITS, max_archive_depth=2))
    assert TOO_DEEP in result.reasons
    assert not any(m.kind == "xlsx" for m in result.members)


def test_7z_and_rar_members() -> None:
    seven = expand(make_7z({"附件4.xlsx": XLSX, "子目录/附件2.docx": DOCX}), "7z", "a.7z", LIMITS)
    assert sorted(m.filename for m in seven.members) == ["附件2.docx", "附件4.xlsx"]
    assert {m.filename: m.payload for m in seven.members}["附件4.xlsx"] == XLSX
    rar = expand(
        make_rar4_stored({"附件4.xlsx": XLSX, "说明.txt": "请查收".encode()}),
        "rar",
        "a.rar",
        LIMITS,
    )
    assert [(m.filename, m.kind) for m in rar.members] == [
        ("附件4.xlsx", "xlsx"),
        ("说明.txt", "text"),
    ]
    assert rar.members[0].payload == XLSX and rar.refusals == ()


def test_rar_with_a_corrupt_member_is_refused_member_by_member() -> None:
    data = bytearray(make_rar4_stored({"a.txt": b"hello world", "b.txt": b"second"}))
    data[data.index(b"hello")] ^= 0xFF  # CRC no longer matches
    result = expand(bytes(data), "rar", "bad.rar", LIMITS)
    assert [m.filename for m in result.members] == ["b.txt"]
    assert result.refusals[0].reason == MEMBER_BROKEN


def test_encrypted_archives() -> None:
    sz = io.BytesIO()
    with py7zr.SevenZipFile(sz, "w", password="secret") as archive:
        archive.writestr(XLSX, "附件4.xlsx")
    assert expand(sz.getvalue(), "7z", "a.7z", LIMITS).reasons == (ENCRYPTED,)
    seven = _need_7z_cli()
    for extra in ([], ["-mhe=on"]):
        assert _cli_archive(seven, "7z", extra) == (ENCRYPTED,)
    assert _cli_archive(seven, "zip", []) == (ENCRYPTED,)


def _cli_archive(seven: str, fmt: str, extra: list[str]) -> tuple[str, ...]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "附件4.xlsx")
        src.write_bytes(XLSX)
        out = Path(tmp, f"x.{fmt}")
        subprocess.run(
            [seven, "a", f"-t{fmt}", "-psecret", *extra, str(out), str(src)],
            check=True,
            capture_output=True,
        )
        return expand(out.read_bytes(), fmt, out.name, LIMITS).reasons


def test_broken_and_directory_entries() -> None:
    assert expand(b"PK\x03\x04 torn", "zip", "t.zip", LIMITS).reasons == (BROKEN,)
    assert expand(b"7z\xbc\xaf\x27\x1c torn", "7z", "t.7z", LIMITS).reasons == (BROKEN,)
    assert expand(b"Rar!\x1a\x07\x00 torn", "rar", "t.rar", LIMITS).reasons == (BROKEN,)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("目录/", b"")
        zf.writestr("目录/附件4.xlsx", XLSX)
    result = expand(buf.getvalue(), "zip", "d.zip", LIMITS)
    assert [m.filename for m in result.members] == ["附件4.xlsx"]


def test_member_count_limit() -> None:
    data = make_zip({f"f{i}.txt": b"x" for i in range(30)})
    result = expand(data, "zip", "many.zip", replace(LIMITS, max_archive_members=10))
    assert len(result.members) == 10
    assert result.reasons == (TOO_MANY.format(n=10),)


def test_member_size_total_and_ratio_limits() -> None:
    limits = replace(LIMITS, max_attachment_mb=1, max_archive_total_mb=3, max_archive_ratio=50)
    big = bytes(range(256)) * 8192  # 2 MiB, compresses ~100x
    incompressible = bytes((i * 7919 + (i >> 8) * 31) % 251 for i in range(900_000))
    assert expand(
        make_zip({"big.bin": big}, compression=zipfile.ZIP_STORED), "zip", "b.zip", limits
    ).reasons == (TOO_BIG.format(mb=1),)
    limits2 = replace(limits, max_attachment_mb=5)
    assert expand(make_zip({"z.bin": big}), "zip", "r.zip", limits2).reasons == (BOMB,)
    many = make_zip({f"p{i}.bin": incompressible for i in range(5)}, compression=zipfile.ZIP_STORED)
    result = expand(many, "zip", "t.zip", limits2)
    assert len(result.members) == 3
    assert result.reasons == (TOTAL_TOO_BIG.format(mb=3),)


def test_hostile_names_are_display_text_only() -> None:
    names = [
        "../../etc/passwd",
        "/abs/path/附件4.xlsx",
        "CON",
        "aux.txt",
        "..\\..\\win.ini",
        "a\x00b.xlsx",
    ]
    data = make_zip({n: XLSX for n in names})
    result = expand(data, "zip", "evil.zip", LIMITS)
    shown = [m.filename for m in result.members]
    assert shown == ["passwd", "附件4.xlsx", "CON", "aux.txt", "win.ini", "a"]
    assert result.members[0].path == "evil.zip/../../etc/passwd"
    assert all("\x00" not in m.path for m in result.members)
    assert display_name("\x01../..") == "未命名文件"
    assert detect_type(result.members[0].payload) == "xlsx"

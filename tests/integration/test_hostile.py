"""Hostile input finishes fast, in bounded memory, and writes nothing outside data_dir.

Each case runs in a fresh interpreter (so peak RSS is its own) with its working
directory and TMPDIR inside a temp data_dir; the test compares directory
listings of that dir's parent, the repository and TMPDIR before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.mail.container_formats import MEMBER_BROKEN
from ingest.mail.containers import BOMB, TOO_BIG, TOO_DEEP, TOO_MANY
from parsers.detect import UNSAFE_XML
from tests.support.corpus import (
    BILLION_LAUGHS,
    XXE,
    laughs_sheet,
    make_docx,
    make_nested_zip,
    make_rar4_stored,
    make_xlsx,
    make_zero_bomb,
    make_zip,
    replace_part,
    sheet_with_dtd,
)
from tests.support.paths import REPO

MAX_SECONDS = 20.0
MAX_RSS_MB = 400  # the interpreter with every library loaded is ~100 MB

RUNNER = textwrap.dedent("""\
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    data = Path(sys.argv[1]).read_bytes()
    started = time.monotonic()
    if sys.argv[2] == "expand":
        from ingest.core.config import LimitsConfig
        from ingest.mail.containers import expand
        from parsers.detect import detect_type
        kind = detect_type(data)
        result = expand(data, kind, "hostile." + kind, LimitsConfig())
        out = {"reasons": list(result.reasons), "members": len(result.members),
               "names": [m.filename for m in result.members]}
    else:
        import parsers
        from parsers.detect import check_ooxml, detect_type
        from parsers.errors import ParseError
        try:
            check_ooxml(data)
            parsers.read_document(data, detect_type(data))
            out = {"reasons": []}
        except ParseError as e:
            out = {"reasons": [e.reason]}
    out["seconds"] = time.monotonic() - started
    # This program's own peak: ru_maxrss would also hold the high-water mark of the forked
    # copy of pytest, which Linux carries over execve (hundreds of MB late in the suite).
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    out["rss_mb"] = int(hwm.split()[1]) / 1024
    print(json.dumps(out))
""")


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def _run(tmp_path: Path, payload: bytes, mode: str) -> dict[str, object]:
    data_dir = tmp_path / "data"
    tmpdir = data_dir / "tmp"
    tmpdir.mkdir(parents=True)
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    watched = [tmp_path.parent, REPO / "ingest", REPO / "parsers", REPO / "tests"]
    before = [_listing(p) for p in watched]
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), str(source), mode, str(REPO)], cwd=data_dir, env=env,
        capture_output=True, text=True, timeout=MAX_SECONDS * 3,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    # Only new paths count: another test's SQLite connection closing may remove its WAL files.
    data_part = str(data_dir.relative_to(tmp_path.parent))
    added = [
        sorted(
            p
            for p in _listing(root) - old
            if not (root == tmp_path.parent and (p == data_part or p.startswith(data_part + "/")))
        )
        for root, old in zip(watched, before, strict=True)
    ]
    assert added == [[]] * len(watched), f"something was written outside data_dir: {added}"
    assert list(tmpdir.iterdir()) == [], "temp files were left behind"
    assert list(data_dir.iterdir()) == [tmpdir]
    assert float(result["seconds"]) < MAX_SECONDS  # type: ignore[arg-type]
    assert float(result["rss_mb"]) < MAX_RSS_MB  # type: ignore[arg-type]
    return result


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return make_zero_bomb(1 << 30)


def test_one_gib_member_is_refused_without_inflating(tmp_path: Path, bomb: bytes) -> None:
    result = _run(tmp_path, bomb, "expand")
    assert result["reasons"] == [BOMB] and result["members"] == 0


def test_lying_header_cannot_make_us_read_more(tmp_path: Path, bomb: bytes) -> None:
    # declare 1000 bytes in both headers for a member that inflates to 1 GiB
    fake = bytearray(bomb)
    local_size_at = 22
    struct.pack_into("<I", fake, local_size_at, 1000)
    central = fake.rindex(b"PK\x01\x02")
    struct.pack_into("<I", fake, central + 24, 1000)
    result = _run(tmp_path, bytes(fake), "expand")
    assert result["reasons"] == [MEMBER_BROKEN] and result["members"] == 0


def test_nested_bombs_and_deep_nesting(tmp_path: Path, bomb: bytes) -> None:
    many_bombs = make_zip({f"b{i}.zip": bomb for i in range(8)})
    result = _run(tmp_path, many_bombs, "expand")
    assert result["reasons"] == [BOMB] * 8
    deep = make_nested_zip(30, make_xlsx())
    result = _run(tmp_path / "deep", deep, "expand")
    assert result["reasons"] == [TOO_DEEP] and result["members"] == 3


def test_many_members(tmp_path: Path) -> None:
    data = make_zip({f"{i:05d}.txt": b"x" for i in range(20_000)})
    result = _run(tmp_path, data, "expand")
    assert result["reasons"] == [TOO_MANY.format(n=500)] and result["members"] == 500


def test_oversized_member(tmp_path: Path) -> None:
    data = make_zip({"big.xlsx": os.urandom(31 << 20)})
    result = _run(tmp_path, data, "expand")
    assert result["reasons"] == [TOO_BIG.format(mb=30)]


def test_7z_bomb(tmp_path: Path) -> None:
    seven = shutil.which("7z")
    if not seven:
        message = "7z is missing: apt-get install -y p7zip-full"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    archive = tmp_path / "bomb.7z"
    subprocess.run(
        f"head -c {256 << 20} /dev/zero | {seven} a -mx=1 -sizeros.bin {archive}",
        shell=True,
        check=True,
        capture_output=True,
    )
    result = _run(tmp_path / "run", archive.read_bytes(), "expand")
    assert result["reasons"] == [BOMB]


def test_hostile_names_and_rar_write_nothing(tmp_path: Path) -> None:
    names = ["../../etc/passwd", "/abs/path/附件4.xlsx", "CON", "aux.txt", "..\\..\\x.ini"]
    result = _run(tmp_path, make_zip({n: b"data" for n in names}), "expand")
    assert result["names"] == ["passwd", "附件4.xlsx", "CON", "aux.txt", "x.ini"]
    rar = make_rar4_stored({"../../evil.txt": b"data", "/abs.txt": b"data"})
    result = _run(tmp_path / "rar", rar, "expand")
    assert result["names"] == ["evil.txt", "abs.txt"] and result["reasons"] == []


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
    ],
)
def test_xml_entities_are_refused(tmp_path: Path, base: str, part: str, text: str) -> None:
    data = replace_part(make_docx() if base == "docx" else make_xlsx(), part, text)
    result = _run(tmp_path, data, "read")
    assert result["reasons"] == [UNSAFE_XML]

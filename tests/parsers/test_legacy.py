"""LibreOffice conversion: batching, isolation, the hang watchdog; HTML and PDF readers."""

from __future__ import annotations

import os
import stat
import textwrap
import time
from pathlib import Path

import pytest

import parsers
from parsers import build_schemas, extract_form
from parsers.detect import detect_type
from parsers.errors import EncryptedFile, ParseError, ScanOnly, UnsupportedFormat
from parsers.html import read_html
from parsers.legacy import FAILED, MISSING, TIMED_OUT, Converter, convert
from parsers.pdf import read_pdf
from tests.support.corpus import ANNEX, ROWS, legacy_files, make_html_xls, make_png, require_soffice
from tests.support.forms import cell_value, fields

SCHEMAS = build_schemas()


def _texts(rows: object) -> list[list[str]]:
    """Rows as comparable text (PDF text layers may add spaces inside cells)."""
    assert isinstance(rows, list | tuple)
    return [[cell_value(r.get(f)).replace(" ", "") for f in fields(ANNEX)] for r in rows]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.parametrize(
    "name",
    [
        "附件4.doc",
        "附件4.wps",
        "附件4.rtf",
        "附件4-rtf.doc",
        "附件4.odt",
        "附件4.xls",
        "附件4.et",
        "附件4.ods",
    ],
)
def test_legacy_files_yield_the_forms_rows(name: str, converter: Converter) -> None:
    data = legacy_files()[name]
    kind = detect_type(data, name)
    doc = parsers.read_document(data, kind, converter=converter)
    assert doc.kind in (kind, "xls")
    form = extract_form(doc, ANNEX, SCHEMAS)
    assert _texts(list(form.rows)) == _texts(ROWS)
    assert form.unit_line == "南郑区财政局"


def test_one_soffice_call_per_target_and_nothing_left_behind(tmp_path: Path) -> None:
    require_soffice()
    files = legacy_files()
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "soffice"
    wrapper.write_text(f'#!/bin/sh\necho call >> {log}\nexec soffice "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    items = [
        (files["附件4.doc"], "doc"),
        (files["附件4.xls"], "xls"),
        (files["附件4.wps"], "wps"),
        (files["附件4.doc"][:4096], "doc"),
        (files["附件4.rtf"], "rtf"),  # a torn .doc
        (files["附件4.ods"], "ods"),
        (b"", "pdf"),
    ]
    work = tmp_path / "work"
    work.mkdir()
    with Converter(soffice=str(wrapper), timeout_seconds=120, temp_dir=str(work)) as conv:
        results = conv.convert_many(items)
        assert len(list(work.iterdir())) == 1  # the private dir (profile, batches)
    assert log.read_text().count("call") == 2  # one batch for docx, one for xlsx
    assert [detect_type(r) if isinstance(r, bytes) else r.reason for r in results] == [
        "docx",
        "xlsx",
        "docx",
        FAILED,
        "docx",
        "不支持转换此类文件（ods）",  # python-calamine reads .ods; never LibreOffice
        "不支持转换此类文件（pdf）",
    ]
    assert isinstance(results[-1], UnsupportedFormat)
    assert list(work.iterdir()) == []


def test_prefetch_batches_then_serves_from_cache(tmp_path: Path) -> None:
    require_soffice()
    files = legacy_files()
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "soffice"
    wrapper.write_text(f'#!/bin/sh\necho call >> {log}\nexec soffice "$@"\n')
    wrapper.chmod(0o755)
    with Converter(soffice=str(wrapper)) as conv:
        conv.prefetch(
            [
                (files["附件4.doc"], "doc"),
                (files["附件4.rtf"], "rtf"),
                (files["附件4.doc"], "doc"),
                (b"x", "pdf"),
            ]
        )
        assert detect_type(conv.convert(files["附件4.rtf"], "rtf")) == "docx"
        assert detect_type(conv.convert(files["附件4.doc"], "doc")) == "docx"
        assert log.read_text().count("call") == 1
        conv.convert(files["附件4.doc"], "doc")  # served once; a second read converts again
        assert log.read_text().count("call") == 2


@pytest.mark.parametrize("stage", ["LOAD", "STORE"])
def test_hanging_file_is_killed_and_the_others_convert(tmp_path: Path, stage: str) -> None:
    """A stand-in soffice (LibreOffice cannot be made to hang on demand) that prints
    soffice's per-file lines, 'converts' by copying, fails to load FAIL, and sleeps
    on HANG in a child process, so killing only the parent would leave it behind."""
    pidfile = tmp_path / "sleeper.pid"
    fake = tmp_path / "soffice"
    fake.write_text(
        textwrap.dedent(f"""\
        #!{os.sys.executable}
        import os, subprocess, sys, pathlib
        args = sys.argv[1:]
        target = args[args.index("--convert-to") + 1]
        out = pathlib.Path(args[args.index("--outdir") + 1])
        for f in [pathlib.Path(a) for a in args if a.startswith("/") and "-env" not in a][1:]:
            if f.read_bytes() == b"FAIL":
                print("Error: source file could not be loaded", flush=True)
                continue
            if f.read_bytes() == b"HANG" and "{stage}" == "STORE":
                print(f"convert {{f}} -> {{out / f.stem}}.{{target}} using filter : X", flush=True)
            if f.read_bytes() == b"HANG":
                p = subprocess.Popen(["sleep", "600"])
                pathlib.Path("{pidfile}").write_text(str(p.pid))
                p.wait()
            if f.read_bytes() != b"HANG" or "{stage}" != "STORE":
                print(f"convert {{f}} -> {{out / f.stem}}.{{target}} using filter : X", flush=True)
            (out / (f.stem + "." + target)).write_bytes(b"converted " + f.read_bytes())
        """)
    )
    fake.chmod(0o755)
    items = [
        (b"one", "doc"),
        (b"FAIL", "doc"),
        (b"HANG", "doc"),
        (b"four", "doc"),
        (b"five", "doc"),
    ]
    started = time.monotonic()
    with Converter(soffice=str(fake), timeout_seconds=2) as conv:
        results = conv.convert_many(items)
    assert time.monotonic() - started < 8  # one timeout, not one per pending file
    reasons = [r.reason if isinstance(r, ParseError) else r for r in results]
    assert reasons == [b"converted one", FAILED, TIMED_OUT, b"converted four", b"converted five"]
    assert not _alive(int(pidfile.read_text()))  # the whole process group was killed


def test_missing_libreoffice_is_a_clear_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("parsers.legacy.DEBIAN_SOFFICE", str(tmp_path / "none"))
    with pytest.raises(ParseError) as err:
        convert(b"\xd0\xcf\x11\xe0", "doc")
    assert err.value.reason == MISSING["docx"]
    assert "libreoffice-writer-nogui" in err.value.reason


def test_convert_routes_non_office_kinds() -> None:
    with pytest.raises(EncryptedFile):
        convert(b"x", "encrypted")
    with pytest.raises(ScanOnly):
        convert(make_png(), "image")
    with pytest.raises(UnsupportedFormat):
        convert(b"x", "other")


def test_html_xls_is_read_as_a_table() -> None:
    doc = parsers.read_document(make_html_xls(), "html")
    assert doc.tables[0].rows[0][0] == "考核任务申报表"  # colspan keeps text left-most
    assert doc.tables[0].rows[0][1] == ""
    form = extract_form(doc, ANNEX, SCHEMAS)
    assert _texts(list(form.rows)) == _texts(ROWS)
    assert form.unit_line == "南郑区财政局"


def test_html_rowspan_repeats_and_spans_are_capped() -> None:
    page = (
        '<table><tr><td rowspan="2">甲</td><td>1</td></tr><tr><td>2</td></tr></table>'
        '<table><tr><td colspan="99999999">x</td></tr></table>'
    ).encode()
    doc = read_html(page)
    assert doc.tables[0].rows == (("甲", "1"), ("甲", "2"))
    assert len(doc.tables[1].rows[0]) == 1000


def test_text_pdf_yields_rows_and_scan_pdf_is_scan_only() -> None:
    require_soffice()
    files = legacy_files()
    form = extract_form(read_pdf(files["附件4.pdf"]), ANNEX, SCHEMAS)
    assert _texts(list(form.rows)) == _texts(ROWS)
    with pytest.raises(ScanOnly) as err:
        read_pdf(files["扫描件.pdf"])
    assert err.value.reason == "仅扫描件"
    with pytest.raises(ParseError, match="PDF文件已损坏"):
        read_pdf(b"%PDF-1.4\n garbage")


def test_encrypted_pdf() -> None:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = BytesIO()
    writer.write(buf)
    with pytest.raises(EncryptedFile):
        read_pdf(buf.getvalue())


@pytest.fixture(scope="module")
def converter() -> object:
    require_soffice()
    with Converter(timeout_seconds=120) as conv:
        yield conv


def test_libreoffice_runs_under_the_memory_cap(tmp_path: Path) -> None:
    require_soffice()
    doc = legacy_files()["附件4.doc"]
    with Converter(memory_mb=1024, temp_dir=str(tmp_path)) as conv:
        assert detect_type(conv.convert(doc, "doc")) == "docx"
    began = time.monotonic()
    with Converter(memory_mb=64, temp_dir=str(tmp_path)) as conv:  # soffice cannot even start
        with pytest.raises(ParseError) as failed:
            conv.convert(doc, "doc")
    assert failed.value.reason == FAILED
    assert time.monotonic() - began < 10
    assert list(tmp_path.iterdir()) == []

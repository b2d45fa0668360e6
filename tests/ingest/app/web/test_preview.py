"""The console's preview reads files in the parse sandbox: a hostile file is a note, not a crash."""

from __future__ import annotations

from pathlib import Path

from ingest.app.web.preview import preview_file
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.hostile_files import gridspan_docx, xfd_xlsb, xfd_xlsx


def test_a_form_shows_its_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(make_xlsx_form(4, sample_rows(4, 3)))
    p = preview_file(path, "附件4.xlsx")
    assert p.rows and not p.note
    assert any("任务名称" in c for r in p.rows for c in r)


def test_hostile_files_become_a_note_and_the_console_lives_on(tmp_path: Path) -> None:
    # the .xlsb makes calamine abort the whole process it runs in (no guard sees it)
    for name, data in (("巨表.xlsb", xfd_xlsb()), ("巨表.xlsx", xfd_xlsx())):
        path = tmp_path / name
        path.write_bytes(data)
        p = preview_file(path, name)
        assert not p.rows and p.note  # no table shown, a reason instead
    # a 30-million-column merge is clamped to the table's real width by the guard
    path = tmp_path / "合并.docx"
    path.write_bytes(gridspan_docx())
    assert all(len(r) <= 10 for r in preview_file(path, "合并.docx").rows)
    # this very process (the console's) is still here and still previews normal files
    ok = tmp_path / "ok"
    ok.write_bytes(make_xlsx_form(4, sample_rows(4, 2)))
    assert preview_file(ok, "附件4.xlsx").rows


def test_a_file_that_is_not_a_table_says_so(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x01binary garbage" * 10)
    assert "无法" in preview_file(path, "说明.bin").note

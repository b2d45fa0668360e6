"""Several formats at once: the xlsx is written by a forked child beside the others."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from ingest.store.pipeline import poll
from reports import output
from reports.output import build_report, write_formats
from tests.support.campaign import make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

AS_OF = datetime(2020, 3, 22, tzinfo=ZoneInfo("Asia/Shanghai"))
FORMATS = ["xlsx", "html", "txt", "json"]


def _campaign(tmp_path: Path) -> Any:
    c = make_campaign(tmp_path / "c")
    form = make_xlsx_form(4, sample_rows(4, 2))
    c.deliver("0.eml", make_mail(attachments=[("附件4.xlsx", form)]), "2020-03-12T09:00:00")
    poll(c.cfg)
    return c


def _cells(path: Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(path, read_only=True)
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book]


def test_all_formats_at_once_are_the_files_written_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _campaign(tmp_path)
    report = build_report(c.cfg, AS_OF)
    forks: list[int | None] = []
    real_fork = output._fork_xlsx
    monkeypatch.setattr(output, "_fork_xlsx", lambda *a: forks.append(real_fork(*a)) or forks[-1])
    single_threaded = threading.active_count() == 1
    together = {p.suffix: p for p in write_formats(c.cfg, report, FORMATS, str(tmp_path / "a"))}
    assert len(forks) == 1 and (forks[0] is not None) == single_threaded  # a child if safe
    alone = {
        p.suffix: p
        for fmt in FORMATS
        for p in write_formats(c.cfg, report, [fmt], str(tmp_path / "b" / f"x.{fmt}"))
    }
    assert list(together) == [".xlsx", ".html", ".txt", ".json"]  # in the order asked
    for ext in (".html", ".txt", ".json"):
        assert together[ext].read_bytes() == alone[ext].read_bytes()
    assert _cells(together[".xlsx"]) == _cells(alone[".xlsx"])
    assert "南郑区财政局" in str(_cells(together[".xlsx"]))


def test_an_xlsx_the_child_cannot_write_fails_the_command_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's failure is not swallowed: the parent writes it again and raises."""
    c = _campaign(tmp_path)
    report = build_report(c.cfg, AS_OF)
    real = output.render

    def broken(report: Any, fmt: str, cfg: Any) -> bytes:
        if fmt == "xlsx":
            raise OSError("磁盘已满")
        return real(report, fmt, cfg)

    monkeypatch.setattr(output, "render", broken)
    written: list[Path] = []
    with pytest.raises(OSError, match="磁盘已满"):
        for path in write_formats(c.cfg, report, FORMATS, str(tmp_path / "out")):
            written.append(path)
    assert written == []  # xlsx comes first and failed
    assert not list((tmp_path / "out").glob("*.xlsx"))


def test_garbage_collection_paused_only_while_single_threaded() -> None:
    import gc

    assert gc.isenabled()
    with output.paused_gc():
        assert gc.isenabled() == (threading.active_count() > 1)
    assert gc.isenabled()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with output.paused_gc():
            assert gc.isenabled()  # the daemon's or the console's threads: left alone
    finally:
        stop.set()
        thread.join()
    with pytest.raises(ValueError), output.paused_gc():
        raise ValueError
    assert gc.isenabled()

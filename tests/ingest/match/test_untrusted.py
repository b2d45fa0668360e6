"""Analysis through the sandbox: a killed or stopped read is one attachment's outcome."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ingest.core.vocab import Outcome
from ingest.match.analyse import analyse_message
from ingest.match.analysis_data import AnalysisContext, AttachmentAnalysis
from ingest.match.roster import load_roster
from ingest.match.sandbox import STOPPED, ParseAborted, ParsePool
from ingest.match.untrusted import ABORTED, read_document
from parsers import build_schemas
from tests.support.campaign import make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.hostile_files import (
    gridspan_docx,
    repeated_ods,
    xfd_xlsb,
    xfd_xlsx,
    xlsx_with_cells,
)
from tests.support.mails import make_mail


def _ctx(tmp_path: Path, pool: ParsePool) -> AnalysisContext:
    roster = load_roster(make_campaign(tmp_path / "campaign").cfg.paths.roster)
    return AnalysisContext(schemas=build_schemas(), roster=roster, pool=pool)


def _by_name(ctx: AnalysisContext, files: list[tuple[str, bytes]]) -> dict[str, AttachmentAnalysis]:
    result = analyse_message(make_mail(attachments=files), ctx)
    return {a.filename: a for a in result.attachments}


def _big_sheet() -> bytes:
    """A valid sheet large enough that reading it takes a noticeable moment."""
    cells = {f"{col}{row}": f"r{row}" for row in range(1, 30_001) for col in "ABCDEFGHIJ"}
    return xlsx_with_cells(cells)


class _Killer:
    """Watches *pool* and SIGKILLs the worker as soon as it runs one of *jobs* (from
    outside, as the OOM killer would); :meth:`join` stops watching."""

    def __init__(self, pool: ParsePool, jobs: tuple[str, ...]) -> None:
        self.killed: list[str] = []  # the job names it killed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(pool, jobs), daemon=True)
        self._thread.start()

    def _watch(self, pool: ParsePool, jobs: tuple[str, ...]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self._stop.is_set():
            for pid, name in pool.busy():
                if name in jobs:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(name)
                    return
            time.sleep(0.001)

    def join(self) -> None:
        self._stop.set()
        self._thread.join()


def _kill_first(pool: ParsePool, *jobs: str) -> _Killer:
    return _Killer(pool, jobs)


def test_worker_killed_mid_parse_records_the_file_and_reads_the_next(
    tmp_path: Path, pool: ParsePool
) -> None:
    form = make_xlsx_form(4, sample_rows(4, 3))
    killer = _kill_first(pool, "read_document", "kind_and_document")  # read alone or with detection
    atts = _by_name(_ctx(tmp_path, pool), [("大表.xlsx", _big_sheet()), ("附件4.xlsx", form)])
    killer.join()
    big, normal = atts["大表.xlsx"], atts["附件4.xlsx"]
    assert STOPPED in (big.reason or "")
    assert big.outcome in (Outcome.UNPARSED, Outcome.UNASSIGNED)
    assert (normal.outcome, normal.unit, len(normal.rows)) == (Outcome.PARSED, "南郑区财政局", 3)


def test_archive_whose_worker_dies_is_refused_with_the_reason(
    tmp_path: Path, pool: ParsePool
) -> None:
    from tests.support.corpus import make_zip

    archive = make_zip({"附件4.xlsx": _big_sheet()})
    for _ in range(5):  # expanding takes ~30 ms: on a busy machine it may end unseen
        killer = _kill_first(pool, "expand")
        atts = _by_name(_ctx(tmp_path, pool), [("材料.zip", archive)])
        killer.join()
        if killer.killed:
            break
        assert atts["材料.zip"].outcome == Outcome.EXPANDED  # not killed: read as usual
    assert killer.killed == ["expand"]
    assert atts["材料.zip"].outcome == Outcome.UNASSIGNED
    assert STOPPED in (atts["材料.zip"].reason or "")


def test_hostile_files_end_as_outcomes_with_chinese_reasons(
    tmp_path: Path, pool: ParsePool
) -> None:
    form = make_xlsx_form(4, sample_rows(4, 2))
    files = [
        ("附件4-表格.xlsx", xfd_xlsx()),  # guard: never reaches calamine
        ("附件4-表格.xlsb", xfd_xlsb()),  # no guard for .bin: calamine aborts in the worker
        ("附件4-表格.docx", gridspan_docx()),  # clamped grid: read in milliseconds
        ("附件4-表格.ods", repeated_ods()),  # guard on repeated rows/columns
        ("附件4.xlsx", form),
    ]
    began = time.monotonic()
    atts = _by_name(_ctx(tmp_path, pool), files)
    assert time.monotonic() - began < 20
    assert "已停止读取" in (atts["附件4-表格.xlsx"].reason or "")
    assert "XFD" not in (atts["附件4-表格.xlsx"].reason or "")
    assert STOPPED in (atts["附件4-表格.xlsb"].reason or "")
    assert "已停止读取" in (atts["附件4-表格.ods"].reason or "")
    for name in ("附件4-表格.xlsx", "附件4-表格.xlsb", "附件4-表格.ods"):
        assert atts[name].outcome in (Outcome.UNPARSED, Outcome.UNASSIGNED), name
    assert atts["附件4-表格.docx"].document is not None
    assert max(len(r) for t in atts["附件4-表格.docx"].document.tables for r in t.rows) <= 64
    assert (atts["附件4.xlsx"].outcome, len(atts["附件4.xlsx"].rows)) == (Outcome.PARSED, 2)


def test_a_file_whose_detection_was_stopped_reads_as_stopped() -> None:
    with pytest.raises(ParseAborted) as stopped:
        read_document(b"whatever", ABORTED)
    assert stopped.value.reason == STOPPED


def test_a_file_given_by_path_reads_as_its_bytes(tmp_path: Path, pool: ParsePool) -> None:
    from ingest.match.sandbox import PayloadFile
    from ingest.match.untrusted import detect_and_read, detect_kind

    form = make_xlsx_form(4, sample_rows(4, 3))
    path = tmp_path / "附件4.xlsx"
    path.write_bytes(form)
    ref = PayloadFile(str(path), len(form))
    by_bytes = detect_and_read(form, "附件4.xlsx", 1 << 20, pool)
    assert detect_and_read(ref, "附件4.xlsx", 1 << 20, pool) == by_bytes
    assert by_bytes[0] == "xlsx" and by_bytes[1] is not None
    assert read_document(ref, "xlsx", pool=pool) == by_bytes[1]
    (tmp_path / "empty").write_bytes(b"")
    assert detect_kind(PayloadFile(str(tmp_path / "empty"), 0), "x.xlsx", pool) == "empty"
    assert path.read_bytes() == form  # a caller's file stays


def test_a_message_prepared_from_its_unpacked_parts_is_prepared_as_from_raw(
    pool: ParsePool,
) -> None:
    from ingest.mail.mime import unpack
    from ingest.match.analyse import prepare_message, prepare_unpacked

    raw = make_mail(
        attachments=[("附件4.xlsx", make_xlsx_form(4, sample_rows(4, 2))), ("说明.txt", b"hi")]
    )
    from_raw = prepare_message(raw, "d" * 64, pool)
    unpacked = prepare_unpacked(unpack(raw), "d" * 64, pool)
    assert unpacked.kinds == from_raw.kinds == ["xlsx", "text"]
    assert unpacked.read_ahead == from_raw.read_ahead and list(unpacked.read_ahead) == ["2"]

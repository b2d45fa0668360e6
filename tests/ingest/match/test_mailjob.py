"""A whole message in one sandbox job: the per-attachment answer, or a fallback to it.

The ``pool`` fixture is in this folder's conftest.py."""

from __future__ import annotations

import hashlib
import pickle
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ingest.core.vocab import Outcome
from ingest.mail.mime import Unpacked, unpack
from ingest.mail.rawstore import file_path
from ingest.mail.sources.base import SourceItem
from ingest.match.analyse import analyse_message
from ingest.match.analysis_data import AnalysisContext, MessageAnalysis
from ingest.match.mailjob import LIBREOFFICE, SharedContext, analyse_in_worker
from ingest.match.sandbox import ParsePool, PayloadFile, SandboxLimits
from ingest.store import pipeline as pl
from ingest.store.intake import _in_worker, _Prior, _take
from tests.ingest.match.test_sandbox import _sent
from tests.ingest.match.test_untrusted import _big_sheet, _ctx, _kill_first
from tests.support.corpus import make_zip
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows
from tests.support.mails import make_mail


def _seen(analysis: MessageAnalysis) -> list[tuple[Any, ...]]:
    """What the pipeline stores of each attachment."""
    return [
        (a.id, a.filename, a.kind, a.outcome, a.reason, a.annex, a.unit, a.rows, a.warnings)
        for a in analysis.attachments
    ]


def _job(pool: ParsePool, ctx: AnalysisContext, raw: bytes, sent: Any = None) -> Any:
    """The mail job for *raw*, sent as it is or as *sent* (the mail unpacked)."""
    shared = SharedContext.of(ctx)
    digest = hashlib.sha256(raw).hexdigest()
    job = raw if sent is None else sent
    return pool.call(analyse_in_worker, shared.token, shared.blob, job, digest, {}, {}, None)


def test_the_mail_job_answers_what_the_per_attachment_jobs_answer(
    tmp_path: Path, pool: ParsePool
) -> None:
    raw = make_mail(
        attachments=[
            ("附件2.xlsx", make_xlsx_form(2, sample_rows(2, 3))),
            ("附件4.docx", make_docx_form(4, sample_rows(4, 2))),
            ("材料.zip", make_zip({"附件5.xlsx": make_xlsx_form(5, sample_rows(5, 1))})),
            ("说明.txt", "请查收".encode("gbk")),
        ]
    )
    ctx = _ctx(tmp_path, pool)
    out = _job(pool, ctx, raw)
    assert out.fallback is None and out.analysis is not None
    assert _seen(out.analysis) == _seen(analyse_message(raw, ctx))
    parsed = [(a.annex, len(a.rows)) for a in out.analysis.attachments if a.outcome == "parsed"]
    assert sorted(parsed) == [(2, 3), (4, 2), (5, 1)]  # the forms were really read
    # the same answer when the poller sends the mail unpacked (one worker: see intake)
    again = _job(pool, ctx, raw, unpack(raw))
    assert _seen(again.analysis) == _seen(out.analysis)
    assert [a.rows for a in again.analysis.attachments] == [
        a.rows for a in out.analysis.attachments
    ]


def test_the_mail_job_stores_the_files_and_answers_without_their_bytes(
    tmp_path: Path, pool: ParsePool
) -> None:
    """Given the data folder, the worker stores the files the raw mail does not hold as
    they are (an archive's members) and answers with the analysis, not the decoded files;
    the mail's own parts are not copied (the raw archive holds them)."""
    member = make_xlsx_form(5, sample_rows(5, 1))
    forms = {
        "附件2.xlsx": make_xlsx_form(2, sample_rows(2, 3)),
        "附件4.docx": make_docx_form(4, sample_rows(4, 2)),
        "材料.zip": make_zip({"附件5.xlsx": member}),
    }
    raw = make_mail(attachments=list(forms.items()))
    ctx = _ctx(tmp_path, pool)
    shared = SharedContext.of(ctx)
    digest = hashlib.sha256(raw).hexdigest()
    data = tmp_path / "data"
    args = (shared.token, shared.blob, raw, digest, {}, {}, None)
    kept = pool.call(analyse_in_worker, *args)
    bare = pool.call(analyse_in_worker, *args, str(data))
    everything = [*forms.values(), member]
    assert kept.written == frozenset() and bare.written == {
        hashlib.sha256(b).hexdigest() for b in everything
    }
    # the same analysis, without a byte of any file
    assert _seen(bare.analysis) == _seen(kept.analysis)
    assert [a.sha256 for a in bare.analysis.attachments] == [
        a.sha256 for a in kept.analysis.attachments
    ]
    assert all(a.payload == b"" and a.document is None for a in bare.analysis.attachments)
    assert [p.payload for p in bare.prepared.headers.parts] == [b"", b"", b""]
    assert bare.prepared.read_ahead == {} and bare.analysis.headers is bare.prepared.headers
    assert bare.prepared.headers.subject == kept.prepared.headers.subject
    # the member's file is where the poller would have put it, byte for byte; the mail's
    # own parts are not copied
    [inner] = [a for a in kept.analysis.attachments if a.container is not None]
    assert inner.payload == member and file_path(data, inner.sha256).read_bytes() == member
    assert sorted(p.name for p in (data / "files").rglob("*") if p.is_file()) == [inner.sha256]
    assert len(pickle.dumps(bare)) < len(pickle.dumps(kept)) - sum(map(len, everything))


def test_a_file_the_job_cannot_write_is_left_to_the_poller(tmp_path: Path, pool: ParsePool) -> None:
    """Disk full, a read-only folder: the answer keeps the bytes (the poller writes the
    files, and stops the poll if it cannot either)."""
    member = make_xlsx_form(2, sample_rows(2, 1))
    raw = make_mail(attachments=[("材料.zip", make_zip({"附件2.xlsx": member}))])
    shared = SharedContext.of(_ctx(tmp_path, pool))
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data folder should be")
    digest = hashlib.sha256(raw).hexdigest()
    out = pool.call(
        analyse_in_worker, shared.token, shared.blob, raw, digest, {}, {}, None, str(blocked)
    )
    assert out.written == frozenset()
    [archive, att] = out.analysis.attachments
    assert att.outcome == Outcome.PARSED and att.payload == member and len(member) == att.size
    assert out.prepared.headers.parts[0].payload == archive.payload and archive.payload
    assert blocked.read_text() == "a file where the data folder should be"


def test_the_context_crosses_the_pipe_once_per_worker_not_once_per_mail(
    tmp_path: Path, pool: ParsePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cycle's context is a file in the pool's scratch folder: a job carries its path,
    and a worker reads it on its first job only (a province's roster is ~1 MB)."""
    ctx = _ctx(tmp_path, pool)
    shared = SharedContext.of(ctx, pool.scratch)
    assert shared.path is not None and Path(shared.path).parent == pool.scratch
    assert shared.ref == shared.path and Path(shared.path).read_bytes() == shared.blob
    raw = make_mail(attachments=[("附件2.xlsx", make_xlsx_form(2, sample_rows(2, 3)))])
    digest = hashlib.sha256(raw).hexdigest()
    sizes = _sent(monkeypatch)
    first = pool.call(analyse_in_worker, shared.token, shared.ref, raw, digest, {}, {}, None)
    Path(shared.path).unlink()  # the worker has it now
    again = pool.call(analyse_in_worker, shared.token, shared.ref, raw, digest, {}, {}, None)
    assert _seen(again.analysis) == _seen(first.analysis)
    assert [a.rows for a in again.analysis.attachments] == [
        a.rows for a in first.analysis.attachments
    ]
    assert len(sizes) == 2 and max(sizes) < len(raw) + len(shared.blob) // 2
    # the poll's own call (a new cycle: a new token and file) sends the path too
    cycle = SharedContext.of(ctx, pool.scratch)
    item = SourceItem("maildir:x", datetime(2020, 3, 18, tzinfo=UTC), b"", len(raw))
    taken = pl.Taken(item)
    archived = tmp_path / "raw.eml"
    archived.write_bytes(raw)
    payload = PayloadFile(str(archived), len(raw))
    prior = _Prior(digest, None, {}, {})
    cfg = SimpleNamespace(data_dir=tmp_path / "data")  # all _in_worker asks of the config
    assert _in_worker(cfg, ctx, cycle, taken, prior, payload, "2020-03-18T00:00:00")  # type: ignore[arg-type]
    assert taken.analysis is not None and _seen(taken.analysis) == _seen(first.analysis)
    assert len(sizes) == 3 and sizes[2] < len(cycle.blob)
    # one worker too: the answer comes without the form's bytes (the raw mail holds them)
    [att] = taken.analysis.attachments
    assert taken.files_written == {att.sha256} and att.payload == b"" and att.size > 0


def _taken_by(pool: ParsePool, tmp_path: Path, raw: bytes) -> tuple[pl.Taken, Any]:
    """A fetched mail through the intake thread's step (archive, mail job, files)."""
    ctx = _ctx(tmp_path, pool)
    shared = SharedContext.of(ctx, pool.scratch)
    cfg = SimpleNamespace(data_dir=tmp_path / "data")  # all _take asks of the config
    item = SourceItem("maildir:x", datetime(2020, 3, 18, tzinfo=UTC), raw, len(raw))
    prior = _Prior(hashlib.sha256(raw).hexdigest(), None, {}, {})
    taken = _take(cfg, ctx, item, [raw], prior, shared)  # type: ignore[arg-type]
    return taken, cfg


@pytest.mark.parametrize("workers", [1, 2])
def test_the_job_stores_the_files_with_one_worker_or_more(tmp_path: Path, workers: int) -> None:
    """Whatever the pool, the mail job stores the files (only an archive's members: the
    mail's own parts are in the raw archive) and answers without any file's bytes, so the
    poller neither unpickles nor writes them and the commit writes none again."""
    member = make_docx_form(4, sample_rows(4, 2))
    forms = {
        "附件2.xlsx": make_xlsx_form(2, sample_rows(2, 3)),
        "材料.zip": make_zip({"附件4.docx": member}),
    }
    raw = make_mail(attachments=list(forms.items()))
    limits = SandboxLimits(memory_mb=1024, seconds=20)
    sent: list[Any] = []
    with ParsePool(workers, limits=limits, scratch_parent=tmp_path) as pool:
        call = pool.call

        def spy(fn: Any, *args: Any) -> Any:
            sent.append(args[2])
            return call(fn, *args)

        pool.call = spy  # type: ignore[method-assign]
        taken, cfg = _taken_by(pool, tmp_path, raw)
    assert taken.analysis is not None and taken.error is None
    # one worker: the poller, with a core to spare, unpacks the mail for the job
    [job] = sent
    assert isinstance(job, Unpacked if workers == 1 else PayloadFile)
    if workers == 1:
        assert [p.payload for p in job.parts] == list(forms.values())
    else:
        assert Path(job.path).read_bytes() == raw  # the archived file, read by the worker
    digests = {hashlib.sha256(b).hexdigest() for b in [*forms.values(), member]}
    assert taken.files_written == digests  # the commit writes none again
    assert all(a.payload == b"" for a in taken.analysis.attachments)
    [inner] = [a for a in taken.analysis.attachments if not a.in_raw]
    assert file_path(cfg.data_dir, inner.sha256).read_bytes() == member  # byte for byte
    for data in forms.values():  # in the raw mail only
        assert not file_path(cfg.data_dir, hashlib.sha256(data).hexdigest()).exists()


def test_a_member_that_needs_libreoffice_hands_the_mail_back_and_the_worker_lives(
    tmp_path: Path, pool: ParsePool
) -> None:
    """LibreOffice runs in the poller (one run per batch), never inside the sandbox."""
    raw = make_mail(attachments=[("材料.zip", make_zip({"附件3.rtf": rb"{\rtf1 text}"}))])
    ctx = _ctx(tmp_path, pool)
    before = pool.pids()
    assert len(before) == 1
    out = _job(pool, ctx, raw)
    assert (out.prepared, out.analysis, out.fallback) == (None, None, LIBREOFFICE)
    assert pool.pids() == before  # not restarted: nothing went wrong there


def test_a_mail_job_whose_worker_dies_is_taken_per_attachment(
    tmp_path: Path, pool: ParsePool
) -> None:
    form = make_xlsx_form(4, sample_rows(4, 3))
    raw = make_mail(attachments=[("大表.xlsx", _big_sheet()), ("附件4.xlsx", form)])
    ctx = _ctx(tmp_path, pool)
    item = SourceItem("maildir:x", datetime(2020, 3, 18, tzinfo=UTC), b"", len(raw))
    taken = pl.Taken(item)
    prior = _Prior(hashlib.sha256(raw).hexdigest(), None, {}, {})
    archived = tmp_path / "raw.eml"  # the poll hands the worker its archived file
    archived.write_bytes(raw)
    payload = PayloadFile(str(archived), len(raw))
    killer = _kill_first(pool, "analyse_in_worker")  # as the OOM killer would
    cfg = SimpleNamespace(data_dir=tmp_path / "data")
    shared = SharedContext.of(ctx)
    assert not _in_worker(cfg, ctx, shared, taken, prior, payload, "2020-03-18T00:00:00")  # type: ignore[arg-type]
    killer.join()
    assert taken.analysis is None and taken.prepared is None  # nothing half-kept
    by_name = {a.filename: a for a in analyse_message(raw, ctx).attachments}  # the fallback
    assert (by_name["附件4.xlsx"].outcome, len(by_name["附件4.xlsx"].rows)) == (Outcome.PARSED, 3)


def test_the_job_s_warnings_reach_the_poller_s_log(
    tmp_path: Path,
    pool: ParsePool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A part that failed inside the job is logged by the poller, traceback included (the
    worker's stderr is only logged at DEBUG)."""
    import logging

    from ingest.match import analyse, mailjob

    real = analyse.finish_message

    def failing_part(*args: Any, **kwargs: Any) -> MessageAnalysis:
        try:
            raise ValueError("坏的部分")
        except ValueError:
            logging.getLogger("ingest.match.analyse").exception("attachment x of y failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(analyse, "finish_message", failing_part)  # what the job imports
    raw = make_mail(attachments=[("附件2.xlsx", make_xlsx_form(2, sample_rows(2, 1)))])
    shared = SharedContext.of(_ctx(tmp_path, pool))
    out = analyse_in_worker(shared.token, shared.blob, raw, "d" * 64, {}, {}, None)  # in-process
    [(name, level, text)] = out.logs
    assert (name, level) == ("ingest.match.analyse", logging.ERROR)
    assert "attachment x of y failed" in text and "ValueError: 坏的部分" in text
    # the collector is removed after the job
    assert not any(isinstance(h, mailjob._Collect) for h in logging.getLogger().handlers)
    caplog.set_level(logging.WARNING)
    caplog.clear()  # in-process, the record itself was captured too
    mailjob.relog(out.logs)
    [record] = [r for r in caplog.records if r.name == "ingest.match.analyse"]
    assert record.levelno == logging.ERROR and "ValueError: 坏的部分" in record.getMessage()

"""A poll's mail analysed in parallel and committed in fetch order, in batches (intake)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ingest.mail.sources.base import SourceItem
from ingest.store import pipeline
from ingest.store.pipeline import poll
from tests.support.campaign import CONFIG, Campaign, make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

UNITS = ["南郑区财政局", "南郑区发展和改革局", "南郑区住房和城乡建设局"]


def campaign(tmp_path: Path, workers: int) -> Campaign:
    return make_campaign(tmp_path, config=CONFIG + f"\n[limits]\nparse_workers = {workers}\n")


def deliver_forms(c: Campaign, n: int, first_rows: int = 2) -> list[str]:
    """*n* mails, one annex-4 form each, a minute apart; the first one's form is
    *first_rows* long. Returns the maildir keys in fetch order."""
    keys = []
    for i in range(n):
        unit = UNITS[i % len(UNITS)]
        rows = first_rows if i == 0 else 2 + i % 3
        form = make_xlsx_form(4, sample_rows(4, rows), unit_line=f"填报单位：{unit}")
        mail = make_mail(
            sender="x@qq.com", subject=f"附件4（{i}）", attachments=[(f"附件4-{i}.xlsx", form)]
        )
        c.deliver(f"{i:03d}.eml", mail, f"2020-03-12T09:{i:02d}:00")
        keys.append(f"maildir:{i:03d}.eml")
    return keys


def committed(c: Campaign) -> list[tuple[str, str]]:
    """(key, status) of the source items, in the order they were written."""
    with sqlite3.connect(c.cfg.db_path) as conn:
        return list(conn.execute("select key, status from source_items order by rowid"))


def test_two_workers_commit_in_fetch_order_when_the_first_file_is_slow(tmp_path: Path) -> None:
    c = campaign(tmp_path, workers=2)
    assert c.cfg.limits.parse_workers == 2
    keys = deliver_forms(c, 8, first_rows=4000)  # the others finish while it is read
    seen: list[str] = []
    summary = poll(c.cfg, on_item=lambda item: seen.append(item.key))
    assert (summary.stored, summary.attachments) == (8, {"parsed": 8})
    assert seen == keys
    assert committed(c) == [(k, "stored") for k in keys]
    with sqlite3.connect(c.cfg.db_path) as conn:
        rows = dict(conn.execute("select filename, rows from attachments"))
    assert rows["附件4-0.xlsx"] == 4000


def test_parse_workers_default_to_the_cores(tmp_path: Path) -> None:
    import os

    assert make_campaign(tmp_path).cfg.limits.parse_workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("bad", [0, -1, 65, '"2"'])
def test_parse_workers_refused_out_of_range(tmp_path: Path, bad: object) -> None:
    from ingest.core.config import ConfigError

    with pytest.raises(ConfigError, match="parse_workers"):
        _ = campaign(tmp_path, workers=bad).cfg  # type: ignore[arg-type]


class Crash(BaseException):
    """Stands for the process dying inside the batch's transaction."""


def fail_at(monkeypatch: pytest.MonkeyPatch, key: str, error: BaseException) -> None:
    """Every commit of the mail *key* raises *error* (inside the batch's transaction)."""
    real = pipeline.commit_item

    def commit_item(db: Any, cfg: Any, ctx: Any, taken: Any, summary: Any) -> None:
        if taken.item.key == key:
            raise error
        real(db, cfg, ctx, taken, summary)

    monkeypatch.setattr(pipeline, "commit_item", commit_item)


def test_a_crash_mid_batch_rolls_the_whole_batch_back_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = campaign(tmp_path, workers=2)
    keys = deliver_forms(c, 6)
    fail_at(monkeypatch, keys[3], Crash())
    with pytest.raises(Crash):
        poll(c.cfg)
    assert committed(c) == []  # one batch, one transaction: nothing half-written
    monkeypatch.undo()
    summary = poll(c.cfg)
    assert (summary.stored, summary.duplicates) == (6, 0)
    assert committed(c) == [(k, "stored") for k in keys]
    with sqlite3.connect(c.cfg.db_path) as conn:
        assert conn.execute("select count(*) from messages").fetchone()[0] == 6
        assert conn.execute("select count(*) from submissions").fetchone()[0] == 6


def test_a_failing_mail_keeps_the_mails_before_it_in_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's transaction fails: its mails are committed one by one up to the bad one."""
    c = campaign(tmp_path, workers=2)
    keys = deliver_forms(c, 6)
    fail_at(monkeypatch, keys[3], sqlite3.OperationalError("database or disk is full"))
    with pytest.raises(sqlite3.OperationalError):
        poll(c.cfg)
    assert committed(c) == [(k, "stored") for k in keys[:3]]
    monkeypatch.undo()
    summary = poll(c.cfg)
    assert (summary.fetched, summary.stored, summary.duplicates) == (3, 3, 0)
    assert committed(c) == [(k, "stored") for k in keys]


def test_a_mail_twice_in_one_batch_counts_once_with_its_first_receipt_time(
    tmp_path: Path,
) -> None:
    c = campaign(tmp_path, workers=2)
    form = make_xlsx_form(4, sample_rows(4, 3), unit_line="填报单位：南郑区财政局")
    mail = make_mail(sender="x@qq.com", subject="附件4", attachments=[("附件4.xlsx", form)])
    c.deliver("a.eml", mail, "2020-03-12T09:00:00")
    c.deliver("b.eml", mail, "2020-03-13T09:00:00")
    summary = poll(c.cfg)
    assert (summary.stored, summary.duplicates) == (1, 1)
    with sqlite3.connect(c.cfg.db_path) as conn:
        got = conn.execute("select count(*), min(received) from submissions").fetchone()
    assert got[0] == 1 and got[1].startswith("2020-03-12")


def test_items_without_bytes_are_committed_in_order_too(tmp_path: Path) -> None:
    """A source item the source could not fetch is recorded in its place, not reordered."""
    c = campaign(tmp_path, workers=2)
    keys = deliver_forms(c, 3)
    cfg = c.cfg

    class Source:
        def __init__(self) -> None:
            self.real = pipeline.open_source(cfg.mailbox)

        def fetch_new(self, state: Any) -> Any:
            items = list(self.real.fetch_new(state))
            first = items[0]
            failed = SourceItem("maildir:bad", first.received, None, 0, failed_reason="读取失败")
            return iter([items[0], failed, *items[1:]])

        def mark_done(self, item: SourceItem) -> None:
            self.real.mark_done(item)

        @property
        def copy_warning(self) -> str | None:
            return self.real.copy_warning

        def close(self) -> None:
            self.real.close()

    summary = poll(cfg, source=Source())  # type: ignore[arg-type]
    assert (summary.stored, summary.failed) == (3, 1)
    assert [k for k, _ in committed(c)] == [keys[0], "maildir:bad", *keys[1:]]


def test_the_workers_are_released_before_the_last_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their exits overlap the poll's last transaction, unless it still needs them."""
    from concurrent.futures import Future

    from ingest.match.sandbox import ParsePool
    from ingest.store import intake

    events: list[str] = []
    real_release, real_commit = ParsePool.release, intake.Intake._commit

    def release(self: ParsePool) -> None:
        events.append("release")
        real_release(self)

    def commit(self: intake.Intake, n: int) -> None:
        events.append(f"commit {n}")
        real_commit(self, n)

    monkeypatch.setattr(ParsePool, "release", release)
    monkeypatch.setattr(intake.Intake, "_commit", commit)
    c = campaign(tmp_path, workers=2)
    deliver_forms(c, 3)
    summary = poll(c.cfg)
    assert (summary.stored, summary.attachments) == (3, {"parsed": 3})
    assert events == ["release", "commit 3"]
    # an old Office file still to be read in the last batch keeps them
    waiting = pipeline.Taken(SourceItem("k", None, b"", 0))
    waiting.prepared = object()  # type: ignore[assignment]
    done: Future[pipeline.Taken] = Future()
    done.set_result(waiting)
    assert intake._needs_pool(done)
    waiting.analysis = object()  # type: ignore[assignment]
    assert not intake._needs_pool(done)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_poller_leaves_the_analysis_to_its_workers_and_does_not_import_it(
    tmp_path: Path, workers: int
) -> None:
    """Whole messages are analysed in the parse workers: the poller handles the
    analysis' plain data and never imports the analysis itself (the archive,
    forwarded-mail and reader modules), ~15 ms of a cold poll's start."""
    import subprocess
    import sys

    c = campaign(tmp_path, workers=workers)
    deliver_forms(c, 4)
    code = (
        "import sys\n"
        "from ingest.core.config import load_config\n"
        "from ingest.store.pipeline import poll\n"
        f"summary = poll(load_config({str(c.config_path)!r}))\n"
        "print(summary.stored, {k.value: v for k, v in summary.attachments.items()})\n"
        "print(sorted(m for m in ('ingest.match.analyse', 'ingest.match.untrusted',"
        " 'ingest.mail.forwarded', 'parsers.detect') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["4 {'parsed': 4}", "[]"], out.stderr

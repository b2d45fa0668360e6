"""reports.forked (work in a child, result back) and the content checks done in two halves."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from ingest.store.db import ensure_schema
from reports import forked, status
from tests.reports.test_checks import add_version, task
from tests.support.paths import REPO
from tests.support.report_samples import make_config

FRESH = "KAOHE_TEST_FRESH_PROCESS"


def forks() -> bool:
    """Whether this process may fork now (other tests may have left threads running)."""
    return threading.active_count() == 1 and hasattr(os, "fork")


def in_a_fresh_process(name: str) -> bool:
    """True when test *name* could not fork here (earlier tests of the run left threads)
    and was run again, and passed, in a new single-threaded interpreter: the fork path is
    tested in every run, never skipped."""
    if forks():
        return False
    assert not os.environ.get(FRESH), "a fresh pytest process has threads: nothing forks"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::{name}"],
        cwd=REPO,
        env={**os.environ, FRESH: "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout, proc.stdout[-2000:]
    return True


def test_the_childs_result_or_its_failure() -> None:
    if not forks():
        assert forked.start(lambda: 1) is None  # never beside threads
    if in_a_fresh_process("test_the_childs_result_or_its_failure"):
        return
    child = forked.start(lambda: {"pid": os.getpid(), "text": "中文" * 100_000})
    assert child is not None
    done, found = forked.result(child)
    assert done and found["pid"] != os.getpid() and len(found["text"]) == 200_000
    failing = forked.start(lambda: 1 / 0)
    assert failing is not None and forked.result(failing) == (False, None)


def _subs(db: sqlite_utils.Database) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Ten submissions with findings: empty names, duplicates, dropped rows."""
    subs = {}
    for i in range(10):
        rows = [task(f"任务{i}", "5"), task("", "五") if i % 2 else task(f"任务{i}", "5")]
        first = add_version(db, f"a{i}", 1, [*rows, task("旧任务", "1")])
        db.execute("update submissions set unit = ? where id = ?", [f"单位{i}", f"a{i}"])
        second = add_version(db, f"b{i}", 2, rows)
        subs[(f"单位{i}", 4)] = [first, second]
    return subs


def test_checks_in_two_halves_are_the_checks_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if in_a_fresh_process("test_checks_in_two_halves_are_the_checks_in_one"):
        return
    db = sqlite_utils.Database(tmp_path / "kaohe.db")
    ensure_schema(db)
    subs = _subs(db)
    cfg = make_config(tmp_path)
    whole = status.all_checks(db, cfg, subs)
    assert len(whole) == 10 and all(whole.values())
    assert any("重复" in c for c in whole[("单位0", 4)])
    assert any("为空" in c for c in whole[("单位3", 4)])
    assert all(any("少了 1 行" in c for c in found) for found in whole.values())
    starts: list[Any] = []
    real_start = forked.start
    monkeypatch.setattr(forked, "start", lambda w: starts.append(real_start(w)) or starts[-1])
    monkeypatch.setattr(status, "FORK_CHECKS_FROM", 2)
    assert status.all_checks(db, cfg, subs) == whole
    assert len(starts) == 1 and starts[0] is not None  # the second half was forked
    monkeypatch.setattr(forked, "start", lambda w: real_start(lambda: 1 / 0))  # child fails
    assert status.all_checks(db, cfg, subs) == whole  # this process does its half too


def test_a_database_in_memory_is_checked_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    subs = _subs(db)
    monkeypatch.setattr(status, "FORK_CHECKS_FROM", 2)
    monkeypatch.setattr(forked, "start", lambda w: pytest.fail("forked"))
    assert len(status.all_checks(db, make_config(tmp_path), subs)) == 10

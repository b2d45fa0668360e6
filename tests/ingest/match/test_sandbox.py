"""Parse sandbox: limits hold, a dead worker becomes an answer, the next job runs."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import parsers
from ingest.match.sandbox import STOPPED, ParseAborted, ParsePool, SandboxLimits
from parsers.errors import ParseError
from tests.support import sandbox_jobs as jobs
from tests.support.hostile_files import xfd_xlsb

MB = 1024 * 1024


@pytest.fixture
def pool(tmp_path: Path) -> ParsePool:
    with ParsePool(limits=SandboxLimits(memory_mb=512, seconds=5), scratch_parent=tmp_path) as p:
        yield p


def test_results_and_errors_cross_the_pipe(pool: ParsePool) -> None:
    assert pool.call(pow, 2, 10) == 1024
    with pytest.raises(ParseError) as parse_error:
        pool.call(parsers.read_document, b"PK\x03\x04 not a zip", "xlsx")
    assert parse_error.value.reason == "文件已损坏，无法读取"
    with pytest.raises(ValueError, match="invalid literal"):
        pool.call(int, "x")
    assert pool.call(jobs.shout, "不会写坏结果") == "answered"  # stdout cannot corrupt replies


def test_worker_runs_under_its_limits_in_its_scratch_dir(pool: ParsePool, tmp_path: Path) -> None:
    facts = pool.call(jobs.worker_facts)
    assert facts["pid"] != os.getpid()
    assert facts["as"] == (512 * MB, 512 * MB)
    assert facts["core"] == (0, 0)
    soft_cpu = facts["cpu"][0]
    assert facts["cpu_used"] < soft_cpu <= facts["cpu_used"] + 5 + 2  # renewed per job
    assert facts["cwd"] == str(pool.scratch) == facts["tmp"]
    assert pool.scratch.parent == tmp_path
    assert pool.call(jobs.worker_facts)["pid"] == facts["pid"]  # one long-lived worker


def test_memory_cap_stops_the_job_and_the_next_one_runs(pool: ParsePool) -> None:
    first = pool.call(jobs.worker_facts)["pid"]
    with pytest.raises(ParseAborted) as stopped:
        pool.call(jobs.allocate, 2048)
    assert stopped.value.reason == STOPPED == "文件过大或结构异常，已停止读取"
    assert pool.call(jobs.allocate, 64) == 64 * MB
    assert pool.call(jobs.worker_facts)["pid"] != first  # restarted after the limit


def test_wall_clock_limit_kills_a_stuck_worker(tmp_path: Path) -> None:
    with ParsePool(limits=SandboxLimits(seconds=1), scratch_parent=tmp_path) as pool:
        pool.call(pow, 1, 1)  # started
        began = time.monotonic()
        with pytest.raises(ParseAborted):
            pool.call(time.sleep, 30)
        assert time.monotonic() - began < 5
        assert pool.call(pow, 3, 2) == 9


def test_cpu_limit_ends_a_busy_job(tmp_path: Path) -> None:
    # RLIMIT_CPU (SIGXCPU) or the wall clock, whichever fires first: the job ends either way.
    with ParsePool(limits=SandboxLimits(seconds=1), scratch_parent=tmp_path) as pool:
        with pytest.raises(ParseAborted):
            pool.call(jobs.spin, 30)
        assert pool.call(jobs.spin, 0.01) > 0


def test_worker_killed_mid_job_from_outside(pool: ParsePool) -> None:
    pool.call(pow, 1, 1)

    def kill_when_busy() -> None:
        for _ in range(500):
            busy = pool.busy()
            if busy:
                os.kill(busy[0][0], signal.SIGKILL)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    with pytest.raises(ParseAborted):
        pool.call(jobs.echo_after, "never", 10)
    killer.join()
    assert pool.call(jobs.echo_after, "next", 0)[0] == "next"


def test_rust_abort_is_contained_and_its_message_kept_off_the_terminal(
    pool: ParsePool, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest.match.sandbox")
    with pytest.raises(ParseAborted):
        pool.call(parsers.read_document, xfd_xlsb(), "xlsb")  # calamine: SIGABRT
    assert "memory allocation" not in capfd.readouterr().err
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("memory allocation of" in m for m in debug)
    assert pool.call(pow, 2, 3) == 8


def test_parallel_jobs_come_back_in_submission_order(tmp_path: Path) -> None:
    with ParsePool(workers=2, scratch_parent=tmp_path) as pool:
        items = [(i, 0.3 if i % 2 == 0 else 0.0) for i in range(6)]
        results = list(pool.map(jobs.echo_after, items))
    assert [value for value, _ in results] == list(range(6))
    assert len({pid for _, pid in results}) == 2


def test_scratch_removed_on_close_and_stale_ones_of_dead_pools(tmp_path: Path) -> None:
    stale = tmp_path / "kaohe-parse-999999999-old"
    stale.mkdir()
    (stale / "left.tmp").write_bytes(b"x")
    pool = ParsePool(scratch_parent=tmp_path)
    scratch = pool.scratch
    assert not stale.exists()
    assert pool.call(jobs.worker_facts)["cwd"] == str(scratch)
    workers = pool.pids()
    pool.close()
    assert not scratch.exists()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

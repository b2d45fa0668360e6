"""Parse sandbox: limits hold, a dead worker becomes an answer, the next job runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import parsers
from ingest.match.sandbox import (
    STOPPED,
    ParseAborted,
    ParsePool,
    SandboxLimits,
    _Child,
    _may_fork,
    _wait,
)
from parsers.errors import ParseError
from tests.support import sandbox_jobs as jobs
from tests.support.hostile_files import xfd_xlsb
from tests.support.paths import REPO

MB = 1024 * 1024


@pytest.fixture(params=[True, False], ids=["forked", "started"])
def pool(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ParsePool]:
    """Each test on both kinds of first worker: forked from this process (where it can be:
    one thread, a small address space) and a new interpreter."""
    limits = SandboxLimits(memory_mb=512, seconds=5)
    forks = request.param and _may_fork(limits)
    with ParsePool(limits=limits, scratch_parent=tmp_path, fork=request.param) as p:
        assert p.call(jobs.worker_facts)["forked"] == forks
        yield p


def test_results_and_errors_cross_the_pipe(pool: ParsePool) -> None:
    assert pool.call(pow, 2, 10) == 1024
    with pytest.raises(ParseError) as parse_error:
        pool.call(parsers.read_document, b"PK\x03\x04 not a zip", "xlsx")
    assert parse_error.value.reason == "文件已损坏，无法读取"
    with pytest.raises(ValueError, match="invalid literal"):
        pool.call(int, "x")
    assert pool.call(jobs.shout, "不会写坏结果") == "answered"  # stdout cannot corrupt replies


def test_worker_inherits_no_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 授权码 and SMTP passwords come from environment variables: a worker (which
    runs the readers on hostile files) gets the locale and PATH, not them."""
    monkeypatch.setenv("KAOHE_163_AUTH_CODE", "auth-code-should-stay-home")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    with ParsePool(scratch_parent=tmp_path) as p:
        env = p.call(jobs.worker_facts)["env"]
    assert "KAOHE_163_AUTH_CODE" not in env
    assert "auth-code-should-stay-home" not in repr(env)
    assert env["LC_ALL"] == "C.UTF-8" and env["PATH"] == os.environ["PATH"]
    assert env["TMPDIR"] == str(p.scratch)


# A worker the pool started itself (a new interpreter, or forked from this process when
# it has one thread: which one depends on the threads other tests left running), not one
# forked by the pool's first worker (_Forked).
_STARTED = (subprocess.Popen, _Child)

SECRET = "auth-code-should-stay-home"


def _probe(tmp_path: Path, mode: str) -> tuple[dict[str, Any], subprocess.Popen[str]]:
    """Run tests/support/fork_probe.py in a fresh interpreter (one thread, small: what
    ``kaohe poll`` is when it starts its pool); its JSON line and the process."""
    held = tmp_path / "poll.lock"
    env = {**os.environ, "KAOHE_163_AUTH_CODE": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fork_probe", str(tmp_path), str(held), mode],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        assert proc.stderr is not None
        pytest.fail(f"fork probe printed nothing: {proc.stderr.read()[-2000:]}")
    return json.loads(line), proc


def test_the_first_worker_forked_from_a_one_thread_process_starts_as_clean_as_a_new_one(
    tmp_path: Path,
) -> None:
    out, proc = _probe(tmp_path, "plain")
    assert proc.wait(30) == 0
    facts = out["facts"]
    assert facts["forked"] and facts["ppid"] == out["parent"]
    assert facts["readers_loaded"] and facts["frozen"] > 10_000
    # its environment is a started worker's: no secret, in os.environ or in the block
    # /proc/PID/environ shows (the parent's, inherited by the fork, zeroed)
    assert set(facts["env"]) <= {"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR",
                                 "PYTHONDONTWRITEBYTECODE"} | {k for k in facts["env"] if k.startswith("LC_")}  # fmt: skip
    assert SECRET not in repr(facts["env"]) and SECRET not in out["environ"]
    # none of the parent's descriptors (its lock file, its pipes to the other workers)
    held = str(tmp_path / "poll.lock")
    assert held not in facts["fds"].values()
    assert len(facts["fds"]) <= 5, facts["fds"]  # stdin, stdout, stderr, its answer pipe
    assert facts["log_handlers"] == 0  # the parent's screen handler stayed there
    assert not facts["faulthandler"] and facts["python_signal_handlers"] == []
    assert facts["stderr_fd"] == 2  # a traceback goes to its stderr file
    assert out["error"] == "invalid literal for int() with base 10: 'x'"
    assert facts["as"] == [512 * MB, 512 * MB] and facts["core"] == [0, 0]
    assert facts["cwd"] == facts["tmp"] and Path(facts["cwd"]).parent == tmp_path
    # its memory cap holds, and the worker after it runs under the same one
    assert out["capped"] == STOPPED
    assert out["after_cap"]["pid"] != facts["pid"] and out["after_cap"]["as"] == facts["as"]


def test_the_second_worker_is_forked_from_the_forked_first(tmp_path: Path) -> None:
    out, proc = _probe(tmp_path, "two")
    assert proc.wait(30) == 0
    second = out["second"]  # ran beside a job the first worker was busy with
    assert second["pid"] != out["first_pid"]
    assert second["ppid"] == out["first_pid"]  # forked by the first, which was forked by us
    assert (
        SECRET not in repr(second["env"])
        and str(tmp_path / "poll.lock") not in second["fds"].values()
    )
    assert second["log_handlers"] == 0 and second["readers_loaded"]


def test_a_pool_started_beside_another_thread_starts_a_new_interpreter(tmp_path: Path) -> None:
    out, proc = _probe(tmp_path, "thread")
    assert proc.wait(30) == 0
    facts = out["facts"]
    assert not facts["forked"] and facts["ppid"] == out["parent"]
    assert SECRET not in repr(facts["env"]) and SECRET not in out["environ"]


def test_a_fork_whose_set_up_fails_sends_the_job_to_a_new_interpreter(tmp_path: Path) -> None:
    """No job began in a worker that died before it said "ready": the job is not reported
    as stopped (a clerk would read that reason against the mail), it runs again."""
    out, proc = _probe(tmp_path, "broken")
    assert proc.wait(30) == 0
    assert "set-up broken on purpose" in out["stderr"]  # the forked one, which died
    facts = out["facts"]
    assert not facts["forked"] and facts["ppid"] == out["parent"] and facts["readers_loaded"]
    assert out["error"] == "invalid literal for int() with base 10: 'x'"  # and it works


def test_a_forked_worker_ends_when_the_process_that_forked_it_is_killed(tmp_path: Path) -> None:
    out, proc = _probe(tmp_path, "hang")
    worker = out["facts"]["pid"]
    assert out["facts"]["forked"]
    proc.kill()  # as the crash trials kill a poll: the worker reads EOF, not a job
    proc.wait(30)
    deadline = time.monotonic() + 10
    while _alive(worker):
        assert time.monotonic() < deadline, "the forked worker outlived its parent"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Running (a zombie that nobody reaps has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


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
    # the readers are imported before the first job, and frozen out of the collector's way
    assert facts["readers_loaded"] and facts["frozen"] > 10_000


def test_reaping_returns_when_the_worker_exits_and_times_out_when_it_does_not() -> None:
    exits = subprocess.Popen([sys.executable, "-c", "pass"])
    _wait(exits, 30.0)
    assert exits.returncode == 0
    _wait(exits, 30.0)  # reaped already: returns, does not look up a pid reused since
    stays = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            _wait(stays, 0.2)
        assert stays.poll() is None
    finally:
        stays.kill()
        stays.wait()


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


def _until(check: object, seconds: float = 10) -> None:
    """Wait until ``check()`` is true (a test's watch on another thread)."""
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_the_next_job_waits_in_the_worker_s_pipe_and_each_caller_gets_its_own_answer(
    tmp_path: Path,
) -> None:
    """depth 2: while the worker reads one job, the next is already in its pipe (no idle
    hand-off); a third caller waits for room. Answers are matched to their callers."""
    from concurrent.futures import ThreadPoolExecutor

    with ParsePool(1, scratch_parent=tmp_path, depth=2) as pool, ThreadPoolExecutor(8) as ex:
        [worker] = pool._workers
        first = ex.submit(pool.call, jobs.echo_after, "first", 0.5)
        _until(lambda: pool.busy())
        second = ex.submit(pool.call, jobs.echo_after, "second", 0)
        _until(lambda: len(worker._names) == 2)
        third = ex.submit(pool.call, jobs.echo_after, "third", 0)
        time.sleep(0.05)
        assert list(worker._names) == ["echo_after", "echo_after"] and not first.done()
        assert [f.result()[0] for f in (first, second, third)] == ["first", "second", "third"]
        # many callers at once, answers in whatever order the jobs end: each its own
        values = [f"第{i}封" for i in range(60)]
        futures = [
            ex.submit(pool.call, jobs.echo_after, v, (i % 3) / 1000) for i, v in enumerate(values)
        ]
        answers = [f.result() for f in futures]
        assert [a[0] for a in answers] == values
        assert {a[1] for a in answers} == {worker.pid}  # one worker, never restarted


@pytest.mark.parametrize("how", ["time limit", "memory limit", "killed"])
def test_a_job_queued_behind_a_failing_one_runs_once_in_the_next_worker(
    tmp_path: Path, how: str
) -> None:
    """The worker stops with the failing job; the job behind it in the pipe never began,
    so it is sent again to the new worker, not reported as stopped (and not run twice)."""
    from concurrent.futures import ThreadPoolExecutor

    limits = SandboxLimits(memory_mb=512, seconds=1)
    runs = tmp_path / "runs.txt"
    with (
        ParsePool(1, limits, scratch_parent=tmp_path, depth=2) as pool,
        ThreadPoolExecutor(2) as ex,
    ):
        [worker] = pool._workers
        failing = {
            "time limit": (jobs.echo_after, "never", 30),
            "memory limit": (jobs.allocate_after, 0.3, 2048),
            "killed": (jobs.echo_after, "never", 30),
        }[how]
        first_pid = pool.call(jobs.echo_after, "warm", 0)[1]
        bad = ex.submit(pool.call, *failing)
        _until(lambda: pool.busy())
        queued = ex.submit(pool.call, jobs.note_then_echo, str(runs), "后面的")
        _until(lambda: len(worker._names) == 2)  # the second job waits in the pipe
        if how == "killed":
            os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(ParseAborted):
            bad.result()
        value, pid = queued.result()
        assert value == "后面的" and pid != first_pid
        assert runs.read_text(encoding="utf-8") == "后面的\n"  # ran once
        assert pool.call(jobs.echo_after, "next", 0) == ("next", pid)


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


# ---------------------------------------------------------------- large payloads out of band


def _sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the job frames the parent writes to the worker's pipe."""
    import pickle

    from ingest.match import sandbox

    sizes: list[int] = []
    real = sandbox._send

    def record(pipe: object, obj: object) -> None:
        if isinstance(obj, tuple) and len(obj) == 3:  # (fn, args, seconds): a job
            sizes.append(len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)))
        real(pipe, obj)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox, "_send", record)
    return sizes


def _payload_files(pool: ParsePool) -> list[Path]:
    return sorted(pool.scratch.glob("payload-*"))


def test_a_large_payload_reaches_the_worker_as_a_file_not_through_the_pipe(
    pool: ParsePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from ingest.match.sandbox import OUT_OF_BAND_BYTES

    sent = _sent(monkeypatch)
    big = os.urandom(4 * MB)
    assert len(big) >= OUT_OF_BAND_BYTES
    assert pool.call(jobs.digest_of, big) == ("bytes", len(big), hashlib.sha256(big).hexdigest())
    assert sent[-1] < 4096  # the job frame names a file; the 4 MB stayed out of the pipe
    small = os.urandom(OUT_OF_BAND_BYTES - 1)
    assert pool.call(jobs.digest_of, small)[2] == hashlib.sha256(small).hexdigest()
    assert sent[-1] > len(small)  # below the threshold: in the frame, as before
    assert pool.call(jobs.digest_of, bytearray(big))[1:] == (
        len(big),
        hashlib.sha256(big).hexdigest(),
    )
    assert _payload_files(pool) == []  # each file removed when its job ended


def test_out_of_band_and_in_band_reads_give_the_same_document(
    pool: ParsePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.match import sandbox
    from ingest.match.untrusted import kind_and_document
    from tests.support.forms import make_xlsx_form, sample_rows

    form = make_xlsx_form(4, sample_rows(4, 12))
    sent = _sent(monkeypatch)
    in_band = pool.call(kind_and_document, form, "附件4.xlsx", 50 * MB)
    assert sent[-1] > len(form)
    monkeypatch.setattr(sandbox, "OUT_OF_BAND_BYTES", 1)
    by_file = pool.call(kind_and_document, form, "附件4.xlsx", 50 * MB)
    assert sent[-1] < len(form)
    assert by_file[0] == in_band[0] == "xlsx"
    assert by_file[1] == in_band[1] and by_file[1] is not None
    assert _payload_files(pool) == []


def test_payload_files_are_removed_when_the_worker_is_killed_or_overruns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.match import sandbox

    monkeypatch.setattr(sandbox, "OUT_OF_BAND_BYTES", 16)
    limits = SandboxLimits(memory_mb=512, seconds=1)
    with ParsePool(limits=limits, scratch_parent=tmp_path) as pool:
        seen: list[list[Path]] = []

        def watch() -> None:  # the file exists while the job runs, then is gone
            for _ in range(300):
                if pool.busy():
                    seen.append(_payload_files(pool))
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        with pytest.raises(ParseAborted):
            pool.call(jobs.digest_then_sleep, b"x" * 1000, 30)  # wall-clock limit
        watcher.join()
        assert len(seen) == 1 and len(seen[0]) == 1
        assert _payload_files(pool) == []
        with pytest.raises(ParseAborted):
            pool.call(jobs.allocate_after_payload, b"y" * 1000, 2048)  # memory limit
        assert _payload_files(pool) == []
        assert pool.call(jobs.digest_then_sleep, b"z" * 1000, 0) == 1000  # next job runs


def test_a_callers_payload_file_is_read_and_left_in_place(pool: ParsePool, tmp_path: Path) -> None:
    import hashlib

    from ingest.match.sandbox import PayloadFile

    path = tmp_path / "archived.bin"
    data = os.urandom(300_000)
    path.write_bytes(data)
    answer = pool.call(jobs.digest_of, PayloadFile(str(path), len(data)))
    assert answer == ("bytes", len(data), hashlib.sha256(data).hexdigest())
    assert path.read_bytes() == data  # the pool removes only the files it wrote
    with pytest.raises(RuntimeError, match="holds 300000 bytes"):
        pool.call(jobs.digest_of, PayloadFile(str(path), len(data) + 1))  # changed underfoot


def _children(pid: int) -> list[int]:
    """Pids of the processes whose parent is *pid* (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in "ZX":
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in "ZX"


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "started"])
def test_a_prestarted_worker_that_never_had_a_job_is_killed_at_close(
    tmp_path: Path, fork: bool
) -> None:
    """A poll with nothing new prestarts a worker; close does not wait through its imports."""
    limits = SandboxLimits(seconds=5)
    forks = fork and _may_fork(limits)
    pool = ParsePool(1, limits=limits, scratch_parent=tmp_path, start=False, fork=fork)
    assert pool.pids() == []
    pool.prestart()
    [proc] = [w.proc for w in pool._workers]
    assert isinstance(proc, _Child if forks else subprocess.Popen)
    pool.close()
    assert proc.returncode == -signal.SIGKILL
    assert not pool.scratch.exists()


def test_the_other_workers_are_forked_from_the_first_once_its_imports_are_done(
    tmp_path: Path,
) -> None:
    """The first worker forks the pool's others after its imports and before any job:
    they start as clean as a new process (limits, scratch, no secrets, readers loaded),
    without importing again; each has its own pipes and stderr file, and its end."""
    from concurrent.futures import ThreadPoolExecutor

    limits = SandboxLimits(memory_mb=512, seconds=5)
    pool = ParsePool(3, limits=limits, scratch_parent=tmp_path, start=False)
    pool.prestart(1)
    first = pool._workers[0]
    assert isinstance(first.proc, _STARTED) and pool.pids() == [first.pid]
    pool.fork_others()  # what a poll does when mail jobs are coming
    with ThreadPoolExecutor(3) as ex:
        hold = ex.submit(pool.call, jobs.echo_after, "hold", 0.5)
        _until(lambda: first.job)  # the first worker is busy: the next jobs go to the others
        facts = [ex.submit(pool.call, jobs.worker_facts) for _ in range(2)]
        facts_seen = [f.result() for f in facts]
        assert hold.result()[1] == first.pid
    forked = sorted(f["pid"] for f in facts_seen)
    assert forked == sorted(_children(first.pid)) and len(set(forked)) == 2
    assert sorted(pool.pids()) == sorted([first.pid, *forked])
    for f in facts_seen:
        assert f["ppid"] == first.pid  # forked, not started again
        assert f["readers_loaded"] and f["frozen"] > 0  # the first one's imports
        assert f["as"] == (512 * MB, 512 * MB) and f["cwd"] == str(pool.scratch)
        assert set(f["env"]) <= {
            "PATH",
            "LANG",
            "LANGUAGE",
            "TZ",
            "TMPDIR",
            "PYTHONDONTWRITEBYTECODE",
        } | {k for k in f["env"] if k.startswith("LC_")}
    # each answers on its own pipe and writes to its own stderr file
    second = pool._workers[1]
    with ThreadPoolExecutor(2) as ex:
        hold = ex.submit(pool.call, jobs.echo_after, "hold", 0.5)
        _until(lambda: first.job)
        assert ex.submit(pool.call, jobs.shout, "第二个").result() == "answered"
    err = (pool.scratch / f"worker-{second.index}.stderr").read_text(encoding="utf-8")
    assert "第二个" in err
    pool.close()
    assert first.proc is None and not any(_running(pid) for pid in forked)
    assert not pool.scratch.exists()


def test_pipes_hold_a_whole_answer_and_whole_jobs_for_started_and_forked_workers(
    tmp_path: Path,
) -> None:
    """A worker hands over an answer of up to PIPE_BYTES and goes on to its next job
    without waiting for the parent's reader thread (a pipe holds 64 KB by default); the
    jobs queued for it lie whole in its job pipe (a whole mail is ~50 KB)."""
    import fcntl
    from concurrent.futures import ThreadPoolExecutor

    from ingest.match.sandbox import PIPE_BYTES

    pool = ParsePool(2, limits=SandboxLimits(memory_mb=512, seconds=5), scratch_parent=tmp_path)
    with pool:
        pool.fork_others()
        first, second = pool._workers
        with ThreadPoolExecutor(2) as ex:
            hold = ex.submit(pool.call, jobs.echo_after, "hold", 0.5)
            _until(lambda: first.job)
            big = ex.submit(pool.call, jobs.echo_after, "x" * (PIPE_BYTES // 2), 0)
            assert len(big.result()[0]) == PIPE_BYTES // 2 and hold.result()
        assert isinstance(first.proc, _STARTED) and second.pid in _children(first.pid)
        for worker in (first, second):
            assert worker.proc is not None and worker.proc.stdout is not None
            fd = worker.proc.stdout.fileno()
            assert fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) == PIPE_BYTES
            assert not os.get_blocking(fd)  # read at once when there: see _read_exact
            assert worker.proc.stdin is not None
            jobs_fd = worker.proc.stdin.fileno()
            assert fcntl.fcntl(jobs_fd, fcntl.F_GETPIPE_SZ) == PIPE_BYTES
            assert os.get_blocking(jobs_fd)  # a writer waits for room, never spins


def test_an_answer_read_whole_across_pieces_then_timeout_and_eof() -> None:
    """The non-blocking read takes what is in the pipe, waits (poll) for the rest until
    the deadline, and tells a closed pipe from a late answer."""
    from ingest.match.sandbox import _read_exact

    r, w = os.pipe()
    os.set_blocking(r, False)
    os.write(w, b"abc")

    def rest() -> None:
        time.sleep(0.2)
        os.write(w, b"defg")

    writer = threading.Thread(target=rest)
    writer.start()
    started = time.monotonic()
    assert _read_exact(r, 7, time.monotonic() + 5) == b"abcdefg"
    assert time.monotonic() - started >= 0.15  # it waited for the second piece
    writer.join()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        _read_exact(r, 1, time.monotonic() + 0.3)
    assert 0.25 <= time.monotonic() - started < 3
    os.write(w, b"x")
    os.close(w)
    assert _read_exact(r, 1, time.monotonic() + 1) == b"x"
    with pytest.raises(EOFError):
        _read_exact(r, 1, time.monotonic() + 1)
    os.close(r)


def test_the_worker_s_stderr_is_read_only_when_debug_is_logged(
    pool: ParsePool, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged at DEBUG as the jobs end; at INFO not even looked at (one system call per
    job fewer), and what was written meanwhile comes with the next DEBUG look."""
    caplog.set_level(logging.INFO, logger="ingest.match.sandbox")
    assert pool.call(jobs.shout, "第一句") == "answered"
    assert not [r for r in caplog.records if "stderr" in r.getMessage()]
    caplog.set_level(logging.DEBUG, logger="ingest.match.sandbox")
    assert pool.call(jobs.shout, "第二句") == "answered"
    [logged] = [r.getMessage() for r in caplog.records if "stderr" in r.getMessage()]
    assert "第一句" in logged and "第二句" in logged


def test_no_worker_is_forked_from_one_that_has_run_a_job(tmp_path: Path) -> None:
    """Without fork_others before the first worker's first job (a poll of one large mail:
    per-attachment jobs, one worker), the others start as new processes when needed."""
    from concurrent.futures import ThreadPoolExecutor

    with ParsePool(
        2, limits=SandboxLimits(seconds=5), scratch_parent=tmp_path, start=False
    ) as pool:
        pool.prestart(1)
        first, second = pool._workers
        assert pool.call(pow, 2, 5) == 32  # the first worker's first job
        assert second.proc is None  # its pipes were let go: nothing forked
        pool.fork_others()  # too late now: a no-op
        assert second.proc is None and _children(first.pid) == []
        with ThreadPoolExecutor(2) as ex:
            hold = ex.submit(pool.call, jobs.echo_after, "hold", 0.5)
            _until(lambda: first.job)
            facts = ex.submit(pool.call, jobs.worker_facts).result()
            assert hold.result()[0] == "hold"
        assert facts["ppid"] == os.getpid() and facts["pid"] == second.pid
        assert isinstance(second.proc, _STARTED)


def test_a_worker_s_own_first_job_has_it_forked_while_the_first_has_run_none(
    tmp_path: Path,
) -> None:
    with ParsePool(
        2, limits=SandboxLimits(seconds=5), scratch_parent=tmp_path, start=False
    ) as pool:
        pool.prestart(1)
        first, second = pool._workers
        facts = second.run(jobs.worker_facts, ())  # straight to the second worker
        assert facts["ppid"] == first.pid and facts["readers_loaded"]
        assert pool.call(pow, 3, 2) == 9  # and the first worker still runs jobs


def test_a_fork_that_never_happens_sends_the_job_to_a_new_process(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The first worker dies during its imports, after the fork was asked for: the other
    worker's first job reads EOF where its "ready" should be (no pid known, logged as
    such). No job began there, so the job runs in a new process, as do the next ones."""
    caplog.set_level(logging.WARNING, logger="ingest.match.sandbox")
    with ParsePool(
        2, limits=SandboxLimits(seconds=5), scratch_parent=tmp_path, start=False
    ) as pool:
        pool.prestart(1)
        first, second = pool._workers
        pool.fork_others()
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        assert second.run(pow, (2, 2)) == 4  # not stopped: it never began
        assert "parse worker 1 (pid None) stopped: worker died" in caplog.text
        assert "parse worker 1 ended before it was ready: its job goes to a new one" in caplog.text
        assert "Logging error" not in capfd.readouterr().err
        value, pid = second.run(jobs.echo_after, ("again", 0))
        assert value == "again" and isinstance(second.proc, _STARTED)
        assert pid == second.pid != first.pid


def test_released_workers_exit_while_the_caller_goes_on_and_a_later_job_starts_anew(
    tmp_path: Path,
) -> None:
    """A poll releases the workers when its last answers are in: they exit during its
    last commit; close() then only collects them."""
    from concurrent.futures import ThreadPoolExecutor

    with ParsePool(2, limits=SandboxLimits(seconds=5), scratch_parent=tmp_path) as pool:
        first, second = pool._workers
        with ThreadPoolExecutor(2) as ex:  # a job on each
            answers = list(ex.map(lambda v: pool.call(jobs.echo_after, v, 0.3), "ab"))
        old = [first.pid, second.pid]
        assert sorted(a[1] for a in answers) == sorted(old)  # type: ignore[type-var]
        assert all(pid is not None for pid in old)
        pool.release()
        assert first.proc is None and second.proc is None
        _until(lambda: not any(_running(pid) for pid in old if pid is not None))
        value, pid = pool.call(jobs.echo_after, "later", 0)  # still usable: a new worker
        assert value == "later" and pid not in old
    assert not pool.scratch.exists()


def test_a_forked_worker_killed_mid_job_is_started_anew(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ParsePool(2, limits=SandboxLimits(seconds=5), scratch_parent=tmp_path) as pool:
        first, second = pool._workers
        with ThreadPoolExecutor(2) as ex:
            hold = ex.submit(pool.call, jobs.echo_after, "hold", 1.0)
            _until(lambda: first.job)
            doomed = ex.submit(pool.call, jobs.echo_after, "never", 30)
            _until(lambda: second.job and second.pid)
            forked = second.pid
            assert forked is not None and os.getppid() != forked
            os.kill(forked, signal.SIGKILL)
            with pytest.raises(ParseAborted):
                doomed.result()
            assert hold.result()[0] == "hold"
        assert not _running(forked)
        # the next job on it runs in a new process, started as any other
        with ThreadPoolExecutor(2) as ex:
            hold = ex.submit(pool.call, jobs.echo_after, "hold", 0.5)
            _until(lambda: first.job)
            value, pid = ex.submit(pool.call, jobs.echo_after, "again", 0).result()
        assert value == "again" and pid not in (forked, first.pid)
        assert isinstance(second.proc, _STARTED) and second.proc.pid == pid

"""Untrusted bytes are read in worker processes with hard limits.

A hostile attachment can end a process Python cannot protect: python-calamine
aborts (SIGABRT) when a sheet claims a 549 GB grid, a Word table can eat
gigabytes. Every read of an attachment's bytes (type detection, archive
expansion, reading a document) therefore runs as a job in a worker process:

- the worker caps its own address space (``RLIMIT_AS``) and CPU time
  (``RLIMIT_CPU``, renewed per job), writes no core files and works in a
  private scratch dir (cwd and ``TMPDIR``) that the pool removes on close;
- the parent enforces a wall-clock limit per job and kills a worker that
  overruns; a worker that dies (abort, kill, limit) is restarted for the next
  job, and the job raises :class:`ParseAborted` (a :class:`ParseError` whose
  reason is :data:`STOPPED`), so the attachment gets an outcome and the poll
  goes on;
- the worker's stderr (a Rust panic message, library warnings) goes to a file
  in the scratch dir and is logged at DEBUG, never to the terminal.

Workers are long-lived: a job costs one pickle round trip over a pipe. The
pool's first worker can fork the others once its imports are done, if it has run
no job yet (:class:`_Forked`, :meth:`ParsePool.fork_others`): a second worker then
costs a fork, not the 0.12 s of CPU its own imports took, on a 2-core machine
where a cold poll is CPU-bound. A poll asks for it when its first mail goes to a
mail job; one large mail alone (per-attachment jobs) keeps to one worker, as
before. A worker restarted after a failure is started afresh.

The first worker itself is forked from the pool's own process when that is safe
(one thread, a small address space: :func:`_may_fork`), which is how ``kaohe poll``
starts it, before its other threads: it then imports only what the poller has not
(see the sandbox_worker module docstring). Otherwise, and for every restart, a worker
is a new interpreter.

:class:`ParsePool` runs ``workers`` of them; :meth:`ParsePool.call` runs one
job on the worker with the fewest jobs (any thread; up to three are in a worker's
pipe, so it never idles between jobs; its answer pipe holds :data:`PIPE_BYTES`,
so it need not wait for the reader either), :meth:`ParsePool.submit` returns a future,
and :meth:`ParsePool.map` yields results in submission order, so a caller can
parse in parallel and still commit in fetch order.

A large bytes argument (≥ :data:`OUT_OF_BAND_BYTES`) does not go through the
pipe: the parent writes it to a file in the pool's scratch dir (under
data_dir for a poll) and sends a :class:`PayloadFile` in its place, which the
worker reads back as bytes; the parent removes the file when the job ends, and
a crash leaves it in a scratch dir the next pool removes. A pickled copy of a
25 MB attachment in the parent and two in the worker (the frame and its
unpickled bytes) become one read in the worker. A caller may pass a
:class:`PayloadFile` itself (a file it wrote), which the pool never removes.

Jobs are ``(function, args)``: a module-level function, pickled by reference,
its module imported by the worker on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import logging
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ingest.core.config import LimitsConfig
from ingest.match.sandbox_worker import FORK, proc_stat, serve_forked
from parsers.errors import ParseError

log = logging.getLogger(__name__)

STOPPED = "文件过大或结构异常，已停止读取"
_HEADER = struct.Struct("<Q")
_CHUNK = 1 << 20
_SCRATCH_PREFIX = "kaohe-parse-"
_WORKER = Path(__file__).with_name("sandbox_worker.py")
_PAYLOAD_PREFIX = "payload-"
OUT_OF_BAND_BYTES = 1 << 20  # bytes arguments from this size go to the worker as a file
_STARTUP_SECONDS = 60.0  # a worker's imports, on a loaded machine
# A worker's answer pipe: an answer that fits is handed over at once and the worker goes
# on to its next job; with the default 64 KB it waited for the parent's reader thread
# (an answer with attachments' bytes, one worker: cold 300 mails −0.04 s). Its job pipe
# too: the jobs queued for it (a whole mail each, ~50 KB) lie in the pipe whole, where
# with 64 KB the next one was still being written, by a thread of the parent that
# the scheduler had to run again, when the worker came to read it (one worker: the
# worker waited 0.21 → 0.16 s in a cold poll of 300 mails).
PIPE_BYTES = 1 << 20


class ParseAborted(ParseError):
    """A job's worker died, was killed or hit a limit; the reason is for the clerk."""

    def __init__(self, reason: str = STOPPED) -> None:
        super().__init__(reason)


@dataclass(frozen=True)
class SandboxLimits:
    """Per-job limits: address space of a worker, CPU and wall-clock seconds."""

    memory_mb: float = 1024.0
    seconds: float = 60.0

    @classmethod
    def of(cls, limits: LimitsConfig) -> SandboxLimits:
        return cls(memory_mb=limits.parse_memory_mb, seconds=limits.parse_seconds)

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_mb * 1024 * 1024)


@dataclass(frozen=True)
class PayloadFile:
    """A job argument the worker replaces by the bytes of the file at *path*
    (read once, just before the job's function runs: see :func:`read_payloads`)."""

    path: str
    size: int  # bytes the file holds; the worker refuses a file of another size


Payload = bytes | PayloadFile  # what an argument carrying a file's bytes may be


def read_payloads(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Runs in the worker: *args* with each :class:`PayloadFile` replaced by its bytes."""
    if not any(isinstance(a, PayloadFile) for a in args):
        return args
    return tuple(_read_payload(a) if isinstance(a, PayloadFile) else a for a in args)


def _read_payload(ref: PayloadFile) -> bytes:
    with open(ref.path, "rb") as f:
        data = f.read(ref.size + 1)  # one buffer of the known size, no growing copies
    if len(data) != ref.size:
        raise RuntimeError(f"payload file {ref.path} holds {len(data)} bytes, not {ref.size}")
    return data


# --------------------------------------------------------------------------- parent side


class _Worker:
    """One worker process and its pipes; restarted by :meth:`run` when it is gone.

    Up to the pool's ``depth`` jobs are in its pipe at once, each sent by its own
    thread: the worker reads the next job the moment it has answered one, instead of
    waiting for the parent to take the answer, archive the next mail and send it (on a
    one-worker poll that hand-off was 0.5–0.7 ms per mail). Answers come back in the
    order the jobs were sent; each thread reads its own answer in turn (its wall-clock
    limit starts then). A job whose worker is stopped before it began (an earlier job
    overran, died or hit a limit) is sent again to the next process: it never ran.
    """

    def __init__(self, limits: SandboxLimits, scratch: Path, index: int) -> None:
        self.limits = limits
        self.scratch = scratch
        self.index = index
        self.fork = True  # may be forked from this process (see _may_fork); else started
        self.proc: _Process | None = None
        self.ready = False  # the worker said it finished importing
        self.used = False  # a job was sent to this process
        self.outstanding = 0  # jobs handed to this worker by the pool (its slots in use)
        self._err_path = scratch / f"worker-{index}.stderr"
        self._err_seen = 0
        self._state = threading.Condition()  # guards what follows and the process' replacement
        self._send_lock = threading.Lock()  # one frame at a time, in the order of `sent`
        self._generation = 0  # bumped for each process: a job knows which one it went to
        self._sent = 0  # jobs sent to the current process
        self._answered = 0  # answers read from it (the next answer is job number _answered)
        self._names: deque[str] = deque()  # names of the jobs sent and not answered
        self.siblings: list[_Worker] = []  # the first worker: the others, which it may fork
        self.first: _Worker | None = None  # the others: the worker they may be forked from
        self._pending: list[_Worker] = []  # siblings given their pipes, fork not decided
        self._exiting: list[_Process] = []  # released, not reaped

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def job(self) -> str:
        """Name of the job in progress ("" when idle)."""
        names = self._names
        return names[0] if names else ""

    def start(self, claim: bool = True) -> None:
        """Start a process; the first worker (*claim*) is also given the pipes of the
        pool's others that are not running, to fork them on :meth:`request_fork`."""
        forks = self._claim_siblings() if claim else []
        self._pending = [w for w, _, _ in forks]
        keep: list[int] = []  # the forked workers' ends, passed to the first worker
        try:
            for _, (jobs_r, _w), (_r, answers_w) in forks:
                keep += [jobs_r, answers_w]
            err = self._err_path.open("ab")
            try:
                proc: subprocess.Popen[bytes] | _Child
                if self.fork and _may_fork(self.limits):
                    proc = _fork_worker(self.scratch, err.fileno(), keep)
                else:
                    proc = subprocess.Popen(
                        [sys.executable, "-S", str(_WORKER)],  # -S: see sandbox_worker's doc
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                        cwd=self.scratch, env=_worker_env(self.scratch), close_fds=True,
                        pass_fds=keep,
                    )  # fmt: skip
            finally:
                err.close()
            assert proc.stdout is not None and proc.stdin is not None
            _answer_pipe(proc.stdout.fileno())
            _widen(proc.stdin.fileno())
            how = "forked from this process" if isinstance(proc, _Child) else "a new interpreter"
            log.debug("parse worker %d started (pid %d): %s", self.index, proc.pid, how)
        finally:
            for fd in keep:  # the first worker has them now (or the fork never happens:
                os.close(fd)  # the sibling then reads EOF, and is started anew)
        init = {
            "path": list(sys.path),
            "memory": self.limits.memory_bytes,
            "forks": [(j[0], a[1], str(w._err_path)) for w, j, a in forks],
        }
        assert proc.stdin is not None
        _send(proc.stdin, init)
        self._adopt(proc)

    def _adopt(self, proc: _Process) -> None:
        with self._state:
            old, self.proc = self.proc, proc
            if old is not None:  # found dead between jobs: its pipes go with it
                _close_pipes(old)
            self._generation += 1
            self._sent = self._answered = 0
            self._names.clear()
            self.ready = False
            self.used = False

    def _claim_siblings(self) -> list[tuple[_Worker, tuple[int, int], tuple[int, int]]]:
        """The siblings to fork (none running), each given its pipes now: (worker, its job
        pipe, its answer pipe). Claimed under each one's lock, so none is started twice."""
        out = []
        for sibling in self.siblings:
            with sibling._state:
                if sibling.proc is not None:
                    continue
                jobs, answers = os.pipe(), os.pipe()
                _answer_pipe(answers[0])
                _widen(jobs[1])
                sibling._adopt(_Forked(os.fdopen(jobs[1], "wb"), os.fdopen(answers[0], "rb")))
            out.append((sibling, jobs, answers))
        return out

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        frame = (fn, args, self.limits.seconds)
        name = getattr(fn, "__name__", "job")
        retried = False
        while True:
            proc, generation, number = self._send_in_turn(frame, name)
            try:
                if number == 0 and not self._started(proc, generation, retried):
                    retried = True  # it died before it said "ready": the job never began
                    continue
                status, value = _receive(proc, time.monotonic() + self.limits.seconds)
            except (OSError, EOFError, TimeoutError, pickle.UnpicklingError) as e:
                self._stop_after(generation, e)
                raise ParseAborted() from None
            finally:
                self._log_stderr()
            break
        with self._state:
            if self._generation == generation:
                self._answered += 1
                self._names.popleft()
                self._state.notify_all()
        if status == "ok":
            return value
        if status == "abort":  # the worker hit a limit it noticed itself, and exits
            self._stop_after(generation, value)
            raise ParseAborted()
        raise value

    def _send_in_turn(self, frame: tuple[Any, ...], name: str) -> tuple[_Process, int, int]:
        """Send the job and wait until the jobs sent before it are answered; a job whose
        process was stopped meanwhile never began there and is sent again."""
        while True:
            proc, generation, number = self._send_job(frame, name)
            if self._await_turn(generation, number):
                return proc, generation, number

    def _started(self, proc: _Process, generation: int, retried: bool) -> bool:
        """Wait for a new process' "ready" (its imports are not a job's time: generously).
        False: it died first (a fork that never happened, a start that failed): no job
        began in it, so the first job is sent once more, to a new interpreter, instead of
        being reported as stopped — a clerk would read that reason against the mail."""
        try:
            _, pid = _receive(proc, time.monotonic() + max(_STARTUP_SECONDS, self.limits.seconds))
        except EOFError as e:
            if retried:
                raise
            self._stop_after(generation, e)
            log.warning(
                "parse worker %d ended before it was ready: its job goes to a new one", self.index
            )
            self.fork = False
            return False
        if isinstance(proc, _Forked):
            proc.attach(int(pid))
        self.ready = True
        return True

    def _send_job(self, frame: tuple[Any, ...], name: str) -> tuple[_Process, int, int]:
        """Send *frame* (starting a process if there is none, or a dead one with no job
        in it); returns the process, its generation and the job's number in it."""
        with self._send_lock:
            pending = self.proc
            if isinstance(pending, _Forked) and pending.pending and self.first is not None:
                self.first.request_fork()  # forked now, or its pipes let go (started below)
            if self._pending:  # this is the first worker's first job: too late to fork
                self._decide_forks(False)
            with self._state:
                if self.proc is None or (
                    self._sent == self._answered and self.proc.poll() is not None
                ):
                    self.start(claim=False)
                proc, generation, number = self.proc, self._generation, self._sent
                assert proc is not None and proc.stdin is not None
                self._sent += 1
                self._names.append(name)
                self.used = True
            try:
                _send(proc.stdin, frame)
            except (OSError, ValueError):  # the process is gone: its answer says so (EOF)
                pass
        return proc, generation, number

    def request_fork(self) -> None:
        """The first worker: fork the siblings it holds the pipes of, if it has run no job
        yet (a worker forked from one that has is not clean); else they start afresh."""
        with self._send_lock:
            if self._pending:
                self._decide_forks(True)

    def _decide_forks(self, fork: bool) -> None:
        """(Under the send lock.) Send :data:`FORK`, or give the siblings' pipes up."""
        pending, self._pending = self._pending, []
        proc = self.proc
        if fork and proc is not None and proc.stdin is not None and self._sent == 0:
            try:
                _send(proc.stdin, FORK)
            except (OSError, ValueError):
                fork = False  # the first worker is gone: the siblings read EOF below
        else:
            fork = False
        for sibling in pending:
            sibling._fork_decided(fork)

    def _fork_decided(self, forked: bool) -> None:
        with self._state:
            proc = self.proc
            if not isinstance(proc, _Forked) or not proc.pending:
                return
            proc.pending = False
            if not forked:  # no process will answer on these pipes: start anew when needed
                self.proc = None
                _kill(proc)

    def _await_turn(self, generation: int, number: int) -> bool:
        """Wait until the jobs sent before ours are answered; False: the process was
        stopped meanwhile (our job never began)."""
        with self._state:
            while self._generation == generation and self._answered != number:
                self._state.wait()
            return self._generation == generation

    def _stop_after(self, generation: int, why: object) -> None:
        """Kill and reap the worker after a failed job; log what happened. The jobs
        queued behind it are sent again (to a new process) by their threads."""
        with self._state:
            if self._generation != generation:
                return  # stopped already
            proc, self.proc = self.proc, None
            self._generation += 1
            self._sent = self._answered = 0
            self._names.clear()
            self._state.notify_all()
        if proc is None:
            return
        _kill(proc)
        log.warning(
            "parse worker %d (pid %s) stopped: %s (%s)",
            self.index, proc.pid, _why(why), _exit_text(proc.returncode),
        )  # fmt: skip

    def _log_stderr(self) -> None:
        """The worker's new stderr lines, at DEBUG (not even looked at otherwise: a stat
        per job is one more system call for the intake threads)."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        try:
            size = self._err_path.stat().st_size
        except OSError:
            return
        if size <= self._err_seen:
            return
        with self._err_path.open("rb") as f:
            f.seek(self._err_seen)
            text = f.read(size - self._err_seen)
        self._err_seen = size
        log.debug("parse worker %d stderr: %s", self.index, text.decode(errors="replace").strip())

    def stop(self) -> None:
        self.end_input()
        self.reap()

    def release(self) -> None:
        """No more jobs for now: EOF to the process, which exits while the caller goes on
        (:meth:`reap` collects it); a later job starts a new one."""
        with self._send_lock, self._state:
            if self.proc is None or self._sent != self._answered:
                return  # nothing to end, or jobs in hand: left to close()
            self.end_input()
            self._exiting.append(self.proc)
            self.proc = None
            self._generation += 1

    def end_input(self) -> None:
        """EOF on the worker's stdin: it exits on its own (see :meth:`reap`). A worker that
        never had a job holds nothing: it is killed, not waited for through its imports."""
        if self.proc is None:
            return
        if not self.used:
            _kill(self.proc)
            return
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def reap(self) -> None:
        """Wait for the worker to exit after :meth:`end_input` (killed after 2 s)."""
        procs, self._exiting = self._exiting, []
        if self.proc is not None:
            procs.append(self.proc)
        self.proc = None
        for proc in procs:
            try:
                _wait(proc, 2.0)
            except subprocess.TimeoutExpired:
                _kill(proc)
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
        if procs:
            self._log_stderr()


class _Child:
    """A first worker forked from this process (``sandbox_worker.serve_forked``): our
    child, never exec'd. The subset of ``Popen`` the pool uses."""

    args = "parse worker (forked from the pool's process)"

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (as Popen takes it: exited)
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if timeout is not None:
                fd = os.pidfd_open(self.pid)  # (forked only where there are pidfds)
                try:
                    if not select.select([fd], [], [], timeout)[0]:
                        raise subprocess.TimeoutExpired(self.args, timeout)
                finally:
                    os.close(fd)
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.returncode = 0
            else:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:  # not reaped: the pid is still this child's
            os.kill(self.pid, signal.SIGKILL)


def _may_fork(limits: SandboxLimits) -> bool:
    """Can a worker be forked from this process now (:func:`_fork_worker`)? Only while it
    has a single thread (another thread could hold a lock the child would inherit held:
    a poll's intake threads restart workers afresh), on Linux with pidfds, and while
    its address space is small beside the worker's cap (the child inherits it), with
    its standard descriptors open."""
    if not hasattr(os, "pidfd_open"):
        return False
    threads, vsize = proc_stat(20, 23)  # num_threads, vsize (zeros: unknown)
    if threads != 1 or vsize > limits.memory_bytes // 4:
        return False
    try:  # the child puts its pipes on 0-2: with one of them closed here, a pipe could be
        for fd in (0, 1, 2):  # there already (a new interpreter is given them by Popen)
            os.fstat(fd)
    except OSError:
        return False
    return True


def _fork_worker(scratch: Path, err: int, keep: list[int]) -> _Child:
    """Fork the pool's first worker from this process (see the sandbox_worker module
    docstring): it imports only what this process has not imported yet."""
    env = _worker_env(scratch)
    jobs_r, jobs_w = os.pipe()
    answers_r, answers_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (jobs_r, jobs_w, answers_r, answers_w):
            os.close(fd)
        raise
    if pid == 0:  # the child: becomes the worker, never returns here
        serve_forked(jobs_r, answers_w, err, keep, env)
    os.close(jobs_r)
    os.close(answers_w)
    return _Child(pid, os.fdopen(jobs_w, "wb"), os.fdopen(answers_r, "rb"))


class _Forked:
    """A worker forked by the pool's first worker once its imports are done (the others
    then cost a fork, not 0.12 s of imports each; see sandbox_worker._fork_workers).

    Not this process' child: it is known by its pipes until it says "ready" with its
    pid, then watched and signalled through a pidfd (no pid reuse can fool it). The
    subset of ``Popen`` the pool uses; its exit status is not known here (None).
    """

    args = "forked parse worker"
    returncode: int | None = None

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.pid: int | None = None
        self.pending = True  # the first worker has not been told to fork it yet
        self._pidfd: int | None = None
        self._exited = False

    def attach(self, pid: int) -> None:
        self.pid = pid
        try:
            self._pidfd = os.pidfd_open(pid)
        except OSError as e:  # gone already; or no pidfd (Linux < 5.3, valgrind)
            self._exited = e.errno == errno.ESRCH

    def poll(self) -> int | None:
        """None while it runs (or before it said "ready", or when that cannot be known
        without a pidfd: its pipe then says EOF); -1 once it has exited."""
        if not self._exited and self._pidfd is not None:
            self._exited = bool(select.select([self._pidfd], [], [], 0)[0])
        return -1 if self._exited else None

    def wait(self, timeout: float | None = None) -> int | None:
        if self._pidfd is not None and not self._exited:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._exited = True
        self._close_pidfd()
        return None

    def kill(self) -> None:
        """SIGKILL (through the pidfd when there is one); before "ready", closing its
        pipes ends it (EOF)."""
        try:
            if self._pidfd is not None and not self._exited:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            elif self.pid is not None and not self._exited:
                os.kill(self.pid, signal.SIGKILL)  # not reaped by us: no pidfd, no better
        except ProcessLookupError:
            self._exited = True
        if self.pid is None:
            _close_pipes(self)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


_Process = subprocess.Popen[bytes] | _Child | _Forked  # what the pool runs a worker as


def _wait(proc: _Process, timeout: float) -> None:
    """``proc.wait(timeout)`` that returns the moment the process exits.

    ``Popen.wait`` with a timeout polls with sleeps of up to 50 ms, which a poll
    pays at its end; a pidfd (Linux ≥ 5.3) becomes readable when the process exits.
    """
    if isinstance(proc, _Forked):
        proc.wait(timeout)
        return
    if proc.poll() is not None:  # exited and reaped: its pid may belong to another process
        return
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, an old kernel, or already reaped
        proc.wait(timeout=timeout)
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    proc.wait()


def _why(why: object) -> str:
    if isinstance(why, TimeoutError):
        return "time limit"
    if isinstance(why, EOFError):
        return "worker died"
    return str(why) or type(why).__name__


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit status unknown"  # a forked worker is not our child
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


# What a worker inherits of the environment: the locale, the time zone and the search
# path for programs. Nothing else: the 163 授权码 and the SMTP password are read from
# environment variables (``password_env``), and a reader's bug must not find them.
_WORKER_ENV = ("PATH", "LANG", "LANGUAGE", "TZ")


def _worker_env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _WORKER_ENV or k.startswith("LC_")}
    env.update(TMPDIR=str(scratch), PYTHONDONTWRITEBYTECODE="1")
    return env


def _kill(proc: _Process) -> None:
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    _close_pipes(proc)


def _close_pipes(proc: _Process) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _answer_pipe(fd: int) -> None:
    """Set up the parent's end of an answer pipe: non-blocking (see :func:`_read_exact`)
    and wide (:func:`_widen`)."""
    os.set_blocking(fd, False)
    _widen(fd)


def _widen(fd: int) -> None:
    """Give the pipe of *fd* :data:`PIPE_BYTES` of buffer (Linux; best effort: over
    ``/proc/sys/fs/pipe-max-size`` or the user's pipe quota it keeps its default)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setsize, PIPE_BYTES)


def _send(pipe: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_HEADER.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _receive(proc: _Process, deadline: float) -> tuple[str, Any]:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    status, value = pickle.loads(_read_exact(fd, size, deadline))
    return str(status), value


def _read_exact(fd: int, size: int, deadline: float) -> bytearray:
    """Read *size* bytes from *fd* before *deadline* (TimeoutError), EOF → EOFError.

    *fd* is non-blocking (:func:`_answer_pipe`): what is there already (an answer
    queued in the pipe, the body after its header) is read without a ``poll`` first —
    each system call lets go of the GIL, which six intake threads and the poll's own
    thread contend for."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    poller = None
    while got < size:
        try:
            chunk = os.read(fd, min(_CHUNK, size - got))
        except BlockingIOError:
            if poller is None:
                poller = select.poll()
                poller.register(fd, select.POLLIN | select.POLLHUP)
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise TimeoutError from None
            continue
        if not chunk:
            raise EOFError
        view[got : got + len(chunk)] = chunk
        got += len(chunk)
    return buf


class ParsePool:
    """``workers`` sandboxed worker processes (a context manager; see the module docstring).

    *scratch_parent*: where the pool's scratch dir goes (default: the system temp
    dir); stale scratch dirs of dead pools there are removed. *depth*: jobs in one
    worker's pipe at most (see :class:`_Worker`); a job goes to the worker with the
    fewest. Three, not two: the poller's threads refill a pipe under one GIL with the
    fetch and the commits, and a cold poll on two cores measured 0.05 s faster with a
    third job in hand (a fourth added nothing). *fork*: a worker started while this
    process has one thread may be forked from it (:func:`_fork_worker`); False: always
    a new interpreter.
    """

    def __init__(
        self,
        workers: int = 1,
        limits: SandboxLimits | None = None,
        scratch_parent: Path | None = None,
        start: bool = True,
        depth: int = 3,
        fork: bool = True,
    ) -> None:
        self.limits = limits or SandboxLimits()
        if scratch_parent is not None:
            scratch_parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(scratch_parent)
        self.scratch = Path(
            tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", dir=scratch_parent)
        )
        self.depth = max(1, depth)
        self._workers = [_Worker(self.limits, self.scratch, i) for i in range(max(1, workers))]
        for worker in self._workers:
            worker.fork = fork
        self._workers[0].siblings = self._workers[1:]  # forked by the first, imports done
        self._slots = threading.Condition()  # guards each worker's `outstanding`
        for worker in self._workers[1:]:
            worker.first = self._workers[0]
        for worker in self._workers:
            if start and worker.proc is None:
                worker.start()  # imports overlap with the caller's own start-up
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        if start:
            self.fork_others()

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def slots(self) -> int:
        """Jobs the pool takes at once (``workers × depth``): callers that want to keep
        every worker busy run this many threads."""
        return self.size * self.depth

    def prestart(self, count: int | None = None) -> None:
        """Start *count* workers (default: all) not running yet, before the first job: their
        imports overlap the caller's own work (a poll's login and first fetch). Unused ones
        are killed at :meth:`close`, so a poll with nothing new pays only the starts."""
        if self._closed:
            return
        for worker in self._workers[: len(self._workers) if count is None else count]:
            if worker.proc is None and not worker.job:
                worker.start()
        if count is None or count > 1:
            self.fork_others()

    def fork_others(self) -> None:
        """Have the first worker fork the others now (it must not have run a job yet):
        call it when more than one job is coming. Without it the others start with
        their first job, as new processes, the way a pool for one large mail wants."""
        if not self._closed:
            self._workers[0].request_fork()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a free worker; raises what it raised, or :class:`ParseAborted`."""
        if self._closed:
            raise RuntimeError("ParsePool is closed")
        written: list[str] = []
        args = self._out_of_band(args, written)  # before taking a slot: a file is slow
        worker = self._take_slot()
        try:
            return worker.run(fn, args)
        finally:
            for name in written:
                _unlink(name)
            self._free_slot(worker)

    def _take_slot(self) -> _Worker:
        """The worker with the fewest jobs (an idle one first), once it has room."""
        with self._slots:
            while True:
                worker = min(self._workers, key=lambda w: w.outstanding)
                if worker.outstanding < self.depth:
                    worker.outstanding += 1
                    return worker
                self._slots.wait()

    def _free_slot(self, worker: _Worker) -> None:
        with self._slots:
            worker.outstanding -= 1
            self._slots.notify()

    def _out_of_band(self, args: tuple[Any, ...], written: list[str]) -> tuple[Any, ...]:
        """*args* with each large bytes argument written to a scratch file (appended to
        *written*) and replaced by a :class:`PayloadFile`; one that cannot be written
        (disk full) goes through the pipe as before."""
        out = list(args)
        for i, arg in enumerate(args):
            if not isinstance(arg, bytes | bytearray | memoryview):
                continue
            size = arg.nbytes if isinstance(arg, memoryview) else len(arg)
            if size < OUT_OF_BAND_BYTES:
                continue
            fd, name = tempfile.mkstemp(prefix=_PAYLOAD_PREFIX, dir=self.scratch)
            written.append(name)
            try:
                _write_all(fd, arg)
            except OSError as e:
                log.debug("payload of %d bytes sent through the pipe: %s", size, e)
                continue
            finally:
                os.close(fd)
            out[i] = PayloadFile(name, size)
        return tuple(out)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """``call`` in the background; at most :attr:`slots` jobs are in the workers at once."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.slots, thread_name_prefix="parse")
        return self._executor.submit(self.call, fn, *args)

    def map(self, fn: Callable[..., Any], items: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """``fn(*item)`` for each item, in parallel; results (or raised errors) in order."""
        futures = [self.submit(fn, *item) for item in items]
        for future in futures:
            yield future.result()

    def busy(self) -> list[tuple[int, str]]:
        """(pid, job name) of the workers running a job now (for tests and diagnostics)."""
        return [(w.pid, w.job) for w in self._workers if w.job and w.pid is not None]

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w.pid is not None]

    def release(self) -> None:
        """The caller has no more jobs for now: every idle worker is told to exit and does
        so while the caller goes on (a poll's last commit); :meth:`close` reaps them. A
        job after this starts a worker afresh."""
        for worker in reversed(self._workers):  # the first one last: it waits for its forks
            worker.release()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        for worker in self._workers:  # all told first: they exit side by side
            worker.end_input()
        for worker in self._workers:
            worker.reap()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _remove_stale(parent: Path) -> None:
    """Scratch dirs left by a pool whose process is gone (killed before ``close``)."""
    for path in parent.glob(f"{_SCRATCH_PREFIX}*-*"):
        pid = path.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_default: ParsePool | None = None
_default_lock = threading.Lock()


def default_pool() -> ParsePool:
    """A process-wide pool with default limits for callers without their own."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = ParsePool(start=False, scratch_parent=Path(tempfile.gettempdir()))
            atexit.register(_default.close)
        return _default


def cycle_pool(limits: LimitsConfig, data_dir: Path | None = None, workers: int = 1) -> ParsePool:
    """The parse sandbox of one poll or reparse: scratch under ``data_dir/.parse``.

    Workers start with their first job or :meth:`ParsePool.prestart`: a poll with
    nothing new starts none (a warm poll stays ~40 ms), one large mail starts one.
    """
    scratch = data_dir / ".parse" if data_dir is not None else None
    return ParsePool(workers, limits=SandboxLimits.of(limits), scratch_parent=scratch, start=False)

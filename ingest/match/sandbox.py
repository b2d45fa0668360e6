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

Workers are long-lived: a job costs one pickle round trip over a pipe.
:class:`ParsePool` runs ``workers`` of them; :meth:`ParsePool.call` runs one
job on a free worker (any thread), :meth:`ParsePool.submit` returns a future,
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
import logging
import os
import pickle
import queue
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ingest.core.config import LimitsConfig
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
    """One worker process and its pipes; restarted by :meth:`run` when it is gone."""

    def __init__(self, limits: SandboxLimits, scratch: Path, index: int) -> None:
        self.limits = limits
        self.scratch = scratch
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.job: str = ""  # name of the job in progress ("" when idle)
        self.ready = False  # the worker said it finished importing
        self.used = False  # a job was sent to this process
        self._err_path = scratch / f"worker-{index}.stderr"
        self._err_seen = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        err = self._err_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", str(_WORKER)],  # -S: see sandbox_worker's docstring
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                cwd=self.scratch, env=_worker_env(self.scratch), close_fds=True,
            )  # fmt: skip
        finally:
            err.close()
        init = {"path": list(sys.path), "memory": self.limits.memory_bytes}
        assert self.proc.stdin is not None
        _send(self.proc.stdin, init)
        self.ready = False
        self.used = False

    def _wait_ready(self) -> None:
        """The worker's imports are not a job's time: wait for its "ready" (generously)."""
        assert self.proc is not None
        if not self.ready:
            _receive(self.proc, time.monotonic() + max(_STARTUP_SECONDS, self.limits.seconds))
            self.ready = True

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        self.job = getattr(fn, "__name__", "job")
        try:
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            assert self.proc is not None and self.proc.stdin is not None
            self._wait_ready()
            self.used = True
            _send(self.proc.stdin, (fn, args, self.limits.seconds))
            status, value = _receive(self.proc, time.monotonic() + self.limits.seconds)
        except (OSError, EOFError, TimeoutError, pickle.UnpicklingError) as e:
            self._stop_after(e)
            raise ParseAborted() from None
        finally:
            self.job = ""
            self._log_stderr()
        if status == "ok":
            return value
        if status == "abort":  # the worker hit a limit it noticed itself, and exits
            self._stop_after(value)
            raise ParseAborted()
        raise value

    def _stop_after(self, why: object) -> None:
        """Kill and reap the worker after a failed job; log what happened."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        _kill(proc)
        log.warning(
            "parse worker %d (pid %d) stopped: %s (%s)",
            self.index, proc.pid, _why(why), _exit_text(proc.returncode),
        )  # fmt: skip

    def _log_stderr(self) -> None:
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
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            _wait(proc, 2.0)
        except subprocess.TimeoutExpired:
            _kill(proc)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            self._log_stderr()


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """``proc.wait(timeout)`` that returns the moment the process exits.

    ``Popen.wait`` with a timeout polls with sleeps of up to 50 ms, which a poll
    pays at its end; a pidfd (Linux ≥ 5.3) becomes readable when the process exits.
    """
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
    if code is not None and code < 0:
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


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _send(pipe: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_HEADER.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _receive(proc: subprocess.Popen[bytes], deadline: float) -> tuple[str, Any]:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    status, value = pickle.loads(_read_exact(fd, size, deadline))
    return str(status), value


def _read_exact(fd: int, size: int, deadline: float) -> bytearray:
    """Read *size* bytes from *fd* before *deadline* (TimeoutError), EOF → EOFError."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while got < size:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise TimeoutError
        chunk = os.read(fd, min(_CHUNK, size - got))
        if not chunk:
            raise EOFError
        view[got : got + len(chunk)] = chunk
        got += len(chunk)
    return buf


class ParsePool:
    """``workers`` sandboxed worker processes (a context manager; see the module docstring).

    *scratch_parent*: where the pool's scratch dir goes (default: the system temp
    dir); stale scratch dirs of dead pools there are removed.
    """

    def __init__(
        self,
        workers: int = 1,
        limits: SandboxLimits | None = None,
        scratch_parent: Path | None = None,
        start: bool = True,
    ) -> None:
        self.limits = limits or SandboxLimits()
        if scratch_parent is not None:
            scratch_parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(scratch_parent)
        self.scratch = Path(
            tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", dir=scratch_parent)
        )
        self._workers = [_Worker(self.limits, self.scratch, i) for i in range(max(1, workers))]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for worker in self._workers:
            if start:
                worker.start()  # imports overlap with the caller's own start-up
            self._idle.put(worker)
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def size(self) -> int:
        return len(self._workers)

    def prestart(self, count: int | None = None) -> None:
        """Start *count* workers (default: all) not running yet, before the first job: their
        imports overlap the caller's own work (a poll's login and first fetch). Unused ones
        are killed at :meth:`close`, so a poll with nothing new pays only the starts."""
        if self._closed:
            return
        for worker in self._workers[: len(self._workers) if count is None else count]:
            if worker.proc is None and not worker.job:
                worker.start()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a free worker; raises what it raised, or :class:`ParseAborted`."""
        if self._closed:
            raise RuntimeError("ParsePool is closed")
        worker = self._idle.get()
        written: list[str] = []
        try:
            return worker.run(fn, self._out_of_band(args, written))
        finally:
            for name in written:
                _unlink(name)
            self._idle.put(worker)

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
        """``call`` in the background; at most ``workers`` jobs run at once."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="parse")
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

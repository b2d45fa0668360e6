"""The worker process of :mod:`ingest.match.sandbox` (run as ``python`` this file).

Protocol, on the worker's stdin and a private copy of its stdout: frames of an
8-byte little-endian length and a pickle. The first frame is the set-up
(``sys.path``, the memory cap and, for the pool's first worker, the pipes of the
workers it may fork: see :func:`_fork_workers`); then each frame is :data:`FORK`
(fork them now: only before the first job, unanswered) or a job
``(function, args, cpu_seconds)`` answered by ``(status, value)`` (the worker
first answers ``("ready", pid)`` once its imports are done; a forked one answers
the same on its own pipe):
``ok`` + result, ``err`` + the exception raised, ``abort`` + why (the worker
hit a limit it noticed itself, answers, and exits). EOF on stdin ends it.
An argument that is a ``PayloadFile`` (a large payload the parent wrote to a
scratch file instead of the pipe) is replaced by the file's bytes, read inside
the job (its memory counts against the job's limits).

Limits are set here, in the child, before any untrusted byte is read: address
space (``RLIMIT_AS``), no core files, and CPU seconds renewed per job. File
descriptor 1 is pointed at stderr, so a library's ``print`` cannot corrupt the
result stream; stderr itself is a file the parent logs at DEBUG.

The worker is started as a script, not with ``-m``, so that ``ingest/__init__``
does not run: it preloads openpyxl and sqlite-utils for the commands (0.16 s),
and the parsers need neither. The ``ingest`` package is registered bare instead.
It is started with ``-S`` (no ``site``: 17 ms less per start, most of it an
editable install's import hook): its ``sys.path`` is the parent's, plus the folder
that holds ``ingest/`` and ``parsers/`` (which an editable install's hook would
otherwise find). Its environment is the locale and ``PATH`` only (no secrets).

A pool's first worker may instead be forked from the parent itself
(:func:`serve_forked`, see ``ingest.match.sandbox._fork_worker``): a ``kaohe poll``
has imported the config, the schemas, the roster reader and the classifier by then,
so the worker imports only the readers and the MIME analysis (~0.04 s instead of
0.13 s of a new interpreter and all its imports). Before reading its first frame it
becomes what a started worker is: descriptors 0–2 its pipes and stderr file and every
other descriptor of the parent closed, the same environment (``os.environ`` replaced,
the inherited block in memory zeroed), the parent's log handlers and signal handlers
dropped, its scratch dir as cwd. It never returns into the parent's code: it ends with
``os._exit``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import resource
import signal
import struct
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NoReturn

_HEADER = struct.Struct("<Q")
FORK = ("fork",)  # a frame asking the first worker to fork the others (before any job)


FORKED = False  # this worker was forked from the pool's parent (see serve_forked)


def serve(forked: bool = False) -> None:
    """Worker main loop: limits first, then jobs from stdin until EOF."""
    if forked:
        jobs: IO[bytes] = os.fdopen(0, "rb")
    else:
        del sys.path[0]  # this file's folder: its modules are not top-level modules
        jobs = sys.stdin.buffer
    out_fd = os.dup(1)
    os.dup2(2, 1)  # a library's print() must not corrupt the result stream
    init = _read_frame(jobs)
    if init is None:
        return
    if not forked:  # a forked worker has the parent's path and packages already
        sys.path[:] = init["path"]
        root = str(Path(__file__).resolve().parents[2])  # the folder holding ingest/, parsers/
        if root not in sys.path:
            sys.path.append(root)
        _bare_package("ingest", Path(__file__).resolve().parents[1])
    _set_limits(int(init["memory"]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    _preload()
    # What the imports made lives as long as the worker: out of the collector's way, so
    # its collections and its exit do not walk it (exit 35 ms → 10 ms).
    gc.freeze()
    children: list[int] = []
    forks = list(init.get("forks") or [])  # the others' pipes, until FORK or a first job
    out = os.fdopen(out_fd, "wb")
    _write_frame(out, pickle.dumps(("ready", os.getpid())))
    while (job := _read_frame(jobs)) is not None:
        if job == FORK:
            pipes = _fork_workers(forks, children) if forks else None
            forks = []
            if pipes is not None:  # a forked worker: its own pipes from here on
                out.close()  # (the first worker's; nothing is left in its buffer)
                jobs, out = os.fdopen(pipes[0], "rb"), os.fdopen(pipes[1], "wb")
                _write_frame(out, pickle.dumps(("ready", os.getpid())))
            continue
        if forks:  # a job came first: no worker is forked from one that has run a job
            _close_forks(forks)
            forks = []
        fn, args, seconds = job
        del job  # an idle worker holds no job's arguments
        _renew_cpu(seconds)
        status, reply = _run_job(fn, args)
        del fn, args
        _write_frame(out, reply)
        del reply
        _reap(children)
        if status == "abort":
            return
    _reap(children, wait=True)  # they end with the pool too: their CPU counts in ours


def serve_forked(
    jobs_fd: int, out_fd: int, err_fd: int, keep: list[int], env: dict[str, str]
) -> NoReturn:
    """The child side of a forked first worker (see the module docstring): never returns."""
    global FORKED
    status = 1
    try:
        FORKED = True
        os.dup2(jobs_fd, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        _close_fds_except({0, 1, 2, *keep})
        _own_stdio()
        os.chdir(env["TMPDIR"])
        _replace_environment(env)
        _drop_inherited_handlers()
        serve(forked=True)
        status = 0
    except BaseException:  # noqa: BLE001  (the parent reads EOF and reports the job)
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
    finally:
        os._exit(status)


def _own_stdio() -> None:
    """``sys.stdout``/``sys.stderr`` on descriptors 1 and 2 (the parent's may be anything: a
    terminal wrapper, a test's capture, on a descriptor closed here), stdin on nothing."""
    stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    sys.stdin = stdin
    setattr(sys, "__stdin__", stdin)  # noqa: B010  (a Final name to the type checker)
    for fd, name in ((1, "stdout"), (2, "stderr")):  # stderr line-buffered, as Python's own
        stream = open(  # noqa: SIM115
            fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False,
            buffering=1 if name == "stderr" else -1,
        )  # fmt: skip
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def proc_stat(*numbers: int) -> tuple[int, ...]:
    """Fields of ``/proc/self/stat`` by their numbers in proc(5) (1 is the pid); zeros
    where it cannot be read."""
    try:
        with open("/proc/self/stat", "rb") as f:
            after_name = f.read().rsplit(b")", 1)[1].split()  # field 3 onwards
        return tuple(int(after_name[n - 3]) for n in numbers)
    except (OSError, IndexError, ValueError):
        return (0,) * len(numbers)


def _close_fds_except(keep: set[int]) -> None:
    """Close every descriptor inherited from the parent but *keep* (its database, its lock
    file, the write ends of the pipes: a worker holding its own job pipe's write end would
    never see EOF when the parent dies)."""
    try:
        open_fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    except OSError:
        open_fds = list(range(resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _replace_environment(env: dict[str, str]) -> None:
    """``os.environ`` becomes *env*; the block the parent's environment was passed in at
    its start (``/proc/PID/environ``: the 授权码 may be there) is zeroed in this copy."""
    os.environ.clear()  # unsetenv each: libc's environ no longer points into the block
    os.environ.update(env)  # (on POSIX its dict is posix.environ itself: no other copy)
    import tempfile

    tempfile.tempdir = None  # the parent's, cached: found again from TMPDIR
    start, end = proc_stat(50, 51)  # env_start, env_end
    if 0 < start < end:
        import ctypes

        ctypes.memset(start, 0, end - start)


def _drop_inherited_handlers() -> None:
    """The parent's log handlers (its screen, its debug file), signal handlers, signal
    wake-up descriptor and fault handler are not the worker's: records a job logs are
    collected by the job itself (mailjob)."""
    import logging

    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError, TypeError):
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)  # an event loop's, on a descriptor closed here
    import faulthandler

    faulthandler.disable()  # a test runner's, on a descriptor closed here (a started
    # worker has none: its environment holds no PYTHONFAULTHANDLER)


def _fork_workers(forks: list[tuple[int, int, str]], children: list[int]) -> tuple[int, int] | None:
    """Fork the pool's other workers from this one, imports done and no job run yet: each
    starts as clean as a new process would, without paying the imports again (0.12 s of
    CPU each). *forks*: per worker, the read end of its job pipe, the write end of its
    answer pipe (inherited from the parent) and its stderr file. Returns the child's two
    descriptors in a child; None here, with the children's pids added to *children*."""
    for i, (jobs_fd, out_fd, err_path) in enumerate(forks):
        pid = os.fork()
        if pid == 0:
            children.clear()  # the siblings forked before this one are not its children
            for j, (a, b, _) in enumerate(forks):  # another worker's pipe held here would
                if j != i:  # hide its death from the parent (no EOF)
                    os.close(a)
                    os.close(b)
            err = os.open(err_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.dup2(err, 2)
            os.dup2(err, 1)
            os.close(err)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)  # the first worker's job pipe is not this one's
            os.close(null)
            return jobs_fd, out_fd
        children.append(pid)
    _close_forks(forks)
    return None


def _close_forks(forks: list[tuple[int, int, str]]) -> None:
    """Let go of the other workers' pipes (their parent then reads EOF if unforked)."""
    for a, b, _ in forks:
        os.close(a)
        os.close(b)


def _reap(children: list[int], wait: bool = False) -> None:
    """Collect the forked workers that have exited (the parent watches them by pidfd);
    *wait*: for all of them (at EOF, when the pool closes them all at once)."""
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.remove(pid)


def _bare_package(name: str, path: Path) -> None:
    """Register package *name* at *path* without running its ``__init__``."""
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package


def _set_limits(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def _renew_cpu(seconds: float) -> None:
    """Allow *seconds* more CPU from now (past the soft limit the kernel sends SIGXCPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _preload() -> None:
    """Import the readers (and the whole-message analysis) now, before the first job's
    clock starts; a poll prestarts its workers, so this overlaps its login and fetch."""
    try:
        import ingest.match.analyse  # noqa: F401
        import ingest.match.mailjob  # noqa: F401
        import ingest.match.untrusted  # noqa: F401
        import parsers.csv  # noqa: F401  (parsers imports its readers lazily)
        import parsers.excel  # noqa: F401
        import parsers.html  # noqa: F401
        import parsers.pdf  # noqa: F401
        import parsers.word  # noqa: F401
    except Exception as e:  # a job importing it will report the problem
        print(f"preload failed: {e!r}", file=sys.stderr)


def _run_job(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, bytes]:
    """Status and pickled reply: ("ok", result) | ("err", exception) | ("abort", why)."""
    from ingest.match.sandbox import read_payloads
    from parsers.errors import ParseError

    try:
        return _pickled("ok", fn(*read_payloads(args)))
    except MemoryError:
        return _pickled("abort", "memory limit")
    except RecursionError:
        return _pickled("abort", "recursion limit")
    except ParseError as e:  # expected: the reason is for the clerk
        return _pickled("err", e)
    except Exception as e:  # a bug: the parent re-raises it; the traceback goes to stderr
        import traceback

        traceback.print_exc()
        return _pickled("err", e)
    except BaseException as e:  # a pyo3 PanicException outside a reader's own handler
        if isinstance(e, SystemExit | KeyboardInterrupt):
            raise
        return _pickled("abort", type(e).__name__)


def _pickled(status: str, value: Any) -> tuple[str, bytes]:
    try:
        return status, pickle.dumps((status, value), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return "abort", pickle.dumps(("abort", "memory limit"))
    except Exception as e:
        error = RuntimeError(f"unpicklable {status} result: {type(e).__name__}: {e}")
        return "err", pickle.dumps(("err", error))


def _read_frame(pipe: IO[bytes]) -> Any:
    head = pipe.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    return pickle.loads(pipe.read(size))


def _write_frame(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(_HEADER.pack(len(data)))
    pipe.write(data)
    pipe.flush()


if __name__ == "__main__":
    serve()

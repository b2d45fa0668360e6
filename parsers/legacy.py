"""Legacy formats: LibreOffice headless turns doc/wps/rtf/odt into docx and
xls/et into xlsx, then the native readers take over; HTML "spreadsheets"
are read directly (:mod:`parsers.html`). (.ods is read by python-calamine: a
crafted .ods once drove soffice to 15 GB.)

Conversion cost is LibreOffice's start-up (~1.2 s), not the files, so a
:class:`Converter` converts every waiting file of one target format in ONE
``soffice --convert-to`` call. Safety:

- its own user profile (``-env:UserInstallation``) in a temp dir removed on
  exit: parallel soffice runs sharing a profile silently lose files;
- a watchdog per file: soffice converts the inputs in order and writes each
  output as it goes, so "no new output for ``timeout_seconds``" means the
  current file hangs. The whole process group is killed and the files not yet
  converted go again in a new call: soffice's per-file progress lines tell
  which file hung (:func:`_hung_index`), and only that one fails;
- inputs are named ``0000.doc`` … (never the sender's name), and everything
  lives under one temp dir that is removed afterwards;
- ``memory_mb`` caps the address space of soffice and everything it starts
  (``RLIMIT_AS`` via ``ulimit -v``, inherited by oosplash and soffice.bin), and
  no core files.

A Converter is not thread-safe; use one per worker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from parsers.errors import EncryptedFile, ParseError, ScanOnly, UnsupportedFormat
from parsers.model import Document

logger = logging.getLogger(__name__)

# internal kind -> (suffix given to soffice so it picks the right import filter, target)
_ROUTES: dict[str, tuple[str, str]] = {
    "doc": ("doc", "docx"),
    "wps": ("doc", "docx"),  # WPS text files are Word 97 binaries; ".wps" would mean MS Works
    "rtf": ("rtf", "docx"),
    "odt": ("odt", "docx"),
    "xls": ("xls", "xlsx"),
    "et": ("xls", "xlsx"),
}
MISSING = {
    "docx": "需要 LibreOffice 才能读取 .doc/.wps 文件：apt-get install libreoffice-writer-nogui",
    "xlsx": "需要 LibreOffice 才能读取此表格文件：apt-get install libreoffice-calc-nogui",
}
DEBIAN_SOFFICE = "/usr/lib/libreoffice/program/soffice"
_LOAD_ERROR = "Error: source file could not be loaded"
TIMED_OUT = "文件转换超时，已放弃"
FAILED = "文件无法转换，可能已损坏"
_POLL_SECONDS = 0.05


def find_soffice() -> str | None:
    """Path of the soffice launcher, or None when LibreOffice is not installed."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    return DEBIAN_SOFFICE if os.access(DEBIAN_SOFFICE, os.X_OK) else None


def target_of(kind: str) -> str | None:
    """ "docx" or "xlsx" for a kind LibreOffice converts, else None."""
    route = _ROUTES.get(kind)
    return route[1] if route else None


class Converter:
    """Batch LibreOffice conversions with one isolated profile (a context manager)."""

    def __init__(
        self,
        timeout_seconds: float = 120.0,
        soffice: str | None = None,
        batch_size: int = 40,
        temp_dir: str | None = None,
        memory_mb: float | None = None,
    ) -> None:
        """*temp_dir*: where the private work dir goes (default: the system temp dir);
        *memory_mb*: address-space cap of each LibreOffice process (None: no cap)."""
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.batch_size = max(1, batch_size)
        self.soffice = soffice or find_soffice()
        self.temp_dir = temp_dir
        self._workdir: Path | None = None
        self._cache: dict[tuple[str, str], bytes | ParseError] = {}

    def __enter__(self) -> Converter:
        self._workdir = Path(tempfile.mkdtemp(prefix="kaohe-soffice-", dir=self.temp_dir))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def prefetch(self, items: list[tuple[bytes, str]]) -> None:
        """Convert every convertible item now, in batches, for later :meth:`convert` calls.

        The pipeline reads attachments one by one; calling this first with all
        of a cycle's legacy files pays soffice's start-up once per batch.
        """
        wanted = [(d, k) for d, k in items if target_of(k) and _key(d, k) not in self._cache]
        unique = list({_key(d, k): (d, k) for d, k in wanted}.items())
        results = self.convert_many([item for _, item in unique])
        self._cache.update(zip([key for key, _ in unique], results, strict=True))

    def convert(self, data: bytes, kind: str) -> bytes:
        """Convert one file (from the prefetch cache when there); raises :class:`ParseError`."""
        cached = self._cache.pop(_key(data, kind), None)
        result = cached if cached is not None else self.convert_many([(data, kind)])[0]
        if isinstance(result, ParseError):
            raise result
        return result

    def convert_many(self, items: list[tuple[bytes, str]]) -> list[bytes | ParseError]:
        """Convert (data, kind) pairs; each result is the docx/xlsx bytes or the error."""
        if self._workdir is None:
            with self:
                return self.convert_many(items)
        results: list[bytes | ParseError] = [ParseError(FAILED)] * len(items)
        groups: dict[str, list[int]] = {}
        for i, (_, kind) in enumerate(items):
            target = target_of(kind)
            if target is None:
                results[i] = UnsupportedFormat(f"不支持转换此类文件（{kind}）")
            elif self.soffice is None:
                results[i] = ParseError(MISSING[target])
            else:
                groups.setdefault(target, []).append(i)
        for target, indexes in groups.items():
            for start in range(0, len(indexes), self.batch_size):
                chunk = indexes[start : start + self.batch_size]
                self._convert_group(target, [(i, items[i]) for i in chunk], results)
        return results

    # ----------------------------------------------------------------- internals

    def _convert_group(
        self,
        target: str,
        group: list[tuple[int, tuple[bytes, str]]],
        results: list[bytes | ParseError],
    ) -> None:
        assert self._workdir is not None
        batch = Path(tempfile.mkdtemp(dir=self._workdir, prefix="batch-"))
        try:
            inputs = batch / "in"
            outputs = batch / "out"
            inputs.mkdir()
            outputs.mkdir()
            paths = []
            for n, (_, (data, kind)) in enumerate(group):
                path = inputs / f"{n:04d}.{_ROUTES[kind][0]}"
                path.write_bytes(data)
                paths.append(path)
            log = batch / "soffice.log"
            finished = self._run(target, paths, outputs, log)
            done = [_output(outputs, path, target) for path in paths]
            log_text = log.read_text(errors="replace")
        finally:
            shutil.rmtree(batch, ignore_errors=True)
        hung = len(group) if finished else _hung_index(log_text, paths, done)
        for n, (index, _) in enumerate(group):
            converted = done[n]
            if converted is not None:
                results[index] = converted
            elif n < hung:
                results[index] = ParseError(FAILED)
            elif n == hung:
                results[index] = ParseError(TIMED_OUT)
        if hung + 1 < len(group):
            self._convert_group(target, group[hung + 1 :], results)

    def _run(self, target: str, inputs: list[Path], outdir: Path, log: Path) -> bool:
        """Run soffice over *inputs*; False when the watchdog had to kill it."""
        assert self._workdir is not None and self.soffice is not None
        profile = self._workdir / "profile"
        cmd = [
            *_capped(self.memory_mb), self.soffice, f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--invisible", "--nologo", "--norestore", "--nolockcheck",
            "--nodefault", "--convert-to", target, "--outdir", str(outdir),
            *map(str, inputs),
        ]  # fmt: skip
        env = {**os.environ, "HOME": str(self._workdir), "TMPDIR": str(self._workdir)}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
                cwd=self._workdir, env=env, start_new_session=True,
            )  # fmt: skip
            try:
                return _watch(proc, outdir, self.timeout_seconds)
            finally:
                _kill_group(proc)


def _capped(memory_mb: float | None) -> list[str]:
    """A command prefix that caps the address space of what it execs (and its children).

    ``sh -c 'ulimit -v …; exec "$0" "$@"'`` rather than ``preexec_fn``: Python code
    between fork and exec can deadlock when other threads exist (the daemon's web
    console), a shell cannot.
    """
    if memory_mb is None:
        return []
    kib = int(memory_mb * 1024)
    return ["/bin/sh", "-c", f'ulimit -v {kib} && ulimit -c 0 && exec "$0" "$@"']


def _key(data: bytes, kind: str) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), kind


def _hung_index(log: str, inputs: list[Path], done: list[bytes | None]) -> int:
    """Which input soffice was stuck on when it was killed.

    soffice works through its arguments in order and prints one line per file:
    ``convert IN -> OUT …`` once loaded (then it stores), or ``Error: source
    file could not be loaded``. A file named by the last convert line but without
    output hung while storing; otherwise the next file hung while loading.
    """
    lines = [line for line in log.splitlines() if line.startswith(("convert ", _LOAD_ERROR))]
    if lines and lines[-1].startswith("convert "):
        named = lines[-1].split(" -> ", 1)[0].removeprefix("convert ")
        for n, path in enumerate(inputs):
            if str(path) == named and done[n] is None:
                return n
    return len(lines)


def _output(outdir: Path, source: Path, target: str) -> bytes | None:
    out = outdir / f"{source.stem}.{target}"
    return out.read_bytes() if out.is_file() and out.stat().st_size > 0 else None


def _watch(proc: subprocess.Popen[bytes], outdir: Path, timeout: float) -> bool:
    """Wait for *proc*; kill it when no new output appeared for *timeout* seconds."""
    seen = 0
    last_progress = time.monotonic()
    while proc.poll() is None:
        time.sleep(_POLL_SECONDS)
        count = sum(1 for _ in outdir.iterdir())
        now = time.monotonic()
        if count > seen:
            seen, last_progress = count, now
        elif now - last_progress > timeout:
            logger.warning("soffice made no progress for %.0f s; killed", timeout)
            return False
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill soffice and whatever it spawned (oosplash → soffice.bin)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def convert(data: bytes, kind: str, converter: Converter | None = None) -> Document:
    """Read a legacy file into a :class:`Document` (kind kept as detected).

    doc/wps/rtf/odt are converted to docx and read by :func:`parsers.word.read_docx`;
    xls/et/ods to xlsx and read by :func:`parsers.excel.read_xlsx`; html is read
    as a table directly. Raises :class:`ParseError` subclasses with the reason.
    """
    if kind == "html":
        from parsers.html import read_html

        return read_html(data)
    if kind == "encrypted":
        raise EncryptedFile()
    if kind == "image":
        raise ScanOnly()
    if kind == "empty":
        raise ParseError("空文件")
    target = target_of(kind)
    if target is None:
        raise UnsupportedFormat(f"无法读取此类文件（{kind}）")
    if converter is None:
        with Converter() as own:
            converted = own.convert(data, kind)
    else:
        converted = converter.convert(data, kind)
    return dataclasses.replace(_read_converted(converted, target), kind=kind)


def _read_converted(data: bytes, target: str) -> Document:
    if target == "docx":
        from parsers.word import read_docx

        return read_docx(data)
    from parsers.excel import read_xlsx

    return read_xlsx(data)

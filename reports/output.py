"""Build a report for a moment and write it in the requested formats."""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.core.config import Config
from ingest.core.fsutil import atomic_write
from ingest.match.roster import load_roster
from ingest.store.db import open_db
from reports.model import StatusReport
from reports.status import build_status

FILE_STEM = "报送情况"


def build_report(cfg: Config, as_of: datetime) -> StatusReport:
    with paused_gc():
        db = open_db(cfg.db_path, cfg.schemas, cfg.campaign)
        try:
            return build_status(db, load_roster(cfg.paths.roster), cfg, as_of)
        finally:
            db.close()


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a report is built or written in a single-threaded
    process (the command line): the ~10⁶ objects of a large province's report set it off
    again and again (a tenth of the time), and they are freed by reference counting all
    the same. Where threads run (the daemon, the console) nothing changes."""
    pause = gc.isenabled() and threading.active_count() == 1
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause:
            gc.enable()


def render(report: StatusReport, fmt: str, cfg: Config) -> bytes:
    """One format as bytes (text formats UTF-8)."""
    if fmt == "json":
        from reports.render_json import render_json

        return render_json(report, cfg.campaign.timezone).encode()
    if fmt == "txt":
        from reports.render_txt import render_txt

        return render_txt(report, _cli(cfg)).encode()
    if fmt == "html":
        from reports.render_html import render_html

        return render_html(report, _cli(cfg)).encode()
    if fmt == "xlsx":
        from reports.render_xlsx import render_xlsx

        return render_xlsx(report, _cli(cfg))
    raise ValueError(fmt)


def _cli(cfg: Config) -> str:
    """The command prefix shown in ``kaohe assign …`` hints, ready to copy."""
    return f"kaohe -c {cfg.path}" if cfg.path else "kaohe"


BINARY_FORMATS = frozenset({"xlsx", "docx"})


class OutputError(Exception):
    """The output asked for cannot be written as asked (Chinese, says what to do)."""


@dataclass(frozen=True)
class OutputPlan:
    formats: list[str]
    output: str | None  # "-" (stdout), a folder, a file, or None (data_dir/reports/manual)


def plan_output(
    formats: list[str], output: str | None, stdout_is_tty: bool, known: Sequence[str]
) -> OutputPlan:
    """Settle formats and destination before anything is built or written.

    ``-o 报告.xlsx`` alone means xlsx; no format and no ``-o`` prints txt; several
    formats need a folder; a binary format is never written to a terminal.
    """
    ext = _extension(output, known)
    if not formats:
        formats = [ext] if ext else ["txt"]
        output = output or "-"
    if output == "-":
        if len(formats) != 1:
            raise OutputError("“-o -”（输出到屏幕）只能用于一种格式；多种格式请用 -o 目录")
        if formats[0] in BINARY_FORMATS and stdout_is_tty:
            raise OutputError(
                f"{formats[0]} 是二进制文件，不能显示在屏幕上；请写入文件，例如 -o 报送情况.{formats[0]}"
            )
        return OutputPlan(formats, output)
    if output is not None:
        check_parent(Path(output).expanduser())
    if output is not None and len(formats) > 1:
        check_folder(Path(output).expanduser(), ext, "、".join(formats))
    elif ext and ext != formats[0]:
        raise OutputError(
            f"文件名 {output} 的扩展名与格式 {formats[0]} 不一致；请改用 .{formats[0]}"
        )
    return OutputPlan(formats, output)


def check_parent(out: Path) -> None:
    """The file or folder named with ``-o`` may be new, but never a whole new tree:
    a typo in the path must not create folders somewhere unexpected."""
    parent = out.absolute().parent
    if not parent.is_dir():
        raise OutputError(f"输出位置 {out} 的上级目录 {parent} 不存在；请检查路径，或先创建该目录")


def check_folder(out: Path, ext: str | None, what: str) -> None:
    """Several files go to a folder: never a folder named like a file, nor an existing file."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{what} 多种格式需要写入一个目录，而 {out} 是已有的文件；请用 -o 目录名")
    if ext and not out.exists():
        raise OutputError(
            f"{what} 多种格式需要写入一个目录，{out.name} 看起来是文件名；"
            f"请用 -o 目录名（例如 -o {out.with_suffix('')}）"
        )


def format_of(output: str | None, known: Sequence[str]) -> str | None:
    """The format named by *output*'s extension (``汇总表.docx`` → docx), if known."""
    return _extension(output, known)


def _extension(output: str | None, known: Sequence[str]) -> str | None:
    if not output or output == "-":
        return None
    ext = Path(output).suffix.lower().lstrip(".")
    return ext if ext in known else None


def write_formats(
    cfg: Config, report: StatusReport, formats: list[str], output: str | None
) -> Iterator[Path]:
    """Write each format; ``output`` "-" means stdout, a directory or a file path otherwise.

    Without ``output`` files go to ``data_dir/reports/manual/``.
    """
    with paused_gc():
        yield from _write_formats(cfg, report, formats, output)


def _write_formats(
    cfg: Config, report: StatusReport, formats: list[str], output: str | None
) -> Iterator[Path]:
    if output == "-":
        sys.stdout.buffer.write(render(report, formats[0], cfg))
        sys.stdout.flush()
        return
    stamp = report.as_of.astimezone(cfg.campaign.timezone).strftime("%Y%m%d-%H%M")
    if output is None:
        folder, single = cfg.data_dir / "reports" / "manual", None
    else:
        out = Path(output).expanduser()
        is_dir = out.is_dir() or len(formats) > 1 or not out.suffix
        if not is_dir and out.exists() and not out.is_file():
            raise OutputError(f"无法写入 {out}：它不是普通文件")
        folder, single = (out, None) if is_dir else (out.parent, out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: single or folder / f"{FILE_STEM}-{stamp}.{fmt}" for fmt in formats}
    child = _fork_xlsx(report, cfg, paths["xlsx"]) if len(formats) > 1 and "xlsx" in paths else None
    if child is None:
        for fmt in formats:
            atomic_write(paths[fmt], render(report, fmt, cfg))
            yield paths[fmt]
        return
    try:  # the others while the child writes the xlsx; then all, in the order asked
        for fmt in formats:
            if fmt != "xlsx":
                atomic_write(paths[fmt], render(report, fmt, cfg))
    except BaseException:
        os.waitpid(child, 0)  # do not leave the child behind
        raise
    _wait_xlsx(child, report, cfg, paths["xlsx"])
    yield from (paths[fmt] for fmt in formats)


def _fork_xlsx(report: StatusReport, cfg: Config, path: Path) -> int | None:
    """Write the xlsx in a forked child while this process writes the other formats (the
    xlsx is the slowest: ~2 s of a 5,000-unit report). Only in a single-threaded process
    (the command line): forking beside threads (the daemon, the console) is unsafe, and
    there the formats are written one after another. None: not forked."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: write the file and leave without running the parent's exits
        code = 1
        try:
            atomic_write(path, render(report, "xlsx", cfg))
            code = 0
        finally:
            os._exit(code)
    return pid


def _wait_xlsx(pid: int, report: StatusReport, cfg: Config, path: Path) -> None:
    """The child's xlsx; written here after all if the child failed (its error, if any,
    is this process's to raise)."""
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        atomic_write(path, render(report, "xlsx", cfg))

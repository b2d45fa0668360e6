"""Build a report for a moment and write it in the requested formats."""

from __future__ import annotations

import sys
from collections.abc import Iterator
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
    db = open_db(cfg.db_path)
    try:
        return build_status(db, load_roster(cfg.paths.roster), cfg, as_of)
    finally:
        db.close()


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


def write_formats(
    cfg: Config, report: StatusReport, formats: list[str], output: str | None
) -> Iterator[Path]:
    """Write each format; ``output`` "-" means stdout, a directory or a file path otherwise.

    Without ``output`` files go to ``data_dir/reports/manual/``.
    """
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
        folder, single = (out, None) if is_dir else (out.parent, out)
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = single or folder / f"{FILE_STEM}-{stamp}.{fmt}"
        atomic_write(path, render(report, fmt, cfg))
        yield path

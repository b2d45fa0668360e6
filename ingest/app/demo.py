"""``kaohe demo``: the whole pipeline on the bundled sample inbox, no network, no config.

The sample (``ingest/app/demo_data``) is made by ``scripts/make_demo_inbox.py``:
a roster of Nanzheng units and a few dozen realistic mails, with the time
each one was received in ``manifest.json`` (file mtimes do not survive a git
clone, so the demo sets them).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path

from ingest.core.config import load_config
from ingest.store.pipeline import poll
from reports.output import build_report, write_formats

DEMO_AS_OF = "2020-03-23T08:00:00+08:00"  # a Monday morning after the deadline
MARKER = (
    ".kaohe-demo"  # written first into every demo folder; a rerun may replace only its own parts
)
MADE_BY_DEMO = ("inbox", "data", "report")  # folders a rerun clears (files are overwritten)

CONFIG = """\
# 演示配置（kaohe demo 自动生成）
[mailbox]
source = "maildir"
path = "inbox"

[campaign]
name = "2020年度考核指标申报（演示）"
deadline = "2020-03-20T23:59:59+08:00"
timezone = "Asia/Shanghai"
not_before = "2020-02-01"

[paths]
data_dir = "data"
roster = "roster.csv"
"""


class DemoFolderError(Exception):
    """Raised when ``-o DIR`` holds something that an earlier demo did not make."""


def run_demo(output: Path | None, echo: Callable[[str], None] = print) -> Path:
    """Set up a demo folder, poll the sample inbox, write the report; returns the report folder."""
    out = (output or Path(tempfile.mkdtemp(prefix="kaohe-demo-"))).resolve()
    _prepare(out)
    cfg = load_config(out / "config.toml")
    summary = poll(cfg)
    echo(summary.line())
    report = build_report(cfg, datetime.fromisoformat(DEMO_AS_OF))
    folder = out / "report"
    paths = list(write_formats(cfg, report, ["txt", "json", "xlsx", "html"], str(folder)))
    echo(paths[0].read_text(encoding="utf-8"))
    echo(f"演示报告（截至 {DEMO_AS_OF}）已生成：")
    for p in paths:
        echo(f"  {p}")
    exe = Path(sys.argv[0])
    command = str(exe.resolve()) if exe.name == "kaohe" else "kaohe"
    echo(f"演示目录：{out}")
    echo(f"可以接着试：{command} -c {out / 'config.toml'} report")
    return folder


def claim_folder(out: Path) -> None:
    """Make ``out`` a demo folder: new, empty or an earlier demo's; refuse anything else.

    Only an earlier demo folder (it holds :data:`MARKER`) has its demo-made parts
    cleared; a folder with anything else in it is left untouched, byte for byte.
    """
    if out.exists() and not out.is_dir():
        raise DemoFolderError(f"{out} 已存在且不是目录，请用 -o 指定一个新目录")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise DemoFolderError(
                f"目录 {out} 不是空目录，也不是 kaohe demo 生成的演示目录；"
                "为免覆盖其中的数据，请用 -o 指定一个新的或空的目录"
            )
        for sub in MADE_BY_DEMO:
            target = out / sub
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                shutil.rmtree(target)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("kaohe demo\n", encoding="utf-8")


def _prepare(out: Path) -> None:
    """A fresh demo folder: sample inbox with receipt times, roster, config."""
    src = resources.files("ingest.app") / "demo_data"
    claim_folder(out)
    inbox = out / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    for name, received in manifest["received"].items():
        target = inbox / name
        target.write_bytes((src / "inbox" / name).read_bytes())
        ts = datetime.fromisoformat(received).timestamp()
        os.utime(target, (ts, ts))
    (out / "roster.csv").write_bytes((src / "roster.csv").read_bytes())
    (out / "config.toml").write_text(CONFIG, encoding="utf-8")

"""``kaohe demo --campaign 2021``: a campaign learned from its blank forms, then run.

The sample (``ingest/app/demo_data/2021``) is made by ``scripts/make_demo_2021.py``:
the office's blank forms of a made-up 2021 round (new titles, renamed columns,
an annex 7), a roster and a few mails. The demo does what the clerk does next
year: ``campaign learn`` on the blank forms, a config naming the annexes.toml,
``poll``, ``report``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ingest.app.demo import claim_folder
from ingest.core.config import load_config
from ingest.core.fsutil import atomic_write
from ingest.store.pipeline import poll
from parsers.annexes_toml import describe_learned, render_toml
from parsers.learn import learn_templates
from reports.output import build_report, write_formats

CAMPAIGNS = ("2021",)
AS_OF = {"2021": "2021-03-23T08:00:00+08:00"}

CONFIG = """\
# 演示配置（kaohe demo --campaign {year} 自动生成）
[mailbox]
source = "maildir"
path = "inbox"

[campaign]
name = "{year}年度考核指标申报（演示）"
deadline = "{year}-03-20T23:59:59+08:00"
timezone = "Asia/Shanghai"
not_before = "{year}-02-01"
annexes = "annexes.toml"     # 由 kaohe campaign learn 从 blank/ 中的空白表生成

[paths]
data_dir = "data"
roster = "roster.csv"
"""


def run_campaign_demo(year: str, output: Path, echo: Callable[[str], None] = print) -> Path:
    """Learn the year's blank forms, poll its sample inbox, write the report; the report folder."""
    out = output.resolve()
    src = resources.files("ingest.app") / "demo_data" / year
    claim_folder(out)
    blank = out / "blank"
    blank.mkdir(exist_ok=True)
    files = []
    for item in sorted(src.joinpath("blank").iterdir(), key=lambda p: p.name):
        files.append((item.name, item.read_bytes()))
        (blank / item.name).write_bytes(item.read_bytes())
    echo(
        f"第一步：从 {len(files)} 张空白表学习附件定义（kaohe campaign learn blank/* -o annexes.toml）"
    )
    learned = learn_templates(files)
    echo(describe_learned(learned))
    atomic_write(out / "annexes.toml", render_toml(learned).encode("utf-8"))
    _copy_inbox(src, out)
    (out / "config.toml").write_text(CONFIG.format(year=year), encoding="utf-8")
    cfg = load_config(out / "config.toml")
    echo("第二步：收取邮件（kaohe poll）")
    echo(poll(cfg).line())
    report = build_report(cfg, datetime.fromisoformat(AS_OF[year]))
    folder = out / "report"
    paths = list(write_formats(cfg, report, ["txt", "json", "xlsx", "html"], str(folder)))
    echo(f"第三步：报送情况报告（截至 {AS_OF[year]}）")
    echo(paths[0].read_text(encoding="utf-8"))
    echo(f"演示目录：{out}（附件定义：{out / 'annexes.toml'}）")
    return folder


def _copy_inbox(src: Traversable, out: Path) -> None:
    """The sample mails with their receipt times (file mtimes do not survive a git clone)."""
    inbox = out / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(src.joinpath("manifest.json").read_text(encoding="utf-8"))
    for name, received in manifest["received"].items():
        target = inbox / name
        target.write_bytes(src.joinpath("inbox", name).read_bytes())
        ts = datetime.fromisoformat(received).timestamp()
        os.utime(target, (ts, ts))
    (out / "roster.csv").write_bytes(src.joinpath("roster.csv").read_bytes())

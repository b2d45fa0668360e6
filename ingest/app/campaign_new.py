"""``kaohe campaign new DIR --template …``: next year's round in one command.

Writes into a new folder: ``annexes.toml`` learned from the notice's blank
forms, ``空白表/`` (the forms themselves, for reference), ``roster.xlsx`` with
the roster columns (CONTRACT §3) to fill in, and ``config.toml`` whose
``[campaign]`` names them. Nothing is written into an existing non-empty folder.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import openpyxl

from ingest.core.fsutil import atomic_write
from parsers.annexes_toml import render_toml
from parsers.learn import LearnedAnnex, learn_templates
from parsers.schema import title_year

ROSTER_COLUMNS = ("单位名称", "类别", "应报附件", "邮箱", "别名", "联系人", "联系电话")

CONFIG = """\
# {name}：由 kaohe campaign new 生成。请先改好标有“请改”的几行，再运行
#   kaohe -c {config} campaign check
[mailbox]
source = "imap"
host = "imap.163.com"
username = "nzkhb@163.com"          # 请改：本办收表邮箱
password_env = "KAOHE_IMAP_PASSWORD"  # 授权码放在这个环境变量里（不要写进本文件）

[campaign]
name = "{name}"
deadline = "{deadline}"       # 请改：通知中的截止时间
timezone = "Asia/Shanghai"
not_before = "{start}"        # 这之前收到的邮件不算本次
annexes = "annexes.toml"       # 从空白表学出的附件定义（可直接修改）

[paths]
data_dir = "data"
roster = "roster.xlsx"         # 请填写：各单位名称、类别、应报附件、邮箱

[schedule]
poll_every_minutes = 10
report_at = "08:00"
"""


class CampaignFolderError(Exception):
    """Raised when DIR exists and is not empty."""


def new_campaign(
    folder: Path, templates: Sequence[tuple[str, bytes]], name: str | None = None
) -> list[LearnedAnnex]:
    """Scaffold *folder* from the blank forms; returns what was learned (with its warnings)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CampaignFolderError(f"{folder} 已存在且不是空目录，请指定一个新目录")
    learned = learn_templates(templates)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "空白表").mkdir()
    for filename, data in templates:
        atomic_write(folder / "空白表" / Path(filename).name, data)
    atomic_write(folder / "annexes.toml", render_toml(learned).encode("utf-8"))
    atomic_write(folder / "roster.xlsx", roster_template(learned))
    year = _year(learned)
    title = name or f"{year}年度考核指标申报"
    text = CONFIG.format(
        name=title, deadline=f"{year}-03-31", start=f"{year}-01-01", config=folder / "config.toml"
    )
    atomic_write(folder / "config.toml", text.encode("utf-8"))
    return learned


def _year(learned: Sequence[LearnedAnnex]) -> int:
    years = [y for a in learned if (y := title_year(a.title)) is not None]
    if years:
        return max(years)
    found = [int(m) for a in learned for m in re.findall(r"20\d\d", a.source)]
    return max(found) if found else 2021


def roster_template(learned: Sequence[LearnedAnnex]) -> bytes:
    """The roster sheet with its header and one example row to replace."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "单位名单"
    sheet.append(list(ROSTER_COLUMNS))
    numbers = "、".join(str(a.number) for a in learned if a.number is not None)
    sheet.append(["（示例，请删除）南郑区财政局", "区直部门", numbers, "nzczj@163.com", "财政局"])
    for col, width in zip("ABCDEFG", (30, 14, 12, 24, 16, 10, 16), strict=True):
        sheet.column_dimensions[col].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

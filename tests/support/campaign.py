"""A throwaway campaign for pipeline tests: roster, config and a maildir inbox in tmp_path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.core.config import Config, load_config

ROSTER = """\
单位名称,类别,应报附件,邮箱,别名,联系人,联系电话
南郑区财政局,区直部门,2、4、5、6,nzczj@163.com,财政局,杨帆,0916-5511202
南郑区发展和改革局,区直部门,4、6,nzfgj@163.com,发改局;区发改局,陈静,0916-5511201
南郑区住房和城乡建设局,区直部门,4,nzzjj@163.com,住建局,何军,0916-5511205
大河坎镇人民政府,镇（街道办）,6,dhkz2020@163.com,大河坎镇,王强,0916-5531002
南郑区委办公室,区直部门,3,qwb@163.com,区委办,刘一,0916-5511001
南郑区委,区直部门,3,,,,
"""

CONFIG = """\
[mailbox]
source = "maildir"
path = "inbox"

[campaign]
name = "测试活动"
deadline = "2020-03-20"
timezone = "Asia/Shanghai"
not_before = "2020-02-01"

[paths]
data_dir = "data"
roster = "roster.csv"
"""


@dataclass
class Campaign:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def cfg(self) -> Config:
        return load_config(self.config_path)

    def deliver(self, name: str, raw: bytes, received: str) -> Path:
        """Put a mail in the inbox with its receipt time (``2020-03-12T09:30`` in +08:00)."""
        path = self.root / "inbox" / name
        path.write_bytes(raw)
        ts = datetime.fromisoformat(received + "+08:00").timestamp()
        os.utime(path, (ts, ts))
        return path


def make_campaign(root: Path, roster: str = ROSTER, config: str = CONFIG) -> Campaign:
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    (root / "roster.csv").write_text(roster, encoding="utf-8")
    (root / "config.toml").write_text(config, encoding="utf-8")
    return Campaign(root)

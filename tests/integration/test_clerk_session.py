"""A clerk's day on the demo, with the real ``kaohe`` command: the loop of issue 11.

status → units → show an unassigned file → dismiss one → undo → assign by a short
name → add a form that came by QQ → paper copies with a Chinese date → report.
Every step's output is what the clerk reads, so it is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl

from ingest.core.config import load_config
from ingest.store.audit import list_actions
from ingest.store.clerk_base import open_store
from tests.support.forms import make_xlsx_form, sample_rows

KAOHE = str(Path(sys.executable).with_name("kaohe"))
AS_OF = "2020-03-23T08:00:00+08:00"
XCB = "中共汉中市南郑区委宣传部"
JTJ = "南郑区交通运输局"
FGJ = "南郑区发展和改革局"


def run(*args: str, code: int = 0, cwd: Path | None = None) -> str:
    res = subprocess.run([KAOHE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert res.returncode == code, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout + res.stderr


def report(config: str) -> dict[str, Any]:
    return dict(
        json.loads(run("-c", config, "report", "--as-of", AS_OF, "--format", "json", "-o", "-"))
    )


def annex(r: dict[str, Any], unit: str, n: int) -> dict[str, Any]:
    return dict(next(u for u in r["units"] if u["unit"] == unit)["annexes"][str(n)])


def test_a_clerks_day_on_the_demo(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    run("demo", "-o", str(demo))
    config = str(demo / "config.toml")

    out = run("-c", config, "status")
    assert out.startswith("状态：正常") and "已归档邮件：30 封" in out and "未运行" in out

    out = run("-c", config, "units", "财政")
    assert (
        "与“财政”匹配的 1 个单位" in out
        and "南郑区财政局" in out
        and "别名：财政局、区财政局" in out
    )

    before = report(config)
    stray, joint = before["unassigned"]
    assert (stray["filename"], joint["filename"]) == ("考核任务申报表.xlsx", "负面清单建议表.xlsx")
    assert (
        annex(before, XCB, 4)["status"] == "unparsed"
        and annex(before, JTJ, 4)["status"] == "overdue"
    )

    desk = tmp_path / "桌面"
    desk.mkdir()
    out = run("-c", config, "show", stray["attachment"][:6], cwd=desk)
    saved = desk / "考核任务申报表.xlsx"
    assert f"已保存：{saved}" in out and saved.is_file()
    openpyxl.load_workbook(saved).close()  # the clerk can open it: a real workbook

    out = run(
        "-c", config, "dismiss", joint["attachment"], "--reason", "两个单位合报，已电话请其分别报送"
    )
    assert "已排除" in out and "两个单位合报" in out
    assert [u["attachment"] for u in report(config)["unassigned"]] == [stray["attachment"]]
    out = run("-c", config, "dismiss", joint["attachment"], "--undo")
    assert "已撤销对附件" in out and "待认领" in out
    assert len(report(config)["unassigned"]) == 2

    out = run("-c", config, "assign", stray["attachment"][:8], "--unit", "宣传部", "--annex", "4")
    assert f"认领为 {XCB} 的附件4" in out and "读出" in out

    qq = tmp_path / "交通局附件4（QQ群）.xlsx"
    qq.write_bytes(make_xlsx_form(4, sample_rows(4, 4), unit_line=None))
    out = run(
        "-c",
        config,
        "add",
        str(qq),
        "--unit",
        "交通局",
        "--annex",
        "4",
        "--received",
        "2020年3月20日 17:00",
    )
    assert "收到时间记为 2020-03-20 17:00" in out and f"已解析为 {JTJ} 的附件4（读出 4 行）" in out

    out = run("-c", config, "paper", "发改局", "--annex", "2,4", "--date", "2020年3月18日")
    assert out.startswith(f"已记录：2020-03-18 收到 {FGJ} 附件2、附件4 的纸质版")

    after = report(config)
    assert [u["attachment"] for u in after["unassigned"]] == [joint["attachment"]]
    assert annex(after, XCB, 4)["status"] == "submitted" and annex(after, XCB, 4)["versions"] == 2
    assert (annex(after, JTJ, 4)["status"], annex(after, JTJ, 4)["rows"]) == ("submitted", 4)
    txt = run("-c", config, "report", "--as-of", AS_OF)
    assert "待认领附件（1 个" in txt and "考核任务申报表.xlsx" not in txt

    out = run("-c", config, "status")
    assert out.startswith("状态：正常") and "已归档邮件：31 封" in out  # the added form's wrapper

    with open_store(load_config(config)) as db:
        actions = [e.action for e in reversed(list_actions(db))]
    assert actions == ["dismiss", "dismiss_undo", "assign", "add", "paper", "paper"]

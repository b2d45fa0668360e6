"""`kaohe demo`: the bundled sample inbox shows every case the clerk meets."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ingest.app.cli import cli


def test_demo_report_lists_every_kind_of_case(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    [json_path] = (tmp_path / "demo" / "report").glob("*.json")
    report = json.loads(json_path.read_text(encoding="utf-8"))
    statuses = {a["status"] for u in report["units"] for a in u["annexes"].values()}
    assert statuses == {"submitted", "late", "unparsed", "overdue"}  # as of 23 March
    assert len(report["unassigned"]) == 2
    reasons = {a["reason"] for u in report["units"] for a in u["annexes"].values() if a["reason"]}
    assert {"加密文件，无法读取", "仅扫描件"} <= reasons
    cz = next(u for u in report["units"] if u["unit"] == "南郑区财政局")["annexes"]["4"]
    assert (cz["versions"], cz["status"]) == (2, "submitted")  # a resubmission
    # everything the demo wrote stays in its folder
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "config.toml",
        "data",
        "inbox",
        "report",
        "roster.csv",
    ]
    assert "演示报告" in res.output and str(json_path) in res.output


def test_demo_again_in_the_same_folder_starts_fresh(tmp_path: Path) -> None:
    for _ in range(2):
        res = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path)])
        assert res.exit_code == 0, res.output
    assert "新邮件 30，重复 1" in res.output

"""``kaohe demo --campaign 2021``: a campaign learned from its blank forms, then run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ingest.app.cli import cli


def test_demo_2021_learns_the_blank_forms_then_reports(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["demo", "--campaign", "2021", "-o", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "附件7  2021年度营商环境优化创新事项申报表" in res.output
    assert "附件7（营商环境优化创新事项申报表）：2/2（100%）" in res.output
    assert (
        "南郑区发展和改革局 附件2：使用了旧模板：标题是2020年度的（本次为2021年度）" in res.output
    )
    report = json.loads((tmp_path / "d" / "report").glob("*.json").__next__().read_text("utf-8"))
    spj = next(u for u in report["units"] if u["unit"] == "南郑区行政审批服务局")
    assert spj["annexes"]["7"]["versions"] == 2 and spj["annexes"]["7"]["rows"] == 2
    toml = (tmp_path / "d" / "annexes.toml").read_text("utf-8")
    assert toml.count("\n[[annex]]\n") == 3

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
        ".kaohe-demo",
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


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "1.eml").write_bytes(b"Subject: real mail\r\n\r\nbody")
    (tmp_path / "data" / "kaohe.sqlite3").write_bytes(b"SQLite format 3\x00 real archive")
    (tmp_path / "config.toml").write_text("[paths]\ndata_dir = 'data'\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("用户自己的文件", encoding="utf-8")
    before = _snapshot(tmp_path)
    res = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path)])
    assert res.exit_code == 1
    [line] = res.output.strip().splitlines()
    assert line.startswith("错误：") and str(tmp_path) in line and "新的或空的目录" in line
    assert _snapshot(tmp_path) == before  # every byte untouched, nothing added


def test_demo_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"not a folder")
    res = CliRunner().invoke(cli, ["demo", "-o", str(target)])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert target.read_bytes() == b"not a folder"


def test_demo_rerun_replaces_only_what_it_made(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (tmp_path / "data" / "leftover.txt").write_text("x", encoding="utf-8")
    (tmp_path / "mine.txt").write_text("留着", encoding="utf-8")
    res = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "data" / "leftover.txt").exists()  # data/ is the demo's own
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "留着"


def test_poll_line_tallies_each_stored_attachment_once(tmp_path: Path) -> None:
    """The demo inbox holds the same mail twice: its attachments are counted once."""
    import re
    import sqlite3

    from ingest.core.vocab import Outcome

    res = CliRunner().invoke(cli, ["demo", "-o", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    line = res.output.splitlines()[0]
    assert "重复 1" in line
    with sqlite3.connect(tmp_path / "demo" / "data" / "kaohe.db") as con:
        stored = dict(con.execute("select outcome, count(*) from attachments group by outcome"))
    tally = {
        o.value: int(m.group(1))
        for o in Outcome
        if (m := re.search(re.escape(o.label) + r" (\d+)", line))
    }
    assert tally == stored

"""The CLI's error edge: no traceback ever reaches the clerk; --debug keeps it in a file."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.app.cli.base import Ctx, KaoheGroup
from tests.support.campaign import make_campaign


def test_a_damaged_database_is_one_line(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    (tmp_path / "data").mkdir()
    c.cfg.db_path.write_bytes(b"not a database " * 200)
    res = CliRunner().invoke(cli, ["-c", str(c.config_path), "report", "-o", "-"])
    assert res.exit_code == 1
    assert res.output.startswith("错误：数据库文件已损坏或不是 kaohe 的数据库")
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def _buggy_group() -> click.Group:
    @click.group(cls=KaoheGroup)
    @click.option("-c", "config_path")
    @click.option("--debug", is_flag=True)
    @click.pass_context
    def group(ctx: click.Context, config_path: str, debug: bool) -> None:
        ctx.obj = Ctx(config_path, debug=debug)

    @group.command()
    @click.pass_obj
    def crash(obj: Ctx) -> None:
        assert obj.cfg is not None  # loads the config (and opens the --debug log)
        raise RuntimeError("a bug deep inside")

    return group


def test_a_bug_is_one_line_and_debug_writes_the_traceback(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    group = _buggy_group()
    res = CliRunner().invoke(group, ["-c", str(c.config_path), "crash"])
    assert res.exit_code == 1
    assert res.output.strip() == (
        "错误：程序内部错误：请在命令前加 --debug 重新运行，"
        "详细信息会写入 data_dir 下的 logs/kaohe-debug.log"
    )
    res = CliRunner().invoke(group, ["-c", str(c.config_path), "--debug", "crash"])
    log = tmp_path / "data" / "logs" / "kaohe-debug.log"
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip() == f"错误：程序内部错误，详细信息已写入 {log}，请发给维护人员"
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "RuntimeError: a bug deep inside" in text

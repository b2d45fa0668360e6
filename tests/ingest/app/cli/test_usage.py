"""click's usage errors reach the clerk in Chinese, with the command's usage line."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from ingest.app.cli import cli


@pytest.mark.parametrize(
    ("args", "first_line", "usage"),
    [
        (
            ["report", "-c", "x.toml"],
            "错误：没有 -c 这个选项：-c 是总选项，要写在命令前面，例如 kaohe -c … report",
            "用法：kaohe report [选项]",
        ),
        (["assign"], "错误：缺少参数 ATTACHMENT", "用法：kaohe assign [选项] ATTACHMENT"),
        (
            ["assign", "abc", "--unit", "财政局", "--annex", "9"],
            "错误：--annex 的值不对：没有附件9（本次的附件：2、3、4、5、6）",
            "用法：kaohe assign [选项] ATTACHMENT",
        ),
        (
            ["assign", "abc", "--unit", "财政局", "--annex", "四"],
            "错误：--annex 的值不对：“四”不是附件编号（应为数字，例如 4）",
            "用法：kaohe assign",
        ),
        (
            ["bogus"],
            "错误：没有“bogus”这个命令（kaohe -h 列出全部命令）",
            "用法：kaohe [选项] 命令 …",
        ),
        (
            ["--verbos"],
            "错误：没有 --verbos 这个选项（是不是想写 --verbose、--version？）",
            "用法：kaohe",
        ),
        (
            ["inspect", "x.eml", "--format", "pdf"],
            "错误：--format 的值不对：“pdf”不是可选的值（可选：txt、json）",
            "用法：kaohe inspect",
        ),
        (
            ["inspect", "/no/such.eml"],
            "错误：FILE 的值不对：“/no/such.eml”不存在",
            "用法：kaohe inspect",
        ),
        (["report", "--as-of"], "错误：选项 --as-of 后面要写一个值", None),
    ],
)
def test_usage_error_in_chinese(args: list[str], first_line: str, usage: str | None) -> None:
    res = CliRunner().invoke(cli, args, prog_name="kaohe")
    assert res.exit_code == 2
    lines = res.output.splitlines()
    assert lines[0] == first_line
    if usage:
        assert lines[1].startswith(usage) and lines[2].startswith("查看帮助：kaohe")
    assert not re.search(r"Usage:|Error:|Try '|Traceback|Invalid value", res.output)


def test_range_shapes_read_as_chinese() -> None:
    from ingest.app.cli.usage import _range, _shape

    assert _range("2<=x<=6") == "2–6"
    assert _range("x>=1") == "不小于 1"
    assert _range("0<x<=5") == "大于 0，不大于 5"
    assert _shape("7 is not in the range 2<=x<=6.") == "7 不在允许的范围内（2–6）"
    assert _shape("'a' is not a valid integer.") == "“a”不是整数"


def _all_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _all_commands(command, (*path, name))
        else:
            out.append((*path, name))
    return out


def test_every_help_page_has_chinese_headings() -> None:
    pages = _all_commands(cli)
    assert len(pages) > 10
    for path in pages:
        res = CliRunner().invoke(cli, [*path, "-h"], prog_name="kaohe")
        assert res.exit_code == 0, (path, res.output)
        assert res.output.startswith("用法：kaohe"), path
        assert "显示本帮助并退出。" in res.output, path
        assert not re.search(r"Usage:|Options:|Commands:|Show this|\[default:", res.output), path
    assert CliRunner().invoke(cli, ["--version"], prog_name="kaohe").output.startswith("kaohe 版本")

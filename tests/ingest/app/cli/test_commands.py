"""The CLI edge and the config: help for every command, clear errors naming the key."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.core.config import ConfigError, load_config
from ingest.match.roster import RosterError, load_roster
from tests.support.campaign import CONFIG, make_campaign
from tests.support.paths import REPO


def test_every_command_has_chinese_help_with_an_example() -> None:
    assert isinstance(cli, click.Group)
    for name, cmd in cli.commands.items():
        assert cmd.help, f"{name} has no help"
        res = CliRunner().invoke(cli, [name, "--help"])
        assert res.exit_code == 0, name
        assert "例" in res.output, f"{name} help has no example"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    c = make_campaign(tmp_path, config=CONFIG + "\n[schedule]\npoll_every_minute = 5\n")
    with pytest.raises(ConfigError, match="schedule.poll_every_minute"):
        load_config(c.config_path)
    res = CliRunner().invoke(cli, ["-c", str(c.config_path), "poll"])
    assert res.exit_code == 1 and "schedule.poll_every_minute" in res.output


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[limits]\nmax_archive_depth = "two"\n', "limits.max_archive_depth"),
        ("[limits]\nmax_attachment_mb = -1\n", "limits.max_attachment_mb"),
        ('[synonyms.7]\n"任务名称" = ["x"]\n', "synonyms.7"),
        ('[synonyms.4]\n"不存在的字段" = ["x"]\n', "synonyms"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, extra: str, key: str) -> None:
    c = make_campaign(tmp_path, config=CONFIG + extra)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(c.config_path)


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    cfg = load_config(c.config_path)
    assert cfg.data_dir == (tmp_path / "data").resolve()
    assert cfg.mailbox.path == (tmp_path / "inbox").resolve()
    assert cfg.campaign.deadline.isoformat() == "2020-03-20T23:59:59+08:00"


def test_poll_fails_when_the_mailbox_cannot_be_read(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    (tmp_path / "inbox").rmdir()
    res = CliRunner().invoke(cli, ["-c", str(c.config_path), "poll"])
    assert res.exit_code == 1 and "邮件目录不存在" in res.output


def test_roster_errors_name_the_row(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("单位名称,类别,应报附件\n财政局,区直部门,4、甲\n", encoding="utf-8")
    with pytest.raises(RosterError, match="第2行"):
        load_roster(p)
    p.write_text("单位,类别\n", encoding="utf-8")
    with pytest.raises(RosterError, match="单位名称"):
        load_roster(p)


def test_roster_gbk_csv_and_matching(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_bytes(
        '单位名称,类别,应报附件,邮箱,别名\n南郑区财政局,区直部门,"2,4",A@163.com；b@qq.com,财政局\n'
        "汉山街道办事处,镇（街道办）,6,,汉山街道\n".encode("gb18030")
    )
    roster = load_roster(p)
    cz = roster.units[0]
    assert cz.required == frozenset({2, 4}) and cz.emails == ("a@163.com", "b@qq.com")
    assert [u.name for u in roster.find_in_text("区 财政局（盖章）")] == ["南郑区财政局"]
    assert [u.name for u in roster.find_in_text("汉中市南郑区汉山街道")] == ["汉山街道办事处"]
    assert roster.by_email("B@QQ.com") == [cz]
    assert roster.find("财政局") is cz and roster.find("教体局") is None


def test_report_stdout_needs_one_format(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    res = CliRunner().invoke(
        cli, ["-c", str(c.config_path), "report", "--format", "json,txt", "-o", "-"]
    )
    assert res.exit_code == 1 and res.output.startswith(
        "错误：“-o -”（输出到屏幕）只能用于一种格式"
    )


def test_report_writes_every_format_under_data_dir(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    res = CliRunner().invoke(
        cli,
        [
            "-c",
            str(c.config_path),
            "report",
            "--as-of",
            "2020-03-21",
            "--format",
            "xlsx,html,txt,json",
        ],
    )
    assert res.exit_code == 0, res.output
    written = sorted(p.suffix for p in (tmp_path / "data" / "reports" / "manual").iterdir())
    assert written == [".html", ".json", ".txt", ".xlsx"]


def test_synonyms_extend_the_defaults(tmp_path: Path) -> None:
    c = make_campaign(tmp_path, config=CONFIG + '[synonyms.4]\n"任务名称" = ["重点任务"]\n')
    assert load_config(c.config_path).synonyms == {4: {"任务名称": ("重点任务",)}}


def test_config_example_loads_with_and_without_its_optional_sections(tmp_path: Path) -> None:
    """The shipped example must stay valid as keys change, including the commented parts."""
    import re

    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    (tmp_path / "config.toml").write_text(example, encoding="utf-8")
    cfg = load_config(tmp_path / "config.toml")
    assert cfg.mailbox.send_id and cfg.mailbox.post_action == "none"
    head, tail = example.split("[schedule]", 1)
    opened = re.sub(r"^# (\[|[\"\w]+ = )", r"\1", tail, flags=re.MULTILINE)
    (tmp_path / "config.toml").write_text(head + "[schedule]" + opened, encoding="utf-8")
    full = load_config(tmp_path / "config.toml")
    assert full.checks.annex4_total == 100 and full.office.contact == "宋艳丽"
    assert full.synonyms == {4: {"任务名称": ("重点任务",)}}
    assert full.limits.max_archive_depth == 2 and full.smtp.host == "smtp.163.com"

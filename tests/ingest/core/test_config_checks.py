"""Config mistakes are named as what they are, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.core.config import ConfigError, load_config
from tests.support.campaign import CONFIG, make_campaign
from tests.support.dovecot import make_certificate


def config_with(tmp_path: Path, text: str) -> Path:
    c = make_campaign(tmp_path)
    c.config_path.write_text(text, encoding="utf-8")
    return c.config_path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t + "\n[smtp]\nhost = 'smtp.163.com'\ntimeout_seconds = 0\n",
            "smtp.timeout_seconds 必须大于 0",
        ),
        (
            lambda t: t.replace('source = "maildir"', 'source = "maildir"\ntimeout_seconds = 0'),
            "mailbox.timeout_seconds 必须大于 0",
        ),
        (
            lambda t: t.replace('data_dir = "data"', 'data_dir = "no/such/parent/data"'),
            "paths.data_dir 的上级目录不存在",
        ),
        (
            lambda t: t.replace('data_dir = "data"', 'data_dir = "roster.csv"'),
            "paths.data_dir 不是目录",
        ),
        (
            lambda t: t.replace('roster = "roster.csv"', 'roster = "inbox"'),
            "paths.roster 是一个目录",
        ),
        (
            lambda t: t.replace('source = "maildir"', 'source = "maildir"\nca_file = "ca.pem"'),
            "mailbox.ca_file 指定的证书文件不存在",
        ),
        (
            lambda t: t.replace('source = "maildir"', 'source = "maildir"\nca_file = "roster.csv"'),
            "mailbox.ca_file 不是有效的证书文件",
        ),
        (
            lambda t: t.replace('source = "maildir"', 'source = "maildir"\nca_file = "inbox"'),
            "mailbox.ca_file 应为证书文件，却是目录",
        ),
    ],
)
def test_config_mistake_is_one_chinese_line(tmp_path: Path, edit: object, expected: str) -> None:
    assert callable(edit)
    path = config_with(tmp_path, edit(CONFIG))
    with pytest.raises(ConfigError, match=expected):
        load_config(path)
    res = CliRunner().invoke(cli, ["-c", str(path), "report", "-o", "-"])
    assert res.exit_code == 1
    assert res.output.startswith("错误：") and expected in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()  # a typo never starts a new archive


def test_a_readable_ca_bundle_and_a_new_data_dir_under_an_existing_parent_load(
    tmp_path: Path,
) -> None:
    cert, _key = make_certificate(tmp_path)
    path = config_with(
        tmp_path, CONFIG.replace('source = "maildir"', f'source = "maildir"\nca_file = "{cert}"')
    )
    cfg = load_config(path)
    assert cfg.mailbox.ca_file == cert and not cfg.data_dir.exists()


def test_config_path_that_is_a_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["-c", str(tmp_path), "report"])
    assert res.exit_code == 1
    assert res.output.strip() == f"错误：配置文件路径是一个目录，不是文件：{tmp_path}"

"""``kaohe poll`` while another poll runs: refused before it logs in; and, when the other
one takes the lock between that look and the poll's own lock, refused by the lock with
its parse worker stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.app.cli import commands as poll_command
from ingest.core.config import load_config
from ingest.core.lock import hold_lock, is_held, refuse_if_held
from tests.support.campaign import make_campaign
from tests.support.dovecot import PASSWORD_ENV, ROSTER_CSV, config_text
from tests.support.imap_proxy import ClosingPort

HELD = "另一个收信过程正在进行"


def test_refused_before_logging_in_to_the_mailbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = ClosingPort().start()
    try:
        (tmp_path / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
        mailbox = {"source": "imap", "host": "127.0.0.1", "port": listener.port, "ssl": False,
                   "username": "clerk", "password_env": PASSWORD_ENV, "timeout_seconds": 5.0}  # fmt: skip
        config = tmp_path / "config.toml"
        config.write_text(config_text(mailbox), encoding="utf-8")
        monkeypatch.setenv(PASSWORD_ENV, "secret")
        data_dir = load_config(config).data_dir

        # without the lock held the poll does reach the port (and fails: nothing answers)
        free = CliRunner().invoke(cli, ["-c", str(config), "poll"])
        assert free.exit_code == 1 and listener.connections >= 1, free.output
        before = listener.connections

        with hold_lock(data_dir, "poll"):  # the daemon's poll, say
            res = CliRunner().invoke(cli, ["-c", str(config), "poll"])
        assert res.exit_code == 1
        assert res.output.startswith("错误：") and HELD in res.output, res.output
        assert "Traceback" not in res.output
        assert listener.connections == before, "it logged in although another poll runs"
    finally:
        listener.stop()


def test_refused_by_the_lock_after_a_race_stops_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make_campaign(tmp_path)
    data_dir = load_config(c.config_path).data_dir
    # the other poll takes the lock just after this one looked
    monkeypatch.setattr(poll_command, "refuse_if_held", lambda *_: None)
    with hold_lock(data_dir, "poll"):
        res = CliRunner().invoke(cli, ["-c", str(c.config_path), "poll"])
    assert res.exit_code == 1 and HELD in res.output, res.output
    scratch = data_dir / ".parse"
    assert scratch.is_dir()  # the pool was made (its first worker started) ...
    assert list(scratch.iterdir()) == []  # ... and closed: its scratch folder is gone


def test_refuse_if_held_only_while_held(tmp_path: Path) -> None:
    refuse_if_held(tmp_path, "poll")  # no lock file yet
    with hold_lock(tmp_path, "poll"):
        assert is_held(tmp_path, "poll")
        with pytest.raises(Exception, match=HELD):
            refuse_if_held(tmp_path, "poll")
    refuse_if_held(tmp_path, "poll")

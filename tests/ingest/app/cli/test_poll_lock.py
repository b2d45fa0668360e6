"""``kaohe poll`` while another poll runs: refused before it logs in; and, when the other
one takes the lock between that look and the poll's own lock, refused by the lock with
its parse worker stopped."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.app.cli import commands as poll_command
from ingest.core.config import load_config
from ingest.core.lock import hold_lock, is_held, refuse_if_held
from tests.support.campaign import make_campaign
from tests.support.dovecot import PASSWORD_ENV, ROSTER_CSV, config_text

HELD = "另一个收信过程正在进行"


class _Listener:
    """A TCP port that counts the connections made to it (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_refused_before_logging_in_to_the_mailbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = _Listener()
    try:
        (tmp_path / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
        mailbox = {"source": "imap", "host": "127.0.0.1", "port": listener.port, "ssl": False,
                   "username": "clerk", "password_env": PASSWORD_ENV, "timeout_seconds": 5.0}  # fmt: skip
        config = tmp_path / "config.toml"
        config.write_text(config_text(mailbox), encoding="utf-8")
        monkeypatch.setenv(PASSWORD_ENV, "secret")
        data_dir = load_config(config).data_dir

        # the check itself: it fails while the port is reached (the poll below logs in)
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
        listener.close()


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

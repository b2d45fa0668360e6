"""``kaohe user add/list/remove``, ``serve``, and the ``[web]`` config section."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.core.config import ConfigError, load_config
from tests.support.campaign import CONFIG, make_campaign
from tests.support.console import free_port

KAOHE = str(Path(sys.executable).parent / "kaohe")


def run(config: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-c", str(config), *args], input=input)
    return result.exit_code, result.output


def test_user_add_asks_twice_then_list_and_remove(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    code, out = run(
        c.config_path, "user", "add", "张三", "--role", "clerk", input="s3cret-pass\ns3cret-pass\n"
    )
    assert code == 0 and "已添加账号 张三（经办人）" in out
    assert "s3cret-pass" not in out
    code, out = run(
        c.config_path, "user", "add", "李四", "--role", "viewer", input="one-pass-1\nother-pass\n"
    )
    assert code != 0 or "不一致" in out or "do not match" in out.lower()
    code, out = run(c.config_path, "user", "list")
    assert code == 0 and "张三\tclerk（经办人）" in out and "李四" not in out
    code, out = run(c.config_path, "user", "add", "张三", input="s3cret-pass\ns3cret-pass\n")
    assert code == 1 and "错误：账号“张三”已存在" in out
    code, out = run(c.config_path, "user", "remove", "张三")
    assert code == 0 and "已删除账号 张三" in out
    code, out = run(c.config_path, "user", "remove", "张三")
    assert code == 1 and "错误：没有账号“张三”" in out
    assert (tmp_path / "data" / "users.db").is_file()  # under data_dir, nowhere else


def test_short_password_is_refused(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    code, out = run(c.config_path, "user", "add", "张三", input="short\nshort\n")
    assert code == 1 and "错误：密码太短" in out


@pytest.mark.parametrize(
    "web,words",
    [
        ('listen = "8080"', "web.listen"),
        ('listen = "127.0.0.1:99999"', "web.listen"),
        ('listen = "127.0.0.1:"', "web.listen"),
        ('tls_cert = "missing.crt"\ntls_key = "missing.key"', "web.tls_cert 指定的文件不存在"),
        ('tls_cert = "x.crt"', "同时设置"),
        ("port = 8080", "未知的配置项 web.port"),
        ("enabled = 1", "web.enabled"),
    ],
)
def test_web_config_errors_name_the_key(tmp_path: Path, web: str, words: str) -> None:
    c = make_campaign(tmp_path, config=CONFIG + "\n[web]\n" + web + "\n")
    with pytest.raises(ConfigError, match=words):
        load_config(c.config_path)


def test_web_config_defaults_and_tls(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    web = load_config(c.config_path).web
    assert (web.enabled, web.host, web.port, web.tls) == (False, "127.0.0.1", 8080, False)
    (tmp_path / "web.crt").write_text("x")
    (tmp_path / "web.key").write_text("x")
    c = make_campaign(
        tmp_path,
        config=CONFIG
        + '\n[web]\nlisten = "[::1]:8443"\ntls_cert = "web.crt"\ntls_key = "web.key"\n',
    )
    web = load_config(c.config_path).web
    assert (web.host, web.port, web.tls, web.tls_cert) == ("::1", 8443, True, tmp_path / "web.crt")


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode()


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            return _get(url)[1]
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.mark.parametrize("command", ["serve", "run"])
def test_serve_and_run_serve_the_console_and_stop_on_sigterm(tmp_path: Path, command: str) -> None:
    port = free_port()
    c = make_campaign(
        tmp_path, config=CONFIG + f'\n[web]\nenabled = true\nlisten = "127.0.0.1:{port}"\n'
    )
    proc = subprocess.Popen(
        [KAOHE, "-c", str(c.config_path), command], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        page = _wait_up(f"http://127.0.0.1:{port}/login", proc)
        assert "还没有任何账号" in page and "user add 张三 --role clerk" in page
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert not list(tmp_path.glob("*.db")) and not (tmp_path / "users.db").exists()


def test_serve_on_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        c = make_campaign(tmp_path, config=CONFIG + f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
        done = subprocess.run(
            [KAOHE, "-c", str(c.config_path), "serve"], capture_output=True, timeout=30
        )
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "Traceback" not in err and f"错误：无法在 127.0.0.1:{port} 上提供网页" in err

"""Where the 授权码 comes from, and that it never shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.core.secrets import Secret, SecretError, load_secret, read_secret

CODE = "XKQWERTYUIOPAS12"


def private_file(tmp_path: Path, mode: int, text: str = CODE + "\n") -> Path:
    p = tmp_path / "imap.secret"
    p.write_text(text)
    os.chmod(p, mode)
    return p


def test_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAOHE_T_PW", CODE)
    assert read_secret("KAOHE_T_PW", None, "邮箱授权码") == CODE


def test_private_file_is_read_and_stripped(tmp_path: Path) -> None:
    assert read_secret("", private_file(tmp_path, 0o600), "邮箱授权码") == CODE
    assert read_secret("", private_file(tmp_path, 0o400), "邮箱授权码") == CODE


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    p = private_file(tmp_path, mode)
    with pytest.raises(SecretError) as info:
        read_secret("", p, "邮箱授权码")
    assert f"chmod 600 {p}" in str(info.value)
    assert "权限过宽" in str(info.value)
    assert CODE not in str(info.value)


def test_missing_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAOHE_T_PW", raising=False)
    with pytest.raises(SecretError, match="环境变量 KAOHE_T_PW 未设置"):
        read_secret("KAOHE_T_PW", None, "邮箱授权码")
    with pytest.raises(SecretError, match="不存在"):
        read_secret("", tmp_path / "nope", "邮箱授权码")
    with pytest.raises(SecretError, match="password_env"):
        read_secret("", None, "邮箱授权码")
    with pytest.raises(SecretError, match="是空的"):
        read_secret("", private_file(tmp_path, 0o600, "\n"), "邮箱授权码")


def test_unset_variable_falls_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAOHE_T_PW", raising=False)
    assert read_secret("KAOHE_T_PW", private_file(tmp_path, 0o600), "x") == CODE


def test_secret_never_prints_itself(tmp_path: Path) -> None:
    s = load_secret("", private_file(tmp_path, 0o600), "邮箱授权码")
    assert s.reveal() == CODE
    for text in (str(s), repr(s), f"{s}", f"{s!r}", str([s]), str({"pw": s})):
        assert CODE not in text
    assert s == Secret(CODE)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s)


def test_imap_source_refuses_a_world_readable_password_file(tmp_path: Path) -> None:
    from ingest.core.config import MailboxConfig
    from ingest.mail.sources.base import LoginFailed
    from ingest.mail.sources.imap import ImapSource

    p = private_file(tmp_path, 0o644)
    # host 127.0.0.1:9 is never contacted: the file is checked before connecting
    src = ImapSource(MailboxConfig(host="127.0.0.1", port=9, username="u@163.com", password_file=p))
    with pytest.raises(LoginFailed, match=f"chmod 600 {p}"):
        next(src.fetch_new(None))  # type: ignore[arg-type]
    src.close()

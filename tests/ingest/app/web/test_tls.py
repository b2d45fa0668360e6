"""``[web] tls_cert``/``tls_key``: the console speaks HTTPS itself and its cookie is Secure."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from ingest.app.web.server import make_server
from ingest.core.config import Config, load_config
from tests.support.console import CLERK, CLERK_PASSWORD, free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI"):
            pytest.fail("openssl 未安装：apt-get install -y openssl")
        pytest.skip("openssl not installed")
    cert, key = folder / "web.crt", folder / "web.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_with_a_secure_cookie(cfg: Config) -> None:
    cert, key = self_signed(cfg.data_dir.parent)
    port = free_port()
    config = cfg.path
    assert config is not None
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[web]\nlisten = "127.0.0.1:{port}"\ntls_cert = "{cert}"\ntls_key = "{key}"\n',
        encoding="utf-8",
    )
    server = make_server(load_config(config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}",
            verify=ssl.create_default_context(cafile=str(cert)),
        ) as client:
            r = client.post("/login", data={"username": CLERK, "password": CLERK_PASSWORD})
            assert r.status_code == 303
            cookie = r.headers["set-cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert client.get("/api/session").json()["user"] == CLERK
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)  # no plain http on that port
    finally:
        server.should_exit = True
        thread.join(timeout=10)

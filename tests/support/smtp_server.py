"""A real local SMTP server (aiosmtpd) with TLS and AUTH, for the mail-out tests.

The certificate is made per session with the ``openssl`` command for
``127.0.0.1``/``localhost``; clients verify it through ``smtp.ca_file``, the
same path production takes with an internal CA.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

PASSWORD = "AuthCode-test-42"
USER = "nzkhb@163.com"
PASSWORD_ENV = "KAOHE_TEST_SMTP_PASSWORD"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path
    handler: Handler
    logins: list[tuple[str, bool]]
    implicit_tls: bool

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def config(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "ssl": self.implicit_tls,
            "starttls": not self.implicit_tls,
            "username": USER,
            "password_env": PASSWORD_ENV,
            "ca_file": str(self.ca_file),
            "timeout_seconds": 10,
        }


def make_certificate(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, implicit_tls: bool) -> Iterator[SmtpServer]:
    cert, key = make_certificate(folder)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    logins: list[tuple[str, bool]] = []

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USER
            and auth_data.password.decode() == PASSWORD
        )
        logins.append((mechanism, ok))
        # handled=False: aiosmtpd itself answers 535 (True would leave the client waiting)
        return AuthResult(success=ok, handled=False)

    handler = Handler()
    port = free_port()
    kwargs: dict[str, Any] = {"authenticator": authenticate, "auth_required": True}
    if implicit_tls:
        # aiosmtpd does not see the implicit TLS layer; AUTH still only travels inside it.
        kwargs["auth_require_tls"] = False
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=ctx, **kwargs)
    else:
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            tls_context=ctx,
            require_starttls=True,
            **kwargs,
        )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, cert, handler, logins, implicit_tls)
    finally:
        controller.stop()


@pytest.fixture(params=["ssl", "starttls"])
def smtp_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SmtpServer]:
    """A TLS SMTP server on loopback (implicit TLS and STARTTLS); the password is in env."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    yield from start_server(tmp_path_factory.mktemp("smtp"), request.param == "ssl")


@pytest.fixture
def smtps(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SmtpServer]:
    """Implicit TLS only (port 465 style, as 163.com)."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    yield from start_server(tmp_path_factory.mktemp("smtps"), True)


def smtp_toml(server: SmtpServer) -> str:
    return (
        f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nssl = true\n'
        f'username = "{USER}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'ca_file = "{server.ca_file}"\ntimeout_seconds = 10\n'
    )

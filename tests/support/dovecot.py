"""A throwaway Dovecot for integration tests: real IMAP on 127.0.0.1, no mocks.

``DovecotServer`` writes its own config, passwd-file user, Maildir and a
self-signed certificate into a temporary folder and runs ``dovecot -F`` on two
free ports: plain IMAP (for STARTTLS) and implicit TLS. When the tests run as
root (CI), Dovecot runs as ``nobody`` so its mail processes are not uid 0.

Helpers append messages with a chosen INTERNALDATE, read flags, delete and
recreate a folder (new UIDVALIDITY) and stop/start the server.

When Dovecot is not installed, ``require_dovecot()`` fails the test in CI (env
``CI`` set) with the apt command, and skips it elsewhere.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

from ingest.core.config import MailboxConfig

DOVECOT = "/usr/sbin/dovecot"
MISSING = "Dovecot missing: apt-get install -y dovecot-imapd"
USER = "clerk@kaohe.test"
PASSWORD = "auth-code-Zq7xK2pL9"  # the test account's 授权码
PASSWORD_ENV = "KAOHE_TEST_IMAP_PASSWORD"


def require_dovecot() -> None:
    """Fail (CI) or skip (elsewhere) when Dovecot is not installed."""
    if shutil.which("dovecot") or os.path.exists(DOVECOT):
        return
    if os.environ.get("CI"):
        pytest.fail(MISSING)
    pytest.skip(MISSING)


def free_ports(n: int) -> list[int]:
    """*n* distinct free ports: every socket is held until all are picked (two picks one
    after the other can get the same port back)."""
    with ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


PORT_TAKEN = ("Address already in use", "duplicate listener")  # Dovecot's words for it
START_TRIES = 4


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (cert, key) via the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{root}/mail/%n
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  chroot =
}}
"""


class DovecotServer:
    """One Dovecot process with one user and one Maildir, all under *root*."""

    host = "127.0.0.1"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.imap_port, self.imaps_port = free_ports(2)
        self.proc: subprocess.Popen[bytes] | None = None
        self._account = self._run_as()
        self._write_files()

    # ------------------------------------------------------------------ set-up

    @staticmethod
    def _run_as() -> pwd.struct_passwd:
        """Dovecot refuses mail access as uid 0: as root, run everything as nobody."""
        if os.geteuid() == 0:
            return pwd.getpwnam("nobody")
        return pwd.getpwuid(os.geteuid())

    def _write_files(self) -> None:
        acct = self._account
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.ca_file, _ = make_certificate(self.root)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self._write_conf()
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, acct.pw_uid, acct.pw_gid)

    def _write_conf(self) -> None:
        import grp

        acct = self._account
        (self.root / "dovecot.conf").write_text(
            CONF.format(
                root=self.root,
                user=acct.pw_name,
                group=grp.getgrgid(acct.pw_gid).gr_name,
                uid=acct.pw_uid,
                gid=acct.pw_gid,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
            )
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start Dovecot and wait until both ports answer. A port another process took
        between its pick and Dovecot's bind (the suite runs servers side by side) is
        picked again, up to :data:`START_TRIES` times."""
        for attempt in range(1, START_TRIES + 1):
            try:
                return self._start_once()
            except RuntimeError as e:
                if attempt == START_TRIES or not any(w in str(e) for w in PORT_TAKEN):
                    raise
            self.proc = None
            for name in ("dovecot.log", "stderr.log"):  # the next try's words only
                (self.root / name).unlink(missing_ok=True)
            self.imap_port, self.imaps_port = free_ports(2)
            self._write_conf()

    def _start_once(self) -> None:
        assert self.proc is None, "already running"
        kwargs: dict[str, object] = {}
        if os.geteuid() == 0:
            kwargs = {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        self.proc = subprocess.Popen(  # type: ignore[call-overload]
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "ab"),
            start_new_session=True,
            **kwargs,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log_tail()}")
            if self._answers(self.imap_port) and self._answers(self.imaps_port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log_tail()}")

    def stop(self) -> None:
        """Take the server down hard, every process of it, so open connections drop; idempotent.

        Dovecot's master leaves running imap processes behind when it is
        terminated, so the whole process group is killed.
        """
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None
        deadline = time.monotonic() + 10
        while self._answers(self.imap_port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _answers(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("dovecot.log", "stderr.log"):
            p = self.root / name
            if p.exists():
                text += p.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------ clients

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    @contextmanager
    def admin(self) -> Iterator[IMAPClient]:
        """A logged-in imapclient connection for setting up and inspecting the mailbox."""
        client = IMAPClient(
            self.host, self.imaps_port, ssl=True, ssl_context=self.ssl_context(), timeout=10
        )
        client.login(USER, PASSWORD)
        try:
            yield client
        finally:
            try:
                client.logout()
            except Exception:
                client.shutdown()

    def mailbox_config(self, **overrides: object) -> MailboxConfig:
        """A MailboxConfig for this server (implicit TLS, verified with the test CA)."""
        cfg = MailboxConfig(
            source="imap",
            host=self.host,
            port=self.imaps_port,
            ssl=True,
            starttls=False,
            username=USER,
            password_env=PASSWORD_ENV,
            folder="INBOX",
            send_id=True,
            ca_file=self.ca_file,
            timeout_seconds=10.0,
            batch_size=7,
        )
        return replace(cfg, **overrides)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ mailbox

    def append(
        self, raw: bytes, when: datetime, folder: str = "INBOX", flags: Sequence[bytes] = ()
    ) -> int:
        """APPEND *raw* with INTERNALDATE *when*; returns its UID (UIDPLUS)."""
        with self.admin() as c:
            resp = c.append(folder, raw, flags=tuple(flags), msg_time=when)
        # b"[APPENDUID <uidvalidity> <uid>] Append completed."
        return int(resp.split(b"]")[0].split()[-1])

    def append_many(self, items: Sequence[tuple[bytes, datetime]], folder: str = "INBOX") -> None:
        with self.admin() as c:
            for raw, when in items:
                c.append(folder, raw, msg_time=when)

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.admin() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            data = c.fetch(uids, ["FLAGS"]) if uids else {}
        # \Recent is per session, not something a client sets: leave it out
        return {
            uid: tuple(sorted(f for f in v[b"FLAGS"] if f != b"\\Recent"))
            for uid, v in data.items()
        }

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.admin() as c:
            return int(c.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def recreate_folder(self, folder: str) -> None:
        """Delete and recreate *folder*: its UIDVALIDITY changes, UIDs start again at 1."""
        with self.admin() as c:
            if c.folder_exists(folder):
                c.delete_folder(folder)
            c.create_folder(folder)

    def create_folder(self, folder: str) -> None:
        with self.admin() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)

    def count(self, folder: str = "INBOX") -> int:
        with self.admin() as c:
            return int(c.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])


@contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    """Start a fresh Dovecot in its own temp folder; stop and remove it afterwards."""
    require_dovecot()
    root = Path(tempfile.mkdtemp(prefix="kaohe-dovecot-"))
    server = DovecotServer(root)
    try:
        server.start()
        os.environ[PASSWORD_ENV] = PASSWORD
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- a whole config

ROSTER_CSV = """单位名称,类别,应报附件,邮箱
南郑区财政局,区直部门,4、6,nzczj@163.com
南郑区发展和改革局,区直部门,4,nzfgj@163.com
南郑区教育局,区直部门,4、6,nzjyj@163.com
汉山街道办事处,镇（街道办）,2、5,hsjd@163.com
"""


def write_config(server: DovecotServer, where: Path, **mailbox: object) -> Path:
    """Write a complete kaohe config for *server* into folder *where* (roster, data_dir, mailbox).

    *mailbox* overrides ``[mailbox]`` keys. Returns the config path."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
    values: dict[str, object] = {
        "source": "imap",
        "host": server.host,
        "port": server.imaps_port,
        "ssl": True,
        "username": USER,
        "password_env": PASSWORD_ENV,
        "folder": "INBOX",
        "ca_file": str(server.ca_file),
        "timeout_seconds": 10.0,
        "batch_size": 7,
    }
    values.update(mailbox)
    path = where / "config.toml"
    path.write_text(config_text(values, schedule=True), encoding="utf-8")
    return path


def config_text(
    mailbox: dict[str, object], *, not_before: str | None = None, schedule: bool = False
) -> str:
    """A complete kaohe config (TOML): [mailbox] from *mailbox*, the 2020 campaign,
    ``data/`` and ``roster.csv`` beside the config file."""
    lines = (
        ["[mailbox]"]
        + [f"{k} = {_toml(v)}" for k, v in mailbox.items()]
        + [
            "",
            "[campaign]",
            'name = "2020年度考核指标申报"',
            'deadline = "2020-03-20T23:59:59+08:00"',
            'timezone = "Asia/Shanghai"',
            *([f'not_before = "{not_before}"'] if not_before else []),
            "",
            "[paths]",
            'data_dir = "data"',
            'roster = "roster.csv"',
            "",
        ]
    )
    if schedule:
        lines += ["[schedule]", "poll_every_minutes = 10", 'report_at = "08:00"', ""]
    return "\n".join(lines)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

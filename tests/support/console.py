"""The web console on the demo campaign: data, accounts, and a real server in a thread.

root = console_campaign(tmp_path)        # kaohe demo + a hostile mail + accounts
with running_console(load_config(root / "config.toml")) as base_url: ...
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import uvicorn

from ingest.app.demo import run_demo
from ingest.app.web import create_app
from ingest.core.config import Config, load_config
from ingest.store.pipeline import poll
from ingest.store.users import add_user, open_users
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

CLERK, CLERK_PASSWORD = "张三", "zhangsan-2020"
VIEWER, VIEWER_PASSWORD = "李四", "lisi-2020-ro"
HOSTILE_NAME = "<img src=x onerror=alert(1)>.xlsx"
HOSTILE_SUBJECT = "<script>alert(2)</script>表格"
RECEIVED = datetime.fromisoformat("2020-03-19T10:00:00+08:00")


def console_campaign(root: Path) -> Path:
    """The demo campaign in *root* (2 unassigned items) plus a third whose name is markup."""
    run_demo(root, echo=lambda _: None)
    form = make_xlsx_form(4, sample_rows(4, 3), unit_line=None)
    raw = make_mail(
        sender="12345678@qq.com",
        sender_name="<b>某人</b>",
        subject=HOSTILE_SUBJECT,
        attachments=[(HOSTILE_NAME, form)],
        name_style="utf8",
        date=RECEIVED,
    )
    path = root / "inbox" / "hostile.eml"
    path.write_bytes(raw)
    os.utime(path, (RECEIVED.timestamp(), RECEIVED.timestamp()))
    cfg = load_config(root / "config.toml")
    poll(cfg)
    conn = open_users(cfg.data_dir)
    try:
        add_user(conn, CLERK, "clerk", CLERK_PASSWORD)
        add_user(conn, VIEWER, "viewer", VIEWER_PASSWORD)
    finally:
        conn.close()
    return root / "config.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_console(cfg: Config) -> Iterator[str]:
    """uvicorn serving the console on a free loopback port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""Running the console: uvicorn in the foreground (``kaohe serve``) or in a thread (``kaohe run``).

The web process reads the database and the roster; it never reads the IMAP
password (the config holds only where that secret is, and nothing here asks).
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading

import uvicorn

from ingest.app.web.app import create_app
from ingest.core.config import Config

log = logging.getLogger("kaohe.web")


def make_server(cfg: Config) -> uvicorn.Server:
    """A uvicorn server for the console on ``[web] listen``, with TLS when configured."""
    web = cfg.web
    config = uvicorn.Config(
        create_app(cfg),
        host=web.host,
        port=web.port,
        ssl_certfile=str(web.tls_cert) if web.tls_cert else None,
        ssl_keyfile=str(web.tls_key) if web.tls_key else None,
        proxy_headers=True,  # X-Forwarded-Proto from a local nginx (forwarded_allow_ips 127.0.0.1)
        server_header=False,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def address(cfg: Config) -> str:
    scheme = "https" if cfg.web.tls else "http"
    return f"{scheme}://{cfg.web.listen}/"


def check_address(cfg: Config) -> None:
    """Fail with one Chinese line (OSError) when ``[web] listen`` cannot be bound."""
    family = socket.AF_INET6 if ":" in cfg.web.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((cfg.web.host, cfg.web.port))
        except OSError as e:
            why = "端口已被占用" if e.errno == errno.EADDRINUSE else "这个地址不属于本机或无权使用"
            raise OSError(f'{why}（[web] listen = "{cfg.web.listen}"）') from None


def serve(cfg: Config) -> None:
    """Serve until SIGTERM/SIGINT, then return (exit status 0).

    uvicorn shuts down gracefully on the signal, then re-raises it to the handler it
    found; a quiet handler here makes that a normal return instead of death by signal.
    """
    check_address(cfg)
    log.info("经办人网页已启动：%s", address(cfg))
    server = make_server(cfg)
    quiet = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in quiet.items():
            signal.signal(sig, handler)
    if not server.started:
        raise OSError("服务未能启动，详见上面的日志")


class BackgroundServer:
    """The console in a daemon thread, for ``kaohe run``; :meth:`stop` ends it."""

    def __init__(self, cfg: Config) -> None:
        self.server = make_server(cfg)
        self.thread = threading.Thread(target=self.server.run, name="kaohe-web", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

"""Network doubles for the IMAP tests: a proxy that behaves like 163.com, and a black hole.

``NeteaseProxy`` terminates TLS with the test certificate (as imap.163.com
does on port 993), forwards commands to a real Dovecot over plain IMAP and
answers ``SELECT``/``EXAMINE`` like 163 does when the client did not send
``ID`` first in that connection::

    tag NO SELECT Unsafe Login. Please contact kefu@188.com for help

Everything else passes through unchanged, so the client really talks to
Dovecot. ``BlackHole`` accepts TCP connections and never says a word;
``ClosingPort`` closes each at once and counts them.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
from pathlib import Path
from typing import Self

UNSAFE = b"NO SELECT Unsafe Login. Please contact kefu@188.com for help"
_COMMAND = re.compile(rb"^(\S+) (?:UID )?([A-Za-z]+)", re.IGNORECASE)
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class _Listener:
    """A loopback listening socket served by a daemon thread, one thread per connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._stopped = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopped.set()
        self.sock.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


class BlackHole(_Listener):
    """Accepts connections and never answers (a dead server behind a live firewall)."""

    def serve(self, conn: socket.socket) -> None:
        self._stopped.wait()


class ClosingPort(_Listener):
    """Accepts connections and closes each at once; counts them (was a login tried?)."""

    @property
    def connections(self) -> int:
        return len(self._conns)

    def serve(self, conn: socket.socket) -> None:
        return


class NeteaseProxy(_Listener):
    """TLS in front, plain IMAP to Dovecot behind; refuses SELECT/EXAMINE before ID."""

    def __init__(self, upstream_port: int, cert: Path, key: Path) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.refused = 0  # SELECT/EXAMINE answered with "Unsafe Login"
        self.ids_seen = 0
        self.commands: list[bytes] = []  # verb and arguments of each command line, tag removed

    def serve(self, conn: socket.socket) -> None:
        client = self.tls.wrap_socket(conn, server_side=True)
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        write_lock = threading.Lock()
        back = threading.Thread(
            target=self._pump_back, args=(upstream, client, write_lock), daemon=True
        )
        back.start()
        try:
            self._pump_commands(client.makefile("rb"), upstream, client, write_lock)
        finally:
            upstream.close()
            client.close()

    def _pump_back(
        self, upstream: socket.socket, client: ssl.SSLSocket, lock: threading.Lock
    ) -> None:
        try:
            while data := upstream.recv(65536):
                with lock:
                    client.sendall(data)
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump_commands(
        self, reader: object, upstream: socket.socket, client: ssl.SSLSocket, lock: threading.Lock
    ) -> None:
        said_id = False
        readline = reader.readline  # type: ignore[attr-defined]
        read = reader.read  # type: ignore[attr-defined]
        while line := readline(65536):
            m = _COMMAND.match(line)
            verb = m.group(2).upper() if m else b""
            if m:
                text = b"LOGIN ***" if verb == b"LOGIN" else line[len(m.group(1)) + 1 :].rstrip()
                self.commands.append(text)
            if verb == b"ID":
                said_id = True
                self.ids_seen += 1
            if verb in (b"SELECT", b"EXAMINE") and not said_id and m:
                self.refused += 1
                with lock:
                    client.sendall(m.group(1) + b" " + UNSAFE + b"\r\n")
                continue
            upstream.sendall(line)
            while lit := _LITERAL.search(line):  # a literal follows: pass it through as is
                upstream.sendall(read(int(lit.group(1))))
                line = readline(65536)
                upstream.sendall(line)

"""The test Dovecot's ports: the suite starts servers side by side, and CI once failed
with "duplicate listener" (two ports picked one after the other came back the same)."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

from tests.support.dovecot import DovecotServer, free_ports, require_dovecot


def test_ports_picked_together_are_distinct() -> None:
    ports = free_ports(50)
    assert len(set(ports)) == 50 and all(p > 0 for p in ports)


def test_a_port_taken_before_the_start_is_picked_again() -> None:
    """Another process binds the port between its pick and Dovecot's start: Dovecot
    exits ("Address already in use"); the server picks new ports and starts."""
    require_dovecot()
    root = Path(tempfile.mkdtemp(prefix="kaohe-dovecot-"))
    server = DovecotServer(root)
    taken = server.imap_port
    try:
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", taken))
            squatter.listen()
            server.start()
            assert taken not in (server.imap_port, server.imaps_port)
            assert server.imap_port != server.imaps_port
            assert server.count() == 0  # a real login over implicit TLS on the new port
            assert f"port = {server.imap_port}" in (root / "dovecot.conf").read_text()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

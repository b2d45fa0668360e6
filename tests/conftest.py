"""Fixtures shared by every test folder; helpers live in ``tests/support/``."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support.smtp_server import smtp_server, smtps  # noqa: F401  (pytest fixtures)


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """A command run in a test (``--debug``, ``-v``, the daemon) may set the root logger's
    level and add handlers, a file in that test's folder among them: undone after the
    test, so the next one starts from the same logging state."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)

"""Fixtures shared by every test folder; helpers live in ``tests/support/``."""

from tests.support.smtp_server import smtp_server, smtps  # noqa: F401  (pytest fixtures)

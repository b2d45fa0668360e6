"""The ``kaohe`` command line: the clerk's and the administrator's interface.

The group lives in :mod:`ingest.app.cli.base`; each module below adds its
commands to it when imported, so importing this package wires the whole CLI.
"""

from ingest.app.cli import (  # noqa: F401  (registers the commands)
    campaign,
    clerk,
    commands,
    export,
    mail,
    web,
)
from ingest.app.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point (``kaohe``)."""
    cli(prog_name="kaohe")

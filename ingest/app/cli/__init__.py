"""The ``kaohe`` command line: the clerk's and the administrator's interface.

The group lives in :mod:`ingest.app.cli.base`; each module below adds its
commands to it when imported, so importing this package wires the whole CLI.
"""

import gc

# Importing the CLI makes long-lived objects only (modules, classes, the commands): no
# cyclic collection while it runs (~30 collections), and they are frozen after it, out of
# the collector's way — else the next collections walk all of them, twice (~8 ms of every
# command's start in all).
_collecting = gc.isenabled()
gc.disable()
try:
    from ingest.app.cli import (  # noqa: F401  (registers the commands)
        campaign,
        clerk,
        commands,
        export,
        mail,
        web,
    )
    from ingest.app.cli.base import cli
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point (``kaohe``)."""
    try:
        cli(prog_name="kaohe")
    finally:
        # One collection finalises the garbage now; what is left is reachable and
        # about to go: frozen, the interpreter's exit does not walk it again and
        # again (~35 ms → 15 ms per command; its clean-up is otherwise unchanged).
        gc.collect()
        gc.freeze()

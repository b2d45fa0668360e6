"""Start-up without the cyclic garbage collector's overhead.

Importing modules makes long-lived objects only (modules, classes, functions, the
commands). The collector would still run dozens of times during a command's imports,
and afterwards walk everything they made in its next collections. :func:`long_lived`
turns it off while such code runs, then freezes what it made out of the collector's way
(``gc.freeze``): ~8 ms of every command's start for the CLI's import, ~5 ms more of
``kaohe poll``'s for its own.

A freeze takes everything alive at that moment, garbage included, and the collector never
looks at it again. A one-shot command has made little garbage before its imports; a
process that runs commands again and again (the tests, anything embedding the CLI) would
keep the cyclic garbage of every earlier run. :func:`first_import` therefore does this
only around the first import of a module in a process, and nothing on later runs.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext


@contextmanager
def long_lived() -> Iterator[None]:
    """No cyclic collection inside; what exists at the end is frozen, and the collector
    is on again if it was on before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def first_import(module: str) -> AbstractContextManager[None]:
    """:func:`long_lived` around code that imports *module* for the first time in this
    process; a no-op once it is imported (the code then makes only per-run objects)."""
    return nullcontext() if module in sys.modules else long_lived()

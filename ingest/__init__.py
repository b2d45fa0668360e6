"""kaohe-inbox: mailbox → raw archive → unpack → classify/identify → parse → database.

kaohe never imports pandas or numpy, and neither is a dependency (pandas is the
optional ``analysis`` extra). But when they are installed — the extra, or a
Python shared with other tools — sqlite-utils and openpyxl import them at import
time only to recognise their types in values. kaohe never hands them such values,
and the two imports cost about 0.5 s and 45 MB of memory on every ``kaohe``
command and in the daemon, so both libraries are imported here with pandas and
numpy hidden; importing pandas or numpy afterwards works as usual. Without them
installed this is a no-op.
"""

import sys


def _import_without_pandas() -> None:
    hidden = [m for m in ("pandas", "numpy") if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes the import raise ImportError
    try:
        import openpyxl  # noqa: F401
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            sys.modules.pop(name, None)


_import_without_pandas()

"""kaohe-inbox: mailbox → raw archive → unpack → classify/identify → parse → database.

sqlite-utils imports pandas and numpy at import time only to recognise their
types in inserts. kaohe never inserts them, and the two imports cost about
0.4 s and 45 MB of memory on every ``kaohe`` command and in the daemon, so
sqlite-utils is imported here with both hidden; importing pandas afterwards
works as usual.
"""

import sys


def _import_sqlite_utils_without_pandas() -> None:
    hidden = [m for m in ("pandas", "numpy") if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes the import raise ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            sys.modules.pop(name, None)


_import_sqlite_utils_without_pandas()

"""What the store's functions need of a database: its connection, ``execute`` and ``query``.

Two handles provide it:

- sqlite-utils' ``Database`` (:func:`ingest.store.db.open_db`), for the clerk's
  commands, the console and the reports, which use its conveniences
  (``table(...).upsert``, ``rows_where``);
- :class:`PlainDb` (:func:`ingest.store.db.open_plain`), for ``kaohe poll``: every
  statement of a poll is plain SQL, and importing sqlite-utils would cost the poll
  about 30 ms of its start, before the first mail can reach a parse worker (half of
  it compiling one case-insensitive pattern over U+0080–U+FFFF at import).

Functions that any command may call take a :class:`Db`; the few that use
sqlite-utils' own API take its ``Database``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol


class Db(Protocol):
    """A database handle: sqlite-utils' ``Database`` or :class:`PlainDb`."""

    conn: sqlite3.Connection

    def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> sqlite3.Cursor: ...

    def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class PlainDb:
    """A connection with sqlite-utils' ``execute``, ``query`` and ``close`` (same results)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> sqlite3.Cursor:
        if parameters is None:
            return self.conn.execute(sql)
        return self.conn.execute(sql, parameters)

    def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Each row as a dict of column name to value."""
        cursor = self.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row, strict=True))

    def close(self) -> None:
        self.conn.close()


def table_columns(db: Db, table: str) -> list[str]:
    """The columns of *table*, in order ([] when there is no such table)."""
    return [r[1] for r in db.execute(f'PRAGMA table_info("{table}")').fetchall()]

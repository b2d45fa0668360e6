"""The originals zip: every version each unit sent, as offices file them by hand.

``单位/附件N_单位_日期.ext`` (a second file of the same day gets ``_2``). Built in
an anonymous temporary file (removed when closed), streamed to the browser.
Stored paths come from the database and must stay inside ``data_dir``; a form
that is one of its mail's own parts is written from the raw mail when first asked
for (:func:`ingest.store.files.ensure_file`).
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import sqlite_utils

from ingest.store.db import from_db
from ingest.store.files import ensure_file, safe_name

CHUNK = 1 << 16


def member_name(
    unit: str, annex: int, received: datetime, filename: str, kind: str, tz: ZoneInfo
) -> str:
    """``单位/附件N_单位_YYYYMMDD.ext`` with the unit name made safe for a file system."""
    folder = safe_name(unit, "单位", "")
    ext = Path(safe_name(filename, "x", kind)).suffix.lower()
    return f"{folder}/附件{annex}_{folder}_{received.astimezone(tz):%Y%m%d}{ext}"


def originals(
    db: sqlite_utils.Database,
    data_dir: Path,
    order: dict[str, int],
    tz: ZoneInfo,
    only: tuple[str, list[str]] = ("", []),
) -> list[tuple[str, Path]]:
    """(member name, stored path) for every version of every unit, in roster order;
    *only* is a ``campaign_filter`` on ``s`` (several campaigns: one campaign's)."""
    rows = db.query(
        "select s.unit, s.annex, s.received, s.version, a.filename, a.type, a.stored_path, "
        "a.message, a.part, a.sha256, a.size "
        "from submissions s join attachments a on a.id = s.attachment "
        f"where a.stored_path is not null {only[0]} order by s.annex, s.version",
        only[1],
    )
    out: list[tuple[str, Path]] = []
    taken: set[str] = set()
    for r in sorted(rows, key=lambda r: (order.get(r["unit"], len(order)), r["unit"])):
        path = ensure_file(data_dir, r)
        if path is None:
            continue
        received = from_db(r["received"])
        assert received is not None
        name = member_name(
            r["unit"], r["annex"], received, r["filename"] or "", r["type"] or "", tz
        )
        stem, dot, ext = name.rpartition(".") if "." in name.rsplit("/", 1)[-1] else (name, "", "")
        n = 2
        while name in taken:
            name = f"{stem}_{n}{dot}{ext}"
            n += 1
        taken.add(name)
        out.append((name, path))
    return out


def write_zip(members: list[tuple[str, Path]]) -> IO[bytes]:
    """The zip in an unnamed temporary file, positioned at its start."""
    tmp = tempfile.TemporaryFile()
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, path in members:
            zf.write(path, name)
    tmp.seek(0)
    return tmp


def chunks(handle: IO[bytes]) -> Iterator[bytes]:
    """Read *handle* to the end, then close it."""
    try:
        while block := handle.read(CHUNK):
            yield block
    finally:
        handle.close()

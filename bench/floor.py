"""The floor: a bare script that fetches every mail of a folder and reads its forms' cells.

It does only the unavoidable work of an ingest — TLS login, fetch every body
(in the same batches as the pipeline), split the MIME parts with the standard
library, and read every cell of every .docx/.xlsx attachment — and nothing
else (no archive, no database, no classification).

Readers (``--readers``):

* ``issue``: the floor of issue 14 — python-calamine for every cell of every
  xlsx, lxml for the text of every paragraph and every table cell of
  ``word/document.xml`` of every docx, the message split by
  ``email.message_from_bytes`` (its default, compat32, policy);
* ``same``: the libraries the pipeline uses — python-calamine for xlsx, a
  zipfile + lxml walk of ``word/document.xml`` for docx (``parsers/word.py``
  reads docx with lxml directly, not through python-docx);
* ``named``: the libraries the user named — openpyxl (read-only) for xlsx,
  python-docx for docx.

imapclient turns on imaplib's trace, which formats ``repr()`` of every fetched
mail whether or not anything logs it; the issue's floor keeps imapclient as it
comes, ``--quiet-imaplib`` turns the trace off as kaohe does (an extra row).

Usage: ``python -m bench.floor HOST PORT CAFILE USER FOLDER --readers same``
(password from env ``KAOHE_BENCH_PASSWORD``); prints one JSON line.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import os
import ssl
import time
import zipfile
from typing import Any

from imapclient import IMAPClient

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def cells_docx_lxml(data: bytes) -> int:
    from lxml import etree

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(
            z.read("word/document.xml"), etree.XMLParser(resolve_entities=False, no_network=True)
        )
    n = 0
    for tc in root.iter(f"{W}tc"):
        "".join(t.text or "" for t in tc.iter(f"{W}t"))
        n += 1
    return n


def texts_docx_lxml(data: bytes) -> int:
    """Every paragraph's text and every table cell's text (issue 14's floor)."""
    from lxml import etree

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(
            z.read("word/document.xml"), etree.XMLParser(resolve_entities=False, no_network=True)
        )
    n = 0
    for el in root.iter(f"{W}p", f"{W}tc"):
        "".join(t.text or "" for t in el.iter(f"{W}t"))
        n += 1
    return n


def cells_docx_python_docx(data: bytes) -> int:
    import docx

    n = 0
    for table in docx.Document(io.BytesIO(data)).tables:
        for row in table.rows:
            for cell in row.cells:
                _ = cell.text
                n += 1
    return n


def cells_xlsx_calamine(data: bytes) -> int:
    import python_calamine as pc

    book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    n = 0
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False):
            n += len(row)
    return n


def cells_xlsx_openpyxl(data: bytes) -> int:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    n = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            n += len(row)
    book.close()
    return n


def ooxml_kind(data: bytes) -> str | None:
    """docx / xlsx by content (some clients' names do not survive ``email``), else None."""
    if not data.startswith(b"PK\x03\x04"):
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
    return (
        "docx" if "word/document.xml" in names else "xlsx" if "xl/workbook.xml" in names else None
    )


READERS: dict[str, dict[str, Any]] = {
    "issue": {"docx": texts_docx_lxml, "xlsx": cells_xlsx_calamine},
    "same": {"docx": cells_docx_lxml, "xlsx": cells_xlsx_calamine},
    "named": {"docx": cells_docx_python_docx, "xlsx": cells_xlsx_openpyxl},
}


def run(
    host: str,
    port: int,
    cafile: str,
    user: str,
    password: str,
    folder: str,
    readers: str,
    batch: int = 25,
    quiet_imaplib: bool = False,
) -> dict[str, Any]:
    read = READERS[readers]
    start = time.perf_counter()
    client = IMAPClient(host, port, ssl=True, ssl_context=ssl.create_default_context(cafile=cafile))
    if quiet_imaplib:  # what kaohe does (ingest.mail.sources.imap.quiet_imaplib)
        client._imap.debug = 0
    client.login(user, password)
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search("ALL"))
    mails = files = cells = 0
    for i in range(0, len(uids), batch):
        for data in client.fetch(uids[i : i + batch], ["BODY.PEEK[]"]).values():
            mails += 1
            raw = data[b"BODY[]"]
            msg = (
                email.message_from_bytes(raw)
                if readers == "issue"
                else email.message_from_bytes(raw, policy=email.policy.default)
            )
            for part in msg.walk():
                if part.is_multipart() or part.get_content_maintype() == "text":
                    continue
                payload = part.get_payload(decode=True)
                kind = ooxml_kind(payload) if isinstance(payload, bytes) else None
                if kind is not None:
                    cells += read[kind](payload)
                    files += 1
    client.logout()
    return {"mails": mails, "files": files, "cells": cells, "seconds": time.perf_counter() - start}


def main() -> None:
    p = argparse.ArgumentParser()
    for arg in ("host", "port", "cafile", "user", "folder"):
        p.add_argument(arg)
    p.add_argument("--readers", choices=sorted(READERS), default="same")
    p.add_argument("--quiet-imaplib", action="store_true", help="imaplib's trace off")
    a = p.parse_args()
    out = run(
        a.host,
        int(a.port),
        a.cafile,
        a.user,
        os.environ["KAOHE_BENCH_PASSWORD"],
        a.folder,
        a.readers,
        quiet_imaplib=a.quiet_imaplib,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""The raw archive: byte-for-byte by SHA-256, idempotent, durable for raw mail,
torn files rewritten, a killed poller's work files removed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ingest.mail.rawstore import (
    archive_file,
    archive_raw,
    clean_temp,
    file_path,
    raw_path,
    read_raw,
)

RAW = b"From: a@163.com\r\nSubject: =?GBK?B?uL28/jQ=?=\r\n\r\n\xb8\xbd\xbc\xfe\r\n"


def test_raw_mail_is_stored_by_its_hash_byte_for_byte(tmp_path: Path) -> None:
    digest, path = archive_raw(tmp_path, RAW)
    assert digest == hashlib.sha256(RAW).hexdigest()
    assert path == raw_path(tmp_path, digest) == tmp_path / "raw" / digest[:2] / f"{digest}.eml"
    assert read_raw(tmp_path, digest) == RAW
    assert list((tmp_path / "raw" / ".tmp").iterdir()) == []  # the work file was renamed


def test_storing_again_is_a_no_op_and_a_torn_file_is_rewritten(tmp_path: Path) -> None:
    digest, path = archive_raw(tmp_path, RAW)
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    archive_raw(tmp_path, RAW)
    assert path.stat().st_mtime_ns == before - 10**9  # not written again
    path.write_bytes(RAW[:10])  # a short file: a write torn by a crash
    archive_raw(tmp_path, RAW)
    assert path.read_bytes() == RAW


def test_attachment_payloads_go_under_files(tmp_path: Path) -> None:
    payload = b"PK\x03\x04 form"
    digest, path = archive_file(tmp_path, payload)
    assert path == file_path(tmp_path, digest) == tmp_path / "files" / digest[:2] / digest
    assert path.read_bytes() == payload
    given = "0" * 64  # the caller's digest is trusted (it computed it from the same bytes)
    assert archive_file(tmp_path, payload, given)[1] == tmp_path / "files" / "00" / given


def test_clean_temp_removes_only_leftover_work_files(tmp_path: Path) -> None:
    digest, path = archive_raw(tmp_path, RAW)
    work = tmp_path / "raw" / ".tmp"
    (work / ".tmp-dead-1").write_bytes(b"half")
    (work / ".tmp-dead-2").write_bytes(b"half")
    assert clean_temp(tmp_path) == 2
    assert list(work.iterdir()) == [] and path.read_bytes() == RAW
    assert clean_temp(tmp_path / "elsewhere") == 0

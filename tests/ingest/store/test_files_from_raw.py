"""A poll does not copy the files its raw mail already holds; they are written from the raw
mail the first time the clerk asks for one (``kaohe show``, the console's download, the
originals zip), checked against the recorded SHA-256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ingest.core.fsutil import TMP_PREFIX
from ingest.mail.rawstore import clean_temp, file_path, raw_path
from ingest.store.clerk_base import ClerkActionError, open_store
from ingest.store.files import ensure_file, save_copy, stored_file
from ingest.store.pipeline import poll, reparse
from tests.support.bigattach import netease_html
from tests.support.campaign import Campaign, make_campaign
from tests.support.corpus import make_zip
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows
from tests.support.mails import Att, make_mail

FORM = make_xlsx_form(4, sample_rows(4, 3))
MEMBER = make_docx_form(2, sample_rows(2, 2))
INNER = make_xlsx_form(5, sample_rows(5, 1))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stored(c: Campaign) -> set[str]:
    return {p.name for p in (c.cfg.data_dir / "files").rglob("*") if p.is_file()}


def _rows(c: Campaign) -> dict[str, dict]:
    """Attachment rows by the sha256 of their bytes."""
    with open_store(c.cfg) as db:
        return {r["sha256"]: r for r in db.query("select * from attachments")}


@pytest.fixture
def polled(tmp_path: Path) -> Campaign:
    """One mail with a form, a zip holding another, and a forwarded mail holding a third."""
    c = make_campaign(tmp_path)
    forwarded = make_mail(subject="转发：申报表", attachments=[("附件5.xlsx", INNER)])
    c.deliver(
        "m.eml",
        make_mail(
            attachments=[
                ("附件4：考核任务申报表.xlsx", FORM),
                ("材料.zip", make_zip({"附件2.docx": MEMBER})),
                Att("转发.eml", forwarded, "message/rfc822", cte="8bit"),
            ]
        ),
        "2020-03-12T09:00:00",
    )
    poll(c.cfg)
    return c


def test_a_poll_stores_only_the_files_its_raw_mail_does_not_hold(polled: Campaign) -> None:
    rows = _rows(polled)
    assert {_sha(FORM), _sha(MEMBER), _sha(INNER)} <= set(rows)
    assert rows[_sha(FORM)]["outcome"] == "parsed"  # read from the mail, not from a copy
    assert rows[_sha(FORM)]["container"] is None and rows[_sha(MEMBER)]["container"] == "材料.zip"
    # the members of the zip and of the forwarded mail, nothing else
    assert _stored(polled) == {_sha(MEMBER), _sha(INNER)}
    assert file_path(polled.cfg.data_dir, _sha(MEMBER)).read_bytes() == MEMBER
    assert file_path(polled.cfg.data_dir, _sha(INNER)).read_bytes() == INNER


def test_the_first_request_writes_the_file_from_the_raw_mail_once(polled: Campaign) -> None:
    att = _rows(polled)[_sha(FORM)]
    found = stored_file(polled.cfg, att["id"])
    assert found.path == file_path(polled.cfg.data_dir, _sha(FORM))
    assert found.path.read_bytes() == FORM and found.size == len(FORM)
    assert found.filename == "附件4：考核任务申报表.xlsx"
    before = found.path.stat()
    again = stored_file(polled.cfg, att["id"])
    after = again.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # kept
    assert not list((polled.cfg.data_dir / "files" / ".tmp").iterdir())  # no work file left


def test_the_zip_itself_is_written_from_the_raw_mail_too(polled: Campaign, tmp_path: Path) -> None:
    zipped = next(r for r in _rows(polled).values() if r["filename"] == "材料.zip")
    out = tmp_path / "out"
    out.mkdir()
    copy = save_copy(polled.cfg, zipped["id"], out)
    assert copy.name == "材料.zip" and _sha(copy.read_bytes()) == zipped["sha256"]


def test_a_copy_cut_short_is_written_again_a_member_needs_a_reparse(polled: Campaign) -> None:
    """A torn copy (a process killed while writing in place) is never handed out."""
    rows = _rows(polled)
    data = polled.cfg.data_dir
    form = ensure_file(data, rows[_sha(FORM)])
    assert form is not None
    form.write_bytes(FORM[:100])
    assert ensure_file(data, rows[_sha(FORM)]) == form and form.read_bytes() == FORM
    member = file_path(data, _sha(MEMBER))
    member.write_bytes(MEMBER[:100])
    with pytest.raises(ClerkActionError, match="kaohe reparse --message"):
        stored_file(polled.cfg, rows[_sha(MEMBER)]["id"])
    member.unlink()
    with pytest.raises(ClerkActionError, match="存储文件不见了"):
        stored_file(polled.cfg, rows[_sha(MEMBER)]["id"])
    assert reparse(polled.cfg) == 1
    assert stored_file(polled.cfg, rows[_sha(MEMBER)]["id"]).path.read_bytes() == MEMBER


def test_a_raw_mail_changed_or_gone_gives_no_file(polled: Campaign) -> None:
    """The bytes must have the recorded SHA-256: a raw mail edited by hand gives the clerk
    the reason, never another file."""
    att = _rows(polled)[_sha(FORM)]
    raw = raw_path(polled.cfg.data_dir, att["message"])
    original = raw.read_bytes()
    raw.write_bytes(make_mail(attachments=[("附件4：考核任务申报表.xlsx", FORM[:-1] + b"x")]))
    with pytest.raises(ClerkActionError, match=f"附件 {att['id']} 的存储文件不见了"):
        stored_file(polled.cfg, att["id"])
    raw.unlink()
    with pytest.raises(ClerkActionError, match=f"附件 {att['id']} 所在的原始邮件不见了.*备份"):
        stored_file(polled.cfg, att["id"])
    assert _sha(FORM) not in _stored(polled)
    raw.write_bytes(original)
    assert stored_file(polled.cfg, att["id"]).path.read_bytes() == FORM


def test_a_stored_path_outside_the_data_folder_is_never_followed(
    polled: Campaign, tmp_path: Path
) -> None:
    att = dict(_rows(polled)[_sha(FORM)])
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    data = polled.cfg.data_dir
    for bad in (os.path.relpath(outside, data), str(outside), ""):
        att["stored_path"] = bad
        assert ensure_file(data, att) is None
    assert outside.read_bytes() == b"secret"


def test_a_link_row_has_an_empty_file(tmp_path: Path) -> None:
    """A 163 超大附件 link is a row without bytes; its file is empty, not missing."""
    c = make_campaign(tmp_path)
    html = netease_html([("附件4：申报表.xlsx", "56.32M", "2020年3月30日 10:32")])
    c.deliver("m.eml", make_mail(html=html), "2020-03-12T09:00:00")
    poll(c.cfg)
    [link] = _rows(c).values()
    assert link["size"] == 0 and link["part"] == "link-1"
    found = stored_file(c.cfg, link["id"])
    assert found.path.read_bytes() == b"" and found.path.name == _sha(b"")


def test_leftover_work_files_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    work = tmp_path / "files" / ".tmp"
    work.mkdir(parents=True)
    (work / f"{TMP_PREFIX}1234-abc").write_bytes(b"half")
    (tmp_path / "raw" / ".tmp").mkdir(parents=True)
    (tmp_path / "raw" / ".tmp" / f"{TMP_PREFIX}99-def.eml").write_bytes(b"half")
    (work / "kept").write_bytes(b"not ours")
    assert clean_temp(tmp_path) == 2
    assert [p.name for p in work.iterdir()] == ["kept"]

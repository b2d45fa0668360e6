"""A full disk and a database another process holds: one Chinese line, then nothing lost.

Real faults, no mocks: a 2 MB tmpfs as data_dir (mounted here; the tests run as
root in CI) and a second process holding ``BEGIN IMMEDIATE`` on the database.
After the fault clears, the next poll ingests every mail exactly once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.campaign import Campaign, make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

KAOHE = str(Path(sys.executable).parent / "kaohe")
HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
db.execute("ROLLBACK")
"""
HOLD_POLL_LOCK = """
import sys
from pathlib import Path
from ingest.core.lock import hold_lock
with hold_lock(Path(sys.argv[1]), "poll"):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def kaohe(c: Campaign, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``kaohe -c CONFIG ARGS…`` in its own process, as the clerk runs it."""
    return subprocess.run(
        [KAOHE, "-c", str(c.config_path), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


@contextmanager
def held(script: str, arg: Path) -> Iterator[None]:
    """*script* (HOLD_LOCK, HOLD_POLL_LOCK) holding its lock on *arg* while the block runs."""
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(arg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)


def deliver(c: Campaign, first: int, count: int, filler: int = 0) -> None:
    """Mails from 财政局, each with an annex 4 form (and *filler* random bytes)."""
    for i in range(first, first + count):
        attachments = [(f"附件4-{i}.xlsx", make_xlsx_form(4, sample_rows(4, 2)))]
        if filler:
            attachments.append((f"照片{i}.jpg", os.urandom(filler)))
        mail = make_mail(subject=f"财政局附件4（第{i}次）", attachments=attachments)
        c.deliver(f"{i:02d}.eml", mail, f"2020-03-{10 + i:02d}T09:00:00")


def assert_each_mail_once(c: Campaign, mails: int) -> None:
    db = sqlite3.connect(c.cfg.db_path)
    try:
        subjects = [r[0] for r in db.execute("select subject from messages")]
        assert sorted(subjects) == sorted(f"财政局附件4（第{i}次）" for i in range(mails))
        stored = db.execute("select count(*) from source_items where status = 'stored'").fetchone()
        assert stored[0] == mails
        subs = db.execute("select count(*) from submissions where unit = '南郑区财政局'").fetchone()
        assert subs[0] == mails
    finally:
        db.close()


def one_chinese_line(stderr: str, starts: str) -> None:
    assert "Traceback" not in stderr
    [line] = [x for x in stderr.splitlines() if x.strip()]
    assert line.startswith("错误：" + starts), stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs; grown later with ``grow``. Needs root (CAP_SYS_ADMIN)."""
    where = tmp_path / "small"
    where.mkdir()
    run = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True
    )
    if run.returncode != 0:
        why = f"cannot mount a tmpfs here (run the tests as root): {run.stderr.decode().strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def grow(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(where)], check=True)


def test_disk_full_is_one_line_and_the_next_poll_ingests_everything_once(
    tmp_path: Path, small_disk: Path
) -> None:
    c = make_campaign(tmp_path)
    text = c.config_path.read_text(encoding="utf-8")
    c.config_path.write_text(text.replace('"data"', f'"{small_disk / "data"}"'), encoding="utf-8")
    deliver(c, 0, 8, filler=300_000)  # ≈ 8 × 700 KB archived: far more than 2 MB
    full = kaohe(c, "poll")
    assert full.returncode == 1
    one_chinese_line(full.stderr, "磁盘空间已满")
    grow(small_disk)
    again = kaohe(c, "poll")
    assert again.returncode == 0, again.stderr
    assert_each_mail_once(c, 8)
    assert kaohe(c, "poll").returncode == 0  # and nothing is fetched twice later
    assert_each_mail_once(c, 8)


def test_a_held_write_lock_is_one_line_and_the_next_poll_ingests_everything_once(
    tmp_path: Path,
) -> None:
    c = make_campaign(tmp_path)
    deliver(c, 0, 3)
    assert kaohe(c, "poll").returncode == 0
    deliver(c, 3, 3)
    with held(HOLD_LOCK, c.cfg.db_path):
        locked = kaohe(c, "--debug", "poll", KAOHE_BUSY_TIMEOUT_SECONDS="0.3")
        assert locked.returncode == 1
        one_chinese_line(locked.stderr, "数据库正被另一个程序占用")
        log = (c.cfg.data_dir / "logs" / "kaohe-debug.log").read_text(encoding="utf-8")
        assert "Traceback" in log and "database is locked" in log  # the details, for the maintainer
    assert kaohe(c, "poll").returncode == 0
    assert_each_mail_once(c, 6)


def test_non_directory_data_dir_is_one_line(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    deliver(c, 0, 1)
    (tmp_path / "data").write_text("not a folder", encoding="utf-8")
    res = kaohe(c, "poll")
    assert res.returncode == 1
    one_chinese_line(res.stderr, "paths.data_dir 不是目录")


def test_read_only_data_dir_is_one_line_and_nothing_is_lost(
    tmp_path: Path, small_disk: Path
) -> None:
    c = make_campaign(tmp_path)
    text = c.config_path.read_text(encoding="utf-8")
    c.config_path.write_text(text.replace('"data"', f'"{small_disk / "data"}"'), encoding="utf-8")
    deliver(c, 0, 1)
    assert kaohe(c, "poll").returncode == 0
    deliver(c, 1, 1)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    res = kaohe(c, "poll")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and res.stderr.startswith("错误：")
    assert "只读" in res.stderr, res.stderr
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert kaohe(c, "poll").returncode == 0
    assert_each_mail_once(c, 2)


def test_a_poll_already_running_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    """``kaohe poll`` looks at the poll lock before anything else: refused, it has
    started no parse worker (no scratch folder), and the next poll ingests everything
    once. (Refused by the lock itself, after a race, see tests/ingest/app/cli/test_poll_lock.)"""
    c = make_campaign(tmp_path)
    deliver(c, 0, 2)
    with held(HOLD_POLL_LOCK, c.cfg.data_dir):
        refused = kaohe(c, "poll")
        assert refused.returncode == 1
        one_chinese_line(refused.stderr, "另一个收信过程正在进行")
        assert not (c.cfg.data_dir / ".parse").exists()
    assert kaohe(c, "poll").returncode == 0
    assert_each_mail_once(c, 2)

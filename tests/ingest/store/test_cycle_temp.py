"""A cycle's work dirs (the sandbox's scratch, LibreOffice's profile) live under data_dir,
go with the cycle, and a killed cycle's are removed by the next one."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ingest.core.config import load_config
from ingest.store.pipeline import close_context, make_context
from tests.support.campaign import make_campaign
from tests.support.paths import REPO

KILLED = """\
import os, sys
from ingest.core.config import load_config
from ingest.store.pipeline import make_context
ctx = make_context(load_config(sys.argv[1]))
print(ctx.converter._workdir, flush=True)
os._exit(0)  # as if killed: nothing is closed
"""


def test_work_dirs_stay_under_data_dir_and_a_killed_cycle_s_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make_campaign(tmp_path / "campaign")
    cfg = load_config(c.config_path)
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()

    proc = subprocess.run(
        [sys.executable, "-c", KILLED, str(c.config_path)],
        cwd=REPO, env={"PATH": "/usr/bin:/bin", "TMPDIR": str(system_tmp)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    left = Path(proc.stdout.strip())
    assert left.is_dir() and left.is_relative_to(cfg.data_dir / ".parse")
    assert list(system_tmp.iterdir()) == [], "the cycle wrote to the system temp dir"

    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    ctx = make_context(cfg)
    try:
        work = Path(ctx.converter._workdir)
        assert work.is_dir() and work.is_relative_to(cfg.data_dir / ".parse")
        assert not left.exists(), "the killed cycle's work dir was not removed"
    finally:
        close_context(ctx)
    assert not work.exists()
    assert list((cfg.data_dir / ".parse").iterdir()) == []
    assert list(system_tmp.iterdir()) == []

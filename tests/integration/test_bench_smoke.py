"""Smoke version of the benchmark command (``bench/run.py --smoke``): tiny sizes, < 60 s.

The full benchmarks are not part of the test run; this only proves the command
still runs end to end against a throwaway Dovecot and produces every figure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

ROOT = REPO
MISSING = "Dovecot missing: apt-get install -y dovecot-imapd"


def _require_dovecot() -> None:
    if shutil.which("dovecot") or os.path.exists("/usr/sbin/dovecot"):
        return
    if os.environ.get("CI"):
        pytest.fail(MISSING)
    pytest.skip(MISSING)


@pytest.mark.timeout(120)
def test_bench_smoke_produces_every_figure(tmp_path: Path) -> None:
    _require_dovecot()
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out), "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(raw.read_text(encoding="utf-8"))

    [cold] = r["cold"].values()
    assert cold["forms"] > 0 and cold["floor_files"] == cold["forms"]
    assert f"已解析 {cold['forms']}" in cold["poll_summary"]  # every form parsed, none lost
    for key in (
        "ratio",
        "ratio_one_worker",
        "ratio_same",
        "ratio_named",
        "ratio_quiet",
        "ratio_quiet_one_worker",
        "calamine_gain",
        "ratio_sampled",
    ):
        assert cold[key] > 0
    assert cold["workers"] >= 1
    for runs in cold["tree_rss_mb"].values():  # from the sampled runs, one per timed run
        assert len(runs) == len(cold["seconds"]["poll"]) and all(0 < mb < 1000 for mb in runs)
    cpu = cold["cpu_seconds"]  # the reaped parse workers count: more than the poller alone
    assert all(s > 0 for runs in cpu.values() for s in runs)
    assert r["warm"]["ratio"] > 0
    assert r["incremental"]["ratio"] > 0
    assert 0 < r["big"]["rss_mb"] <= r["big"]["tree_rss_mb"] < 1000  # the tree holds the workers
    assert set(r["startup"]) >= {"kaohe --help", "kaohe status"}
    for n_units in ("10", "20"):
        assert r["report"][n_units]["submissions"] > 0
        assert min(r["report"][n_units]["cli_seconds"]) > 0

    text = out.read_text(encoding="utf-8")
    for label in (
        "| 1 |",
        "| 1a |",
        "| 1d |",
        "| 1e |",
        "| 1f |",
        "| 2 |",
        "| 3 |",
        "| 4a |",
        "| 4b |",
        "| 5 |",
        "| 6 |",
        "| 7 |",
    ):
        assert label in text
    assert "## Machine" in text

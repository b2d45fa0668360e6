"""Start-up without the collector: what is frozen, and that repeated runs freeze nothing."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.app.cli import cli
from ingest.app.cli.startup import first_import, long_lived
from tests.support.campaign import make_campaign
from tests.support.paths import REPO


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_long_lived_pauses_the_collector_and_freezes_what_it_made(collector_on: None) -> None:
    frozen = gc.get_freeze_count()
    with long_lived():
        assert not gc.isenabled()
        made = [_Node() for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + 1000
    ref = weakref.ref(made[0])
    del made
    gc.collect()
    assert ref() is not None, "a frozen cycle is never collected"


def test_long_lived_leaves_a_disabled_collector_disabled(collector_on: None) -> None:
    gc.disable()
    with long_lived():
        pass
    assert not gc.isenabled()


def test_first_import_does_nothing_once_the_module_is_loaded(collector_on: None) -> None:
    frozen = gc.get_freeze_count()
    with first_import("json"):  # imported at the top of this file
        assert gc.isenabled()
        node = _Node()
    assert gc.get_freeze_count() <= frozen
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None


def test_a_second_poll_in_one_process_freezes_no_garbage(
    tmp_path: Path, collector_on: None
) -> None:
    # Before the fix every in-process poll froze what was alive, garbage included: the
    # test process grew by the cyclic garbage of each run before it.
    c = make_campaign(tmp_path)
    args = ["-c", str(c.config_path), "poll"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    ref = weakref.ref(_Node())  # garbage made between two polls
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    gc.collect()
    assert ref() is None, "the second poll froze the garbage made before it"


PROBE = """\
import gc, json, sys
from click.testing import CliRunner
from ingest.app.cli import cli
before = "ingest.store.pipeline" in sys.modules, gc.get_freeze_count()
res = CliRunner().invoke(cli, ["-c", sys.argv[1], "poll"])
print(json.dumps([res.exit_code, before[0], before[1], gc.get_freeze_count(), gc.isenabled()]))
"""


def test_a_fresh_poll_freezes_its_own_imports(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(c.config_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    code, preloaded, before, after, enabled = json.loads(proc.stdout.splitlines()[-1])
    assert code == 0 and enabled
    assert not preloaded, "the CLI's import loads the pipeline: the poll's freeze does nothing"
    assert after > before + 5000, (before, after)  # the pipeline's modules, out of the way

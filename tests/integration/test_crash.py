"""SIGKILL the poller at random moments: every mail ends up in the database exactly once.

Short version for the suite; the long one is ``python tests/support/crash_trials.py --trials N --mails M``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash_trials import run_trials

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_sigkill_during_polls_loses_and_doubles_nothing(tmp_path: Path) -> None:
    result = run_trials(trials=10, mails=90, seed=20200320, workdir=tmp_path, say=lambda s: None)
    assert result.problems == []
    assert result.kills == 10
    assert result.mails >= 90

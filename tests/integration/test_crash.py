"""SIGKILL the poller at random moments: every mail ends up in the database exactly once.

Short version for the suite; the long one is ``python tests/support/crash_trials.py --trials N --mails M``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash_trials import run_trials

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.mark.parametrize("workers", [None, 1], ids=["default-workers", "one-worker"])
def test_sigkill_during_polls_loses_and_doubles_nothing(
    tmp_path: Path, workers: int | None
) -> None:
    """With one worker the poller writes the attachments' files, with more the workers do:
    both are killed at random moments."""
    result = run_trials(
        trials=10, mails=90, seed=20200320, workdir=tmp_path, say=lambda s: None, workers=workers
    )
    assert result.problems == []
    assert result.kills == 10
    assert result.mails >= 90

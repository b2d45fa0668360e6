"""The parse sandbox the analysis tests share (test_sandbox.py has its own, tighter one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.match.sandbox import ParsePool, SandboxLimits


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ParsePool]:
    with ParsePool(limits=SandboxLimits(memory_mb=1024, seconds=20), scratch_parent=tmp_path) as p:
        yield p

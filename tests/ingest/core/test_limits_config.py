"""[limits] parse_memory_mb / parse_seconds: defaults, values taken, nonsense refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.core.config import ConfigError, load_config
from ingest.match.sandbox import SandboxLimits
from tests.support.campaign import make_campaign


def _config(tmp_path: Path, limits: str) -> Path:
    c = make_campaign(tmp_path)
    with c.config_path.open("a", encoding="utf-8") as f:
        f.write(f"\n[limits]\n{limits}\n")
    return c.config_path


def test_defaults_and_values_reach_the_sandbox(tmp_path: Path) -> None:
    assert SandboxLimits.of(load_config(_config(tmp_path / "a", "")).limits) == SandboxLimits(
        memory_mb=1024, seconds=60
    )
    cfg = load_config(_config(tmp_path / "b", "parse_memory_mb = 512\nparse_seconds = 5"))
    assert SandboxLimits.of(cfg.limits) == SandboxLimits(memory_mb=512, seconds=5)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ("parse_memory_mb = 0", "limits.parse_memory_mb 至少为 256"),
        ("parse_memory_mb = 100", "limits.parse_memory_mb 至少为 256"),
        ("parse_seconds = 0", "limits.parse_seconds 必须大于 0"),
        ("parse_seconds = -1", "limits.parse_seconds 不能为负数"),
        ('parse_seconds = "60"', "limits.parse_seconds 必须是数字"),
    ],
)
def test_nonsense_is_refused_in_chinese(tmp_path: Path, limits: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(_config(tmp_path, limits))
    assert message in str(refused.value)

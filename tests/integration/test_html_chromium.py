"""The html report in a real headless Chromium: progress visible, screenshots kept.

Screenshots go to ``test-artifacts/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from reports.render_html import render_html
from tests.support.paths import ARTIFACTS
from tests.support.report_samples import sample_report

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--hide-scrollbars",
)

pytestmark = pytest.mark.integration


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium 未安装：apt-get install -y chromium fonts-noto-cjk")
    pytest.skip("chromium not installed")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "profile"
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "报送情况.html"
    path.write_text(render_html(sample_report()), encoding="utf-8")
    return path


def test_dom_shows_progress_and_escaped_script(page: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode()
    progress = re.search(r'id="progress">(.*?)</p>', dom, re.S)
    assert progress is not None
    assert re.sub(r"<[^>]+>", "", progress.group(1)).startswith("6/9 份已收到可读（67%）")
    assert "逾期未报 2" in dom
    assert "&lt;script&gt;alert" in dom and "<script>alert" not in dom
    assert dom.count("<svg") == 2


@pytest.mark.parametrize("name,size", [("desktop", (1200, 1800)), ("phone", (390, 2400))])
def test_screenshot_saved(page: Path, tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{name}.png"
    shot.unlink(missing_ok=True)
    run_chromium(
        tmp_path, f"--screenshot={shot}", f"--window-size={size[0]},{size[1]}", page.as_uri()
    )
    assert png_size(shot) == size
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank canvas

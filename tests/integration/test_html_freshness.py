"""The stale-data banner and the 纸质版 section in a real headless Chromium (screenshot kept)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ingest.store.health import Health
from reports.render_html import render_html
from tests.integration.test_html_chromium import png_size, run_chromium
from tests.support.paths import ARTIFACTS
from tests.support.report_samples import TZ, sample_report

pytestmark = pytest.mark.integration


def test_stale_banner_first_and_paper_section(tmp_path: Path) -> None:
    now = datetime(2020, 3, 23, 8, 0, tzinfo=TZ)
    health = Health(
        now, False, "邮箱登录失败：授权码错误", now - timedelta(hours=6), False, 9, 0, True
    )
    page = tmp_path / "报送情况.html"
    page.write_text(render_html(dataclasses.replace(sample_report(), health=health)), "utf-8")
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode()
    body = dom[dom.index("<body>") :]
    text = re.sub(r"<[^>]+>", "", body)
    assert text.lstrip().startswith("数据可能已过时：已超过 30 分钟")
    assert "最近一次收信出错（2020-03-23 08:00）：邮箱登录失败：授权码错误" in text
    assert "纸质版尚未收到（2 个单位，电子版已收到）" in text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-stale-desktop.png"
    shot.unlink(missing_ok=True)
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri())
    assert png_size(shot) == (1200, 1400)

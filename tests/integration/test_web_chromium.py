"""The clerk's day in the web console, driven in a real headless Chromium (selenium).

Log in, read the overview, open 待认领, assign an attachment by typing a short unit
name, dismiss another, undo, tick paper copies, download the 汇总表 and the
originals zip (their contents checked), log out. A file named like markup shows as
text: no dialog, no element created. Screenshots of every page at desktop
(1366×900) and phone (390×844) width go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from ingest.core.config import load_config
from tests.support.console import (
    CLERK,
    CLERK_PASSWORD,
    HOSTILE_NAME,
    console_campaign,
    running_console,
)
from tests.support.paths import ARTIFACTS

pytestmark = pytest.mark.integration

SHOTS = ARTIFACTS / "web"
DESKTOP = (1366, 900)
PHONE = (390, 844)
ASSIGNABLE = "ea6aa071944b"  # 考核任务申报表.xlsx, no unit anywhere (it is 交通运输局's)
TWO_UNITS = "ef78c0f4c819"  # 负面清单建议表.xlsx, subject names two units
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--lang=zh-CN",
)


def _need(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{tool} 未安装：apt-get install -y {package}")
    pytest.skip(f"{tool} not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web") / "demo"
    cfg = load_config(console_campaign(root))
    with running_console(cfg) as url:
        yield url


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary = _need("chromium", "chromium")
    driver_path = _need("chromedriver", "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('profile')}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # element not there yet, page reloading
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def shot(driver: Any, name: str) -> Path:
    """A full-page PNG (the whole scroll height, at the window's width)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    width = driver.execute_script("return document.documentElement.clientWidth")
    clip = {"x": 0, "y": 0, "width": width, "height": min(size["height"], 6000), "scale": 1}
    data = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )["data"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    return path


def no_alert(driver: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def submit(driver: Any, button: Any) -> str:
    """Click a form's button; wait for the page the script reloads; return its message."""
    driver.execute_script("document.body.dataset.before = 'yes'")
    button.click()
    wait_for(
        lambda: driver.execute_script("return document.body.dataset.before") is None,
        "the page to reload",
    )
    return flash_text(driver)


def flash_text(driver: Any) -> str:
    return str(
        wait_for(
            lambda: (
                driver.find_element(by("ID"), "flash").is_displayed()
                and driver.find_element(by("ID"), "flash").text
            ),
            "the result message",
        )
    )


def downloaded(folder: Path, prefix: str) -> Path:
    def done() -> Path | None:
        found = [
            p
            for p in folder.iterdir()
            if p.name.startswith(prefix) and not p.name.endswith(".crdownload")
        ]
        return found[0] if found else None

    return wait_for(done, f"download {prefix}*", 30)


def test_the_clerks_day(browser: Any, site: str, downloads: Path) -> None:
    d = browser
    d.get(site + "/")
    assert "/login" in d.current_url
    shot(d, "desktop-0-login")
    d.find_element(by("ID"), "username").send_keys(CLERK)
    d.find_element(by("ID"), "password").send_keys(CLERK_PASSWORD)
    d.find_element(by("ID"), "login").click()
    progress = wait_for(lambda: d.find_element(by("ID"), "progress").text, "the overview")
    assert "份已收到可读" in progress
    assert "需电话催报" in d.find_element(by("ID"), "follow-up").text
    tel = d.find_elements(by("CSS_SELECTOR"), "a.tel")
    assert tel and tel[0].get_attribute("href").startswith("tel:")
    assert d.find_element(by("ID"), "health").text.startswith("收信正常")
    shot(d, "desktop-1-overview")

    # 待认领: the hostile name is text, nothing ran, nothing was created
    d.find_element(by("LINK_TEXT"), "待认领").click()
    cards = wait_for(lambda: d.find_elements(by("CSS_SELECTOR"), "article.item"), "items")
    assert len(cards) == 3
    names = [c.find_element(by("CSS_SELECTOR"), ".filename").text for c in cards]
    assert HOSTILE_NAME in names
    assert d.find_elements(by("TAG_NAME"), "img") == [] and d.find_elements(
        by("TAG_NAME"), "script"
    )[0].get_attribute("src").endswith("/static/console.js")
    assert len(d.find_elements(by("TAG_NAME"), "script")) == 1
    assert no_alert(d)
    assert d.execute_script("return document.querySelectorAll('[onerror]').length") == 0
    shot(d, "desktop-2-unassigned")

    # assign by typing a short name; the field offers the roster name as one types
    card = d.find_element(by("ID"), f"item-{ASSIGNABLE}")
    field = card.find_element(by("CSS_SELECTOR"), "input.unit-input")
    assert field.get_attribute("value") == ""  # no evidence: no guess
    field.send_keys("交通")
    wait_for(
        lambda: (
            d.execute_script(
                f"return [...document.querySelectorAll('#units-{ASSIGNABLE} option')].map(o => o.value)"
            )
            == ["南郑区交通运输局"]
        ),
        "the roster name offered",
    )
    field.send_keys("局")
    assert "南郑区交通运输局" in submit(
        d, card.find_element(by("CSS_SELECTOR"), "form.assign button")
    )
    assert not d.find_elements(by("ID"), f"item-{ASSIGNABLE}")

    # dismiss another with a reason, then undo it
    card = d.find_element(by("ID"), f"item-{TWO_UNITS}")
    card.find_element(by("CSS_SELECTOR"), "form.dismiss input[name=reason]").send_keys(
        "两个单位合报，请分开重发"
    )
    assert "排除" in submit(d, card.find_element(by("CSS_SELECTOR"), "form.dismiss button"))
    assert not d.find_elements(by("ID"), f"item-{TWO_UNITS}")
    recent = d.find_element(by("ID"), "recent")
    assert "两个单位合报，请分开重发" in recent.text and "南郑区交通运输局" in recent.text
    shot(d, "desktop-3-unassigned-after")
    row = next(
        r for r in recent.find_elements(by("CSS_SELECTOR"), "tbody tr") if "已排除" in r.text
    )
    assert "撤销" in submit(d, row.find_element(by("CSS_SELECTOR"), "button"))
    assert d.find_elements(by("ID"), f"item-{TWO_UNITS}")  # back in 待认领

    # paper copies: two annexes of one unit at once, with a date
    d.find_element(by("LINK_TEXT"), "纸质版").click()
    wait_for(lambda: d.find_element(by("ID"), "unit-filter"), "the paper page").send_keys("财政局")
    unit = d.find_element(by("CSS_SELECTOR"), "article.unit-row[data-unit='南郑区财政局']")
    hidden = d.execute_script(
        "return [...document.querySelectorAll('article.unit-row')].filter(e => !e.hidden).length"
    )
    assert hidden == 1
    for n in ("2", "4"):
        unit.find_element(by("CSS_SELECTOR"), f"input[name=annexes][value='{n}']").click()
    d.execute_script(
        "arguments[0].value = '2020-03-18'",
        unit.find_element(by("CSS_SELECTOR"), "input[name=date]"),
    )
    done = submit(d, unit.find_element(by("CSS_SELECTOR"), "form.paper-form button"))
    assert "2020-03-18" in done
    unit = d.find_element(by("CSS_SELECTOR"), "article.unit-row[data-unit='南郑区财政局']")
    assert "附件2：2020-03-18 已收到" in unit.text and "附件4：2020-03-18 已收到" in unit.text
    shot(d, "desktop-4-paper")

    # one unit's history
    d.get(site + "/units/南郑区交通运输局")
    assert "考核任务申报表.xlsx" in wait_for(
        lambda: d.find_element(by("ID"), "versions").text, "versions"
    )
    shot(d, "desktop-5-unit")

    # downloads: the 汇总表 and the originals zip, their contents checked
    d.find_element(by("LINK_TEXT"), "下载").click()
    shot(d, "desktop-6-downloads")
    wait_for(lambda: d.find_element(by("ID"), "dl-export-all"), "downloads").click()
    book = openpyxl.load_workbook(io.BytesIO(downloaded(downloads, "汇总表-全部附件").read_bytes()))
    assert book.sheetnames[:5] == ["附件2", "附件3", "附件4", "附件5", "附件6"]
    units4 = {row[0] for row in book["附件4"].iter_rows(min_row=2, values_only=True)}
    assert "南郑区交通运输局" in units4  # the attachment just assigned counts
    d.find_element(by("ID"), "dl-originals").click()
    names = zipfile.ZipFile(downloaded(downloads, "原始文件")).namelist()
    assert "南郑区交通运输局/附件4_南郑区交通运输局_20200318.xlsx" in names
    assert all(n.split("/")[1].startswith("附件") for n in names) and len(names) > 30

    d.find_element(by("LINK_TEXT"), "操作记录").click()
    audit = wait_for(lambda: d.find_element(by("ID"), "audit").text, "the audit log")
    assert audit.count(CLERK) >= 4 and "撤销排除" in audit and "登记纸质版" in audit
    shot(d, "desktop-7-audit")
    d.find_element(by("LINK_TEXT"), "运行状态").click()
    wait_for(lambda: d.find_element(by("ID"), "reparse-start"), "the status page")
    shot(d, "desktop-8-status")

    # the same pages at phone width
    d.set_window_size(*PHONE)
    for i, (path, name) in enumerate(
        [
            ("/", "overview"),
            ("/unassigned", "unassigned"),
            ("/units/南郑区交通运输局", "unit"),
            ("/paper", "paper"),
            ("/downloads", "downloads"),
            ("/audit", "audit"),
            ("/status", "status"),
        ],
        start=1,
    ):
        d.get(site + path)
        wait_for(lambda: d.find_element(by("TAG_NAME"), "main"), path)
        width = d.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE[0], f"{path} scrolls sideways on a phone ({width}px)"
        shot(d, f"phone-{i}-{name}")
        d.save_screenshot(str(SHOTS / f"phone-{i}-{name}-first-screen.png"))

    # log out: the session is gone
    d.find_element(by("ID"), "logout").click()
    wait_for(lambda: "/login" in d.current_url, "the login page")
    shot(d, "phone-0-login")
    d.get(site + "/unassigned")
    assert "/login" in d.current_url
    assert no_alert(d)


@pytest.fixture(scope="module")
def two_campaigns_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The two-campaign mailbox of the routing tests (2020 built in, 2021 learned from its
    blank forms), with the clerk's account."""
    from ingest.store.users import add_user, open_users
    from tests.ingest.store.test_campaign_routing import two_campaigns

    cfg = load_config(two_campaigns(tmp_path_factory.mktemp("two")).config_path)
    conn = open_users(cfg.data_dir)
    try:
        add_user(conn, CLERK, "clerk", CLERK_PASSWORD)
    finally:
        conn.close()
    with running_console(cfg) as url:
        yield url


def test_a_learned_campaign_s_annexes_go_by_its_own_names(
    browser: Any, two_campaigns_site: str
) -> None:
    """2021's annex 4 is 区直部门重点工作考核任务申报表, not the built-in 2020 name of
    annex 4 (考核任务申报表), on the unit page and the downloads page."""
    from urllib.parse import quote

    d, site = browser, two_campaigns_site
    d.set_window_size(*DESKTOP)
    d.get(site + "/login")
    d.find_element(by("ID"), "username").send_keys(CLERK)
    d.find_element(by("ID"), "password").send_keys(CLERK_PASSWORD)
    d.find_element(by("ID"), "login").click()
    wait_for(lambda: d.find_element(by("ID"), "progress").text, "the overview")
    d.get(site + "/units/" + quote("南郑区财政局") + "?campaign=2021")
    table = wait_for(lambda: d.find_element(by("ID"), "annexes").text, "the unit's annexes")
    assert "附件4（区直部门重点工作考核任务申报表）" in table
    assert "附件7（营商环境优化创新事项申报表）" in table
    assert "附件4（考核任务申报表）" not in table
    shot(d, "desktop-campaign-2021-unit")
    d.get(site + "/downloads?campaign=2021")
    button = wait_for(lambda: d.find_element(by("ID"), "dl-export-4"), "the downloads")
    assert button.get_attribute("title") == "附件4（区直部门重点工作考核任务申报表）"
    d.get(site + "/units/" + quote("南郑区财政局") + "?campaign=2020")
    table = wait_for(lambda: d.find_element(by("ID"), "annexes").text, "the 2020 annexes")
    assert "附件4（考核任务申报表）" in table and "营商环境" not in table
    assert no_alert(d)

"""The console with two campaigns in one mailbox: the header's switcher, ``?campaign=``."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from starlette.testclient import TestClient

from ingest.app.web import create_app
from ingest.core.config import Config, load_config
from ingest.store.pipeline import poll
from ingest.store.users import add_user, open_users
from tests.ingest.app.web.conftest import BASE, login
from tests.support.campaign import ROSTER, make_campaign
from tests.support.console import CLERK, CLERK_PASSWORD
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

Y2020, Y2021 = "2020年度考核指标申报", "2021年度年中进度申报"
CONFIG = f"""\
[mailbox]
source = "maildir"
path = "inbox"

[[campaigns]]
name = "{Y2020}"
deadline = "2020-03-20"
until = "2021-01-31"
roster = "roster.csv"

[[campaigns]]
name = "{Y2021}"
deadline = "2021-07-20"
not_before = "2021-02-01"
roster = "roster2021.csv"

[paths]
data_dir = "data"
"""
ROSTER_2021 = """\
单位名称,类别,应报附件,邮箱,别名,联系人,联系电话
南郑区行政审批服务局,区直部门,4,nzspj@163.com,审批局,周敏,0916-5511230
梁山镇人民政府,镇（街道办）,2,lsz@163.com,梁山镇,赵磊,0916-5532001
"""
SPJ = "南郑区行政审批服务局"


@pytest.fixture
def two(tmp_path: Path) -> Config:
    """Two campaigns, each with its own roster and one submission in its window."""
    c = make_campaign(tmp_path, roster=ROSTER, config=CONFIG)
    (tmp_path / "roster2021.csv").write_text(ROSTER_2021, encoding="utf-8")
    form_2020 = make_xlsx_form(4, sample_rows(4, 2))
    c.deliver("a.eml", make_mail(attachments=[("附件4.xlsx", form_2020)]), "2020-03-10T09:00")
    form_2021 = make_xlsx_form(4, sample_rows(4, 2), unit_line=f"填报单位（盖章）：{SPJ}")
    raw = make_mail(
        sender="nzspj@163.com",
        sender_name=SPJ,
        subject=f"{SPJ}2021年中进度申报",
        attachments=[("附件4.xlsx", form_2021)],
    )
    c.deliver("b.eml", raw, "2021-03-05T09:00")
    cfg = load_config(c.config_path)
    poll(cfg)
    conn = open_users(cfg.data_dir)
    try:
        add_user(conn, CLERK, "clerk", CLERK_PASSWORD)
    finally:
        conn.close()
    return cfg


@pytest.fixture
def client(two: Config) -> TestClient:
    client = TestClient(create_app(two), base_url=BASE)
    login(client, CLERK, CLERK_PASSWORD)
    return client


def units(client: TestClient, **params: str) -> dict[str, str]:
    """The report's campaign, and each unit's annex 4 status (or "-")."""
    r = client.get("/api/report", params=params)
    assert r.status_code == 200, r.text
    data = r.json()
    found = {u["unit"]: u["annexes"].get("4", {}).get("status", "-") for u in data["units"]}
    return {"campaign": data["campaign"], **found}


def test_each_campaign_its_own_overview(client: TestClient) -> None:
    first = client.get("/").text
    assert f"<h1>{Y2020}</h1>" in first and "大河坎镇人民政府" in first and SPJ not in first
    second = client.get("/", params={"campaign": Y2021}).text
    assert f"<h1>{Y2021}</h1>" in second and SPJ in second and "梁山镇人民政府" in second
    assert "大河坎镇人民政府" not in second
    # the switcher: both campaigns, the shown one marked, links back to this page
    assert 'class="campaigns"' in second
    assert second.count('aria-current="true"') == 1
    assert f'aria-current="true">{Y2021}</a>' in second
    assert "/?campaign=2020" in second and "/?campaign=2021" in second


def test_api_report_per_campaign(client: TestClient) -> None:
    y2020, y2021 = units(client, campaign=Y2020), units(client, campaign="2021")
    assert y2020["campaign"] == Y2020 and y2021["campaign"] == Y2021
    assert y2020["南郑区财政局"] == "submitted" and SPJ not in y2020
    assert y2021 == {"campaign": Y2021, SPJ: "submitted", "梁山镇人民政府": "-"}
    # the report cache is per campaign: asking again still gives each its own
    assert units(client, campaign=Y2020) == y2020 and units(client) == y2020


def test_switch_is_remembered_for_later_pages(client: TestClient) -> None:
    assert units(client)["campaign"] == Y2020
    r = client.get("/unassigned", params={"campaign": Y2021})
    assert r.status_code == 200 and "kaohe_campaign" in r.headers["set-cookie"]
    # later pages and the pages' scripts (no ?campaign=) stay on the chosen campaign
    assert f"<h1>{Y2021}</h1>" in client.get("/").text
    assert units(client)["campaign"] == Y2021
    assert client.get(f"/units/{SPJ}").status_code == 200
    assert client.get("/units/南郑区财政局").status_code == 404  # not in the 2021 roster
    assert client.get("/units/南郑区财政局", params={"campaign": Y2020}).status_code == 200


def test_unknown_campaign_is_404(client: TestClient) -> None:
    r = client.get("/", params={"campaign": "2019年度"})
    assert r.status_code == 404
    assert "没有名为“2019年度”的收集" in r.text and Y2021 in r.text
    api = client.get("/api/report", params={"campaign": "2019年度"})
    assert api.status_code == 404 and "没有名为" in api.json()["error"]
    assert "kaohe_campaign" not in r.headers.get("set-cookie", "")


def test_one_campaign_has_no_switcher(clerk: tuple[TestClient, str], cfg: Config) -> None:
    client, _ = clerk
    page = client.get("/").text
    assert f"<h1>{cfg.campaign.name}</h1>" in page
    assert 'class="campaigns"' not in page and "切换收集" not in page
    named = client.get("/api/report", params={"campaign": cfg.campaign.name})
    assert named.json()["campaign"] == cfg.campaign.name
    assert client.get("/", params={"campaign": "别的收集"}).status_code == 404


def test_downloads_per_campaign(client: TestClient) -> None:
    def units_in_export(campaign: str) -> set[str]:
        r = client.get("/downloads/export-4.xlsx", params={"campaign": campaign})
        assert r.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]
        cells = {str(c) for row in sheet.iter_rows(values_only=True) for c in row if c}
        return cells & {"南郑区财政局", SPJ}

    assert units_in_export(Y2020) == {"南郑区财政局"}
    assert units_in_export(Y2021) == {SPJ}
    r = client.get("/downloads/originals.zip", params={"campaign": Y2021})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert names and all(SPJ in n for n in names)

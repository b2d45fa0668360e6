"""The console's pages and JSON endpoints do what the CLI does, on the demo campaign."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime

import openpyxl
from starlette.testclient import TestClient

from ingest.core.config import Config
from ingest.store.audit import list_actions
from ingest.store.db import open_db
from reports.output import build_report
from reports.render_json import report_dict
from tests.ingest.app.web.conftest import MakeClient
from tests.support.console import CLERK

ASSIGNABLE = "ea6aa071944b"  # 考核任务申报表.xlsx from 55512345@qq.com: no unit anywhere
TWO_UNITS = "ef78c0f4c819"  # 负面清单建议表.xlsx: subject names 财政局 and 住建局


def post(client: TestClient, csrf: str, path: str, body: dict[str, object]) -> dict[str, object]:
    r = client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    data: dict[str, object] = r.json()
    data["status"] = r.status_code
    return data


def unassigned_ids(client: TestClient) -> list[str]:
    return [u["attachment"] for u in client.get("/api/report").json()["unassigned"]]


def test_api_report_is_the_section_7_json(clerk: tuple[TestClient, str], cfg: Config) -> None:
    client, _ = clerk
    as_of = "2020-03-23T08:00:00+08:00"
    got = client.get("/api/report", params={"as_of": as_of}).json()
    expected = report_dict(build_report(cfg, datetime.fromisoformat(as_of)), cfg.campaign.timezone)
    assert got == expected
    assert got["as_of"] == as_of and len(got["units"]) == 24
    assert client.get("/api/report", params={"as_of": "昨天下午"}).status_code == 400


def test_api_health_shape(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    h = client.get("/api/health").json()
    assert set(h) == {
        "last_poll",
        "last_poll_ok",
        "last_error",
        "daemon",
        "messages",
        "failed_items",
    }
    assert h["last_poll_ok"] is True and h["daemon"] is False and h["messages"] > 20
    assert h["last_poll"].endswith("+08:00")


def test_api_session(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    assert client.get("/api/session").json() == {"user": CLERK, "role": "clerk", "csrf": csrf}


def test_units_autocomplete_by_short_name_and_alias(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    names = [u["name"] for u in client.get("/api/units", params={"q": "财政"}).json()["units"]]
    assert names == ["南郑区财政局"]
    wide = client.get("/api/units", params={"q": "镇"}).json()["units"]
    assert len(wide) > 3 and all("镇" in u["name"] or u["aliases"] for u in wide)


def test_assign_by_short_name_then_undo(clerk: tuple[TestClient, str], cfg: Config) -> None:
    client, csrf = clerk
    done = post(
        client, csrf, "/api/assign", {"attachment": ASSIGNABLE, "unit": "交通局", "annex": 4}
    )
    assert done["status"] == 200 and "南郑区交通运输局" in str(done["message"])
    assert ASSIGNABLE not in unassigned_ids(client)
    unit = client.get("/api/report").json()["units"]
    traffic = next(u for u in unit if u["unit"] == "南郑区交通运输局")
    assert traffic["annexes"]["4"]["status"] == "submitted" and traffic["annexes"]["4"]["rows"] > 0
    page = client.get("/units/南郑区交通运输局").text
    assert "考核任务申报表.xlsx" in page and "已解析" in page
    undone = post(client, csrf, "/api/assign", {"attachment": ASSIGNABLE, "undo": True})
    assert undone["status"] == 200
    assert ASSIGNABLE in unassigned_ids(client)
    db = open_db(cfg.db_path)
    try:
        actions = [(e.actor, e.action) for e in list_actions(db)]
    finally:
        db.close()
    assert actions[:2] == [(CLERK, "assign_undo"), (CLERK, "assign")]
    audit = client.get("/audit").text
    assert "撤销认领" in audit and CLERK in audit and "南郑区交通运输局" in audit


def test_ambiguous_unit_answers_with_candidates(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    r = post(client, csrf, "/api/assign", {"attachment": TWO_UNITS, "unit": "区", "annex": 5})
    assert r["status"] == 400 and r["candidates"]
    assert TWO_UNITS in unassigned_ids(client)


def test_dismiss_with_reason_then_undo(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    r = post(
        client,
        csrf,
        "/api/dismiss",
        {"attachment": TWO_UNITS, "reason": "两个单位合报，已电话让其分开重发"},
    )
    assert r["status"] == 200
    assert TWO_UNITS not in unassigned_ids(client)
    page = client.get("/unassigned").text
    assert "两个单位合报，已电话让其分开重发" in page and "撤销" in page
    assert (
        post(client, csrf, "/api/dismiss", {"attachment": TWO_UNITS, "undo": True})["status"] == 200
    )
    assert TWO_UNITS in unassigned_ids(client)


def test_paper_several_annexes_at_once_with_a_date(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    r = post(
        client, csrf, "/api/paper", {"unit": "财政局", "annexes": [2, 4], "date": "2020年3月18日"}
    )
    assert r["status"] == 200, r
    page = client.get("/units/南郑区财政局").text
    assert page.count("2020-03-18") >= 2
    paper = client.get("/paper").text
    assert "附件2：2020-03-18 已收到" in paper and "附件4：2020-03-18 已收到" in paper
    bad = post(client, csrf, "/api/paper", {"unit": "财政局", "annexes": [4], "date": "三月某天"})
    assert bad["status"] == 400 and "日期" in str(bad["error"])
    assert post(client, csrf, "/api/paper", {"unit": "财政局", "annexes": []})["status"] == 400
    undo = post(client, csrf, "/api/paper", {"unit": "南郑区财政局", "annexes": [2], "undo": True})
    assert undo["status"] == 200
    assert "附件2：2020-03-18 已收到" not in client.get("/paper").text


def test_overview_shows_health_progress_phone_links_and_paper(
    clerk: tuple[TestClient, str],
) -> None:
    client, _ = clerk
    page = client.get("/").text
    assert (
        'id="health"' in page and "收信正常" in page
    )  # the demo was polled in 2020 terms? no: now
    assert "需电话催报" in page and 'href="tel:0916-5531002"' in page
    assert 'href="mailto:' in page
    assert "纸质版尚未收到" in page
    assert page.count("<svg") == 2
    assert 'href="/units/%E5%8D%97%E9%83%91%E5%8C%BA%E8%B4%A2%E6%94%BF%E5%B1%80"' in page


def test_unassigned_page_previews_rows_and_prefills_the_candidate(
    clerk: tuple[TestClient, str],
) -> None:
    client, _ = clerk
    page = client.get("/unassigned").text
    assert page.count('class="card item"') == 3
    assert "任务名称" in page  # the header row of the form, as read
    assert 'href="/api/attachments/ea6aa071944b/file"' in page
    assert "南郑区财政局、南郑区住房和城乡建设局" in page


def test_unknown_unit_page_is_404(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    assert client.get("/units/不存在的单位").status_code == 404
    assert client.get("/units/..%2F..%2Fetc").status_code == 404


def test_export_downloads_are_the_summary_tables(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    book = openpyxl.load_workbook(io.BytesIO(client.get("/downloads/export-all.xlsx").content))
    assert book.sheetnames[:5] == ["附件2", "附件3", "附件4", "附件5", "附件6"]
    sheet = book["附件4"]
    assert sheet.cell(1, 1).value == "单位名称" and sheet.max_row > 5
    one = openpyxl.load_workbook(io.BytesIO(client.get("/downloads/export-6.xlsx").content))
    assert one.sheetnames == ["附件6"]
    assert client.get("/downloads/export-9.xlsx").status_code == 404
    assert client.get("/downloads/report.pdf").status_code == 404
    txt = client.get("/downloads/report.txt").content.decode()
    assert "报送情况" in txt and "需电话催报" in txt


def test_originals_zip_is_arranged_by_unit(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    zf = zipfile.ZipFile(io.BytesIO(client.get("/downloads/originals.zip").content))
    names = zf.namelist()
    assert "南郑区财政局/附件4_南郑区财政局_20200312.xlsx" in names or any(
        n.startswith("南郑区财政局/附件4_南郑区财政局_2020") for n in names
    )
    for n in names:
        unit, _, file = n.partition("/")
        assert file.startswith("附件") and f"_{unit}_2020" in file, n
    assert len(names) == len(set(names)) > 30
    first = names[0]
    assert zf.read(first)[:2] in (b"PK", b"\xd0\xcf", b"%P")


def test_reparse_runs_in_the_background_with_progress(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    r = post(client, csrf, "/api/reparse", {})
    assert r["status"] == 200 and r["total"] and r["by"] == CLERK
    deadline = time.monotonic() + 60
    job = client.get("/api/reparse").json()
    while job["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get("/api/reparse").json()
    assert not job["running"] and job["error"] is None
    assert job["done"] == job["total"] == r["total"]
    assert (
        "重新解析已完成" in client.get("/status").text
        or "上次重新解析已完成" in client.get("/status").text
    )
    assert len(unassigned_ids(client)) == 3  # nothing lost, nothing doubled


def test_no_account_login_page_says_how_to_create_one(make_client: MakeClient, cfg: Config) -> None:
    (cfg.data_dir / "users.db").unlink()
    for suffix in ("-wal", "-shm"):
        (cfg.data_dir / f"users.db{suffix}").unlink(missing_ok=True)
    page = make_client().get("/login").text
    assert "还没有任何账号" in page
    assert f"sudo -u kaohe kaohe -c {cfg.path} user add 张三 --role clerk" in page


def test_status_page_lists_health(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    page = client.get("/status").text
    assert "最近一次收信" in page and "重新解析全部邮件" in page


def test_error_pages_are_chinese(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "找不到这个页面或文件" in r.text

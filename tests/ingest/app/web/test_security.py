"""The console's guards (contract §9): sessions, CSRF, roles, ids, login slow-down, headers."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from ingest.app.web.state import default_login_delay
from ingest.store.users import open_users, remove_user
from tests.ingest.app.web.conftest import BASE, MakeClient, login
from tests.support.console import CLERK, CLERK_PASSWORD, HOSTILE_NAME, VIEWER

PAGES = [
    "/",
    "/unassigned",
    "/units/南郑区财政局",
    "/paper",
    "/downloads",
    "/downloads/report.xlsx",
    "/downloads/export-all.xlsx",
    "/downloads/export-4.xlsx",
    "/downloads/originals.zip",
    "/audit",
    "/status",
]
APIS = [
    "/api/session",
    "/api/report",
    "/api/health",
    "/api/units?q=财政",
    "/api/reparse",
    "/api/attachments/ea6aa071944b/file",
]
POSTS = ["/api/assign", "/api/dismiss", "/api/paper", "/api/reparse", "/logout"]


def test_no_session_pages_redirect_to_login(make_client: MakeClient) -> None:
    client = make_client()
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=%2F"), path


def test_no_session_api_is_401(make_client: MakeClient) -> None:
    client = make_client()
    for path in APIS:
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.json() == {"error": "请先登录"}
    for path in POSTS:
        r = client.post(path, json={}, headers={"X-CSRF-Token": "x"})
        assert r.status_code == 401, path


def test_a_forged_cookie_is_no_session(make_client: MakeClient) -> None:
    client = make_client()
    client.cookies.set("kaohe_session", "A" * 43)
    assert client.get("/api/session").status_code == 401


def hostile_id(client: TestClient) -> str:
    items = client.get("/api/report").json()["unassigned"]
    return str(next(i["attachment"] for i in items if i["filename"] == HOSTILE_NAME))


def test_viewer_reads_but_every_post_is_403(viewer: tuple[TestClient, str]) -> None:
    client, csrf = viewer
    assert client.get("/").status_code == 200
    assert client.get("/api/session").json()["role"] == "viewer"
    bodies = {
        "/api/assign": {"attachment": "ea6aa071944b", "unit": "财政局", "annex": 4},
        "/api/dismiss": {"attachment": "ea6aa071944b", "reason": "x"},
        "/api/paper": {"unit": "南郑区财政局", "annexes": [4], "date": "2020-03-18"},
        "/api/reparse": {},
    }
    for path, body in bodies.items():
        r = client.post(path, json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403, path
        assert "只读" in r.json()["error"]
    page = client.get("/unassigned").text
    assert 'action="/api/assign"' not in page  # no buttons offered to a viewer
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_post_without_or_with_wrong_csrf_is_403(
    clerk: tuple[TestClient, str], token: str | None
) -> None:
    client, _ = clerk
    headers = {} if token is None else {"X-CSRF-Token": token}
    for path in POSTS:
        r = client.post(path, json={"attachment": "ea6aa071944b", "reason": "x"}, headers=headers)
        assert r.status_code == 403, path
        assert "CSRF" in r.json()["error"]
    assert client.get("/api/report").json()["unassigned"][0]["attachment"] == "ea6aa071944b"


def test_csrf_in_form_field_is_accepted(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    r = client.post(
        "/api/dismiss",
        data={
            "attachment": "ea6aa071944b",
            "reason": "不是申报表",
            "csrf": csrf,
            "next": "/unassigned",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/unassigned"
    ids = [u["attachment"] for u in client.get("/api/report").json()["unassigned"]]
    assert "ea6aa071944b" not in ids


@pytest.mark.parametrize(
    "path",
    [
        "/api/attachments/..%2F..%2F..%2Fetc%2Fpasswd/file",
        "/api/attachments/%2e%2e/file",
        "/api/attachments/ea6aa071944b%00/file",
        "/api/attachments/files%2Fde%2Fde2bfc1b66c5/file",
        "/api/attachments/000000000000/file",
        "/api/attachments/EA6AA071944BZZ/file",
        "/api/attachments/ea6a/file",  # a prefix is not an id here
    ],
)
def test_path_traversal_or_unknown_id_is_404(clerk: tuple[TestClient, str], path: str) -> None:
    client, _ = clerk
    r = client.get(path)
    assert r.status_code == 404
    assert b"root:" not in r.content


def test_action_with_a_path_for_an_id_is_404(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    for body in (
        {"attachment": "../../etc/passwd", "unit": "财政局"},
        {"attachment": "/etc/passwd"},
    ):
        r = client.post("/api/assign", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404


def test_wrong_passwords_are_slowed_down_more_and_more(make_client: MakeClient) -> None:
    asked: list[int] = []

    def delay(failures: int) -> float:
        asked.append(failures)
        return 0.05 * failures

    client = make_client(login_delay=delay)
    took = []
    for _ in range(10):
        start = time.perf_counter()
        r = client.post("/login", data={"username": CLERK, "password": "wrong-guess"})
        took.append(time.perf_counter() - start)
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    # each attempt waited at least the delay its count of earlier failures asked for
    assert asked == list(range(10))
    assert all(t >= 0.05 * i for i, t in enumerate(took)), took
    assert took[9] >= 0.45
    start = time.perf_counter()
    login(client, CLERK, CLERK_PASSWORD)  # the right password still waits its turn
    assert time.perf_counter() - start > 0.45 and asked[-1] == 10
    login(make_client(login_delay=delay), CLERK, CLERK_PASSWORD)
    assert asked[-1] == 0  # a success reset the count


def test_default_delay_grows_and_is_capped() -> None:
    delays = [default_login_delay(n) for n in range(12)]
    assert delays[:3] == [0, 0, 0]
    assert delays[3:8] == [1, 2, 4, 8, 16]
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert default_login_delay(50) == 60


def test_headers_csp_nosniff_and_cookie_flags(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post(
        "/login", data={"username": CLERK, "password": CLERK_PASSWORD}, follow_redirects=False
    )
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never return
    for path in ("/", "/login", "/api/health", "/static/console.css", "/downloads/report.xlsx"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    assert client.get("/").headers["cache-control"] == "no-store"


def test_cookie_is_secure_under_tls(make_client: MakeClient) -> None:
    client = make_client(secure_cookies=True)
    r = client.post(
        "/login", data={"username": CLERK, "password": CLERK_PASSWORD}, follow_redirects=False
    )
    assert "Secure" in r.headers["set-cookie"]


def test_cookie_is_secure_behind_an_https_proxy(make_client: MakeClient) -> None:
    client = TestClient(make_client().app, base_url="https://kaohe.example.cn")
    r = client.post(
        "/login", data={"username": CLERK, "password": CLERK_PASSWORD}, follow_redirects=False
    )
    assert "Secure" in r.headers["set-cookie"]


def test_download_headers(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    hostile = hostile_id(client)
    r = client.get(f"/api/attachments/{hostile}/file")
    assert r.status_code == 200
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    # markup characters are not kept in a file name (ingest.store.files.safe_name)
    assert disposition.endswith("filename*=UTF-8''_img%20src%3Dx%20onerror%3Dalert%281%29_.xlsx")
    chinese = client.get("/api/attachments/ea6aa071944b/file").headers["content-disposition"]
    assert chinese == (
        f"attachment; filename=\"_______.xlsx\"; filename*=UTF-8''{quote('考核任务申报表.xlsx')}"
    )
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content[:2] == b"PK"
    zipped = client.get("/downloads/originals.zip")
    assert zipped.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in zipped.headers["content-disposition"]


def test_mail_strings_are_escaped_in_pages(clerk: tuple[TestClient, str]) -> None:
    client, _ = clerk
    page = client.get("/unassigned").text
    assert "&lt;img src=x onerror=alert(1)&gt;.xlsx" in page
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;表格" in page
    assert HOSTILE_NAME not in page


def test_session_ends_at_logout(clerk: tuple[TestClient, str]) -> None:
    client, csrf = clerk
    token = client.cookies.get("kaohe_session")
    r = client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set("kaohe_session", token or "")  # a copy of the old cookie opens nothing
    assert client.get("/api/session").status_code == 401


def test_removed_account_loses_its_session(clerk: tuple[TestClient, str], cfg: object) -> None:
    client, _ = clerk
    conn = open_users(client.app.state.web.cfg.data_dir)  # type: ignore[attr-defined]
    remove_user(conn, CLERK)
    conn.close()
    assert client.get("/api/session").status_code == 401


def test_login_from_another_site_is_refused(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post(
        "/login",
        data={"username": CLERK, "password": CLERK_PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403
    ok = client.post(
        "/login",
        data={"username": CLERK, "password": CLERK_PASSWORD},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_login_redirects_only_to_local_paths(make_client: MakeClient) -> None:
    client = make_client()
    for target, expected in (
        ("/unassigned", "/unassigned"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        client.cookies.clear()
        r = client.post(
            "/login",
            data={"username": CLERK, "password": CLERK_PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected


def test_viewer_name_shown_escaped_and_role(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    assert f"{VIEWER}（只读）" in client.get("/").text

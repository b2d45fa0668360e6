"""Fixtures for the console tests: the demo campaign with accounts, and signed-in clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ingest.app.web import create_app
from ingest.core.config import Config, load_config
from tests.support.console import CLERK, CLERK_PASSWORD, VIEWER, VIEWER_PASSWORD, console_campaign

BASE = "http://127.0.0.1:8080"


@pytest.fixture(scope="session")
def campaign_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return console_campaign(tmp_path_factory.mktemp("console") / "demo").parent


@pytest.fixture
def cfg(campaign_template: Path, tmp_path: Path) -> Config:
    """A fresh copy of the campaign per test: actions in one test never leak into another."""
    root = tmp_path / "demo"
    shutil.copytree(campaign_template, root)
    return load_config(root / "config.toml")


def login(client: TestClient, user: str, password: str) -> str:
    """Sign *client* in; returns the session's CSRF token."""
    r = client.post("/login", data={"username": user, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(client.get("/api/session").json()["csrf"])


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(cfg: Config) -> MakeClient:
    def make(**options: object) -> TestClient:
        return TestClient(create_app(cfg, **options), base_url=BASE)  # type: ignore[arg-type]

    return make


@pytest.fixture
def clerk(make_client: MakeClient) -> tuple[TestClient, str]:
    client = make_client()
    return client, login(client, CLERK, CLERK_PASSWORD)


@pytest.fixture
def viewer(make_client: MakeClient) -> tuple[TestClient, str]:
    client = make_client()
    return client, login(client, VIEWER, VIEWER_PASSWORD)

"""Content checks per (unit, annex), on an in-memory database with the real schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils

from ingest.store.db import ensure_schema
from reports.status import content_checks
from tests.support.report_samples import make_config


def add_version(
    db: sqlite_utils.Database, sid: str, version: int, rows: list[dict[str, Any]], annex: int = 4
) -> dict[str, Any]:
    sub = {
        "id": sid,
        "unit": "南郑区财政局",
        "annex": annex,
        "message": "m" + sid,
        "received": f"2020-03-1{version}T01:00:00+00:00",
        "version": version,
        "attachment": "a" + sid,
        "rows": len(rows),
        "status": "parsed",
    }
    db.table("submissions").insert(sub)
    db.table(f"annex{annex}_rows").insert_all(
        [
            {"submission": sid, "unit": "南郑区财政局", "row_no": i, **r}
            for i, r in enumerate(rows, start=1)
        ]
    )
    return sub


def task(name: str, score: Any) -> dict[str, Any]:
    return {"任务名称": name, "目标要求": "完成", "分值": score}


def run(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    total: float | None = None,
    previous: list[dict[str, Any]] | None = None,
) -> list[str]:
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    extra = {"checks": {"annex4_total": total}} if total is not None else None
    cfg = make_config(tmp_path, extra=extra)
    received = [add_version(db, "s1", 1, previous)] if previous else []
    received.append(add_version(db, "s2", 2, rows))
    return list(content_checks(db, cfg, 4, received[-1], received))


def test_clean_form_has_no_findings(tmp_path: Path) -> None:
    assert run(tmp_path, [task("财政收入", "60"), task("债务防控", "40分")], total=100) == []


def test_empty_name_non_numeric_score_and_total(tmp_path: Path) -> None:
    found = run(tmp_path, [task("财政收入", "五分"), task("", "30"), task("  ", "20")], total=100)
    assert found == [
        "第2、3行“任务名称”为空",
        "第1行“分值”不是数字：“五分”",
        "分值合计 50 分，应为 100 分",
    ]


def test_duplicates_and_rows_dropped_since_previous_version(tmp_path: Path) -> None:
    previous = [task("财政收入", "5"), task("债务防控", "5"), task("绩效改革", "5")]
    found = run(tmp_path, [task("财政收入", "5"), task("财政收入", "5")], previous=previous)
    assert found[0] == "第2行与第1行内容重复"
    assert found[1].startswith("最新版比第1版少了 2 行（“债务防控”、“绩效改革”）")

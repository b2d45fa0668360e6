"""read_forms_text (TEXT columns read joined, split in Python) reads what the plain
one-value-at-a-time query reads, in the cases where joining could go wrong."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from ingest.store.db import ensure_schema
from parsers.schema import DEFAULT_SCHEMAS
from reports.checks import Form
from reports.status import _read_forms_exact, read_forms_text

SCHEMA = DEFAULT_SCHEMAS[4]


def _db(rows: list[dict[str, Any]]) -> sqlite_utils.Database:
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    db.table("annex4_rows").insert_all(rows)
    return db


def _row(sub: str, row_no: int, name: str, score: Any, **more: Any) -> dict[str, Any]:
    return {
        "submission": sub,
        "unit": "u",
        "row_no": row_no,
        "任务名称": name,
        "分值": score,
        **more,
    }


def test_values_in_field_order_stripped_with_numbers_as_str_would_write_them() -> None:
    rows = [
        _row("s1", 1, " 财政收入 ", 5, 目标要求="完成\n", 备注=None),
        _row("s1", 2, "债务防控", 2.5),
        _row("s1", 3, "", 0.1 + 0.2),  # a real SQLite would print with 15 digits
        _row("s1", 4, "绩效", "按实际"),
        _row("s2", 1, "其他", 1.5e300),
    ]
    db = _db(rows)
    got = read_forms_text(db, 4, SCHEMA, ["s1", "s2"])
    assert got == _read_forms_exact(db, 4, SCHEMA, ["s1", "s2"])
    at = {name: i for i, name in enumerate(SCHEMA.field_names)}
    s1 = got["s1"]
    assert s1.numbers == [1, 2, 3, 4]
    assert [t[at["任务名称"]] for t in s1.texts] == ["财政收入", "债务防控", "", "绩效"]
    assert [t[at["分值"]] for t in s1.texts] == ["5", "2.5", str(0.1 + 0.2), "按实际"]
    assert s1.texts[0][at["目标要求"]] == "完成" and s1.texts[0][at["备注"]] == ""
    assert got["s2"].texts[0][at["分值"]] == "1.5e+300"


def test_rows_stored_out_of_order_come_in_row_order() -> None:
    db = _db([_row("s1", 3, "丙", 1), _row("s1", 1, "甲", 1), _row("s1", 2, "乙", 1)])
    form = read_forms_text(db, 4, SCHEMA, ["s1"])["s1"]
    name = SCHEMA.field_names.index("任务名称")
    assert form.numbers == [1, 2, 3]
    assert [t[name] for t in form.texts] == ["甲", "乙", "丙"]


def test_a_value_holding_the_separator_is_read_whole() -> None:
    db = _db([_row("s1", 1, "甲\x1f乙", 1), _row("s2", 1, "丙", 2)])
    got = read_forms_text(db, 4, SCHEMA, ["s1", "s2"])
    name = SCHEMA.field_names.index("任务名称")
    assert got["s1"].texts[0][name] == "甲\x1f乙"
    assert got == _read_forms_exact(db, 4, SCHEMA, ["s1", "s2"])


def test_only_the_submissions_asked_for() -> None:
    db = _db([_row("s1", 1, "甲", 1), _row("s2", 1, "乙", 1)])
    assert list(read_forms_text(db, 4, SCHEMA, ["s2"])) == ["s2"]
    assert read_forms_text(db, 4, SCHEMA, []) == {}
    assert isinstance(read_forms_text(db, 4, SCHEMA, ["s1"])["s1"], Form)

"""Annex definitions as data: the built-in 2020 file, and errors that name the key."""

from __future__ import annotations

import pytest

from parsers.schema import DEFAULT_SCHEMAS, AnnexFileError, build_schemas, schemas_from_toml
from tests.support.paths import REPO

GOOD = """
[[annex]]
number = 7
title = "2021年度创新事项申报表"

[[annex.field]]
name = "事项名称"
required = true

[[annex.field]]
name = "投入资金"
numeric = true
total = 100
"""


def test_the_shipped_example_is_the_builtin_2020_definition() -> None:
    example = (REPO / "docs" / "annexes.example.toml").read_text(encoding="utf-8")
    assert example == (REPO / "parsers" / "annexes_2020.toml").read_text(encoding="utf-8")
    assert schemas_from_toml(example) == DEFAULT_SCHEMAS
    assert list(DEFAULT_SCHEMAS) == [2, 3, 4, 5, 6]
    assert DEFAULT_SCHEMAS[4].name_field == "任务名称" and DEFAULT_SCHEMAS[2].year == 2020


def test_rules_are_read_per_field() -> None:
    [(number, schema)] = schemas_from_toml(GOOD).items()
    assert number == 7 and schema.name_field == "事项名称"
    assert [(f.numeric, f.required, f.total) for f in schema.fields] == [
        (False, True, None),
        (True, False, 100.0),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("number = 7", "number = 0"), "第1个 [[annex]]：number（附件编号）必须是 1 到 99 的整数"),
        (
            ("total = 100", 'total = "一百"'),
            "附件7）的第2个 [[annex.field]]（投入资金）：total 必须是数字",
        ),
        (("numeric = true\n", ""), "（投入资金）：写了 total 的列必须同时写 numeric = true"),
        (("required = true", "requried = true"), "未知的配置项 requried"),
        (('name = "投入资金"', 'name = "事项名称"'), "列名重复：事项名称"),
        (('title = "2021年度创新事项申报表"', "title = 5"), "title 必须是非空字符串"),
    ],
)
def test_a_bad_file_names_the_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(AnnexFileError) as e:
        schemas_from_toml(GOOD.replace(*change), "annexes.toml")
    assert message in str(e.value) and str(e.value).startswith("annexes.toml：")


def test_synonyms_for_an_annex_or_field_the_campaign_lacks_are_refused() -> None:
    with pytest.raises(AnnexFileError, match="没有附件7（本次的附件：2、3、4、5、6）"):
        build_schemas({7: {"x": ("y",)}})
    with pytest.raises(AnnexFileError, match="附件4 没有“重点”这一列"):
        build_schemas({4: {"重点": ("y",)}})

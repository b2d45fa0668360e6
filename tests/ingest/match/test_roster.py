"""Roster traps: duplicates, blank 应报附件, .xls/.ods files, the header on another sheet or row."""

from __future__ import annotations

import io
import random
from pathlib import Path

import openpyxl
import pytest

from ingest.match.roster import Roster, RosterError, Unit, load_roster, normalise
from tests.support.corpus import require_soffice, soffice_convert

HEADER = ["单位名称", "类别", "应报附件", "邮箱", "别名", "联系人", "联系电话"]
ROWS = [
    ["南郑区财政局", "区直部门", "2、4", "nzczj@163.com", "财政局", "杨帆", "0916-5511202"],
    ["大河坎镇人民政府", "镇（街道办）", 6, "", "大河坎镇", "王强", ""],
]


def xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_roster(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "名单.csv"
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    return path


def test_a_unit_listed_twice_is_an_error_naming_both_rows_and_the_file(tmp_path: Path) -> None:
    path = csv_roster(
        tmp_path,
        [
            "南郑区财政局,区直部门,4,,,,",
            "南郑区司法局,区直部门,4,,,,",
            "南郑区财政局,区直部门,4,,,,",
        ],
    )
    with pytest.raises(RosterError) as err:
        load_roster(path)
    text = str(err.value)
    assert str(path) in text and "第2行和第4行" in text and "单位“南郑区财政局”重复" in text


def test_an_alias_shared_by_two_units_is_an_error_naming_both(tmp_path: Path) -> None:
    path = csv_roster(
        tmp_path, ["南郑区财政局,区直部门,4,,财政,,", "汉中市财政局南郑分局,区直部门,4,,财政,,"]
    )
    with pytest.raises(RosterError, match="第2行和第3行.*南郑区财政局.*汉中市财政局南郑分局"):
        load_roster(path)


def test_blank_required_annexes_is_an_error_naming_the_row(tmp_path: Path) -> None:
    path = csv_roster(tmp_path, ["南郑区财政局,区直部门,4,,,,", "南郑区司法局,区直部门,,,,,"])
    with pytest.raises(RosterError) as err:
        load_roster(path)
    assert "第3行（南郑区司法局）" in str(err.value) and "“应报附件”为空" in str(err.value)
    assert str(path) in str(err.value)


def test_header_on_the_second_sheet_under_a_title(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    path.write_bytes(
        xlsx(
            {
                "说明": [["本表为2020年度考核单位名单"], ["请勿改动表头"]],
                "名单": [["附件1"], ["2020年度考核对象名单"], [], HEADER, *ROWS],
            }
        )
    )
    roster = load_roster(path)
    assert [u.name for u in roster.units] == ["南郑区财政局", "大河坎镇人民政府"]
    assert roster.units[0].required == frozenset({2, 4}) and roster.units[1].required == {6}
    assert roster.units[0].emails == ("nzczj@163.com",)


def test_errors_on_another_sheet_name_the_sheet_and_row(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    path.write_bytes(
        xlsx({"说明": [["说明"]], "名单": [HEADER, ROWS[0], ["南郑区司法局", "区直部门", None]]})
    )
    with pytest.raises(RosterError, match="工作表“名单”第3行（南郑区司法局）"):
        load_roster(path)


def test_no_header_anywhere_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    path.write_bytes(xlsx({"A": [["单位", "类别"]], "B": [["x"]]}))
    with pytest.raises(RosterError) as err:
        load_roster(path)
    assert str(path) in str(err.value) and "找不到表头“单位名称”" in str(err.value)


def test_a_damaged_workbook_names_the_file_and_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "名单.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really a workbook")
    with pytest.raises(RosterError) as err:
        load_roster(path)
    assert str(path) in str(err.value) and "另存为 .xlsx" in str(err.value)
    assert "编码" not in str(err.value)  # the old, misleading message


@pytest.mark.parametrize("target", ["xls", "ods"])
def test_xls_and_ods_rosters_are_read(tmp_path: Path, target: str) -> None:
    require_soffice()
    converted = soffice_convert({"名单.xlsx": xlsx({"Sheet1": [HEADER, *ROWS]})}, target)
    path = tmp_path / f"名单.{target}"
    path.write_bytes(converted[f"名单.{target}"])
    roster = load_roster(path)
    assert [u.name for u in roster.units] == ["南郑区财政局", "大河坎镇人民政府"]
    assert roster.units[1].required == {6}  # a number cell, read as "6" not "6.0"
    assert roster.units[0].phone == "0916-5511202"


def _find_by_scanning(roster: Roster, text: str) -> list[Unit]:
    """find_in_text as it was first written: every key tried, longest first."""
    norm = normalise(text)
    taken = [False] * len(norm)
    found: list[Unit] = []
    for key, unit in roster._keys:
        start = norm.find(key)
        while start >= 0:
            span = range(start, start + len(key))
            if not any(taken[i] for i in span):
                for i in span:
                    taken[i] = True
                if unit not in found:
                    found.append(unit)
            start = norm.find(key, start + 1)
    return sorted(found, key=lambda u: roster.units.index(u))


def test_find_in_text_finds_what_trying_every_key_finds() -> None:
    """Overlapping, nested and repeated keys over a four-letter alphabet: the indexed
    search names the same units as trying every key (longest first, each once)."""
    rng = random.Random(20)
    for _ in range(300):
        names = sorted({"".join(rng.choices("甲乙丙丁", k=rng.randint(2, 5))) for _ in range(8)})
        roster = Roster([Unit(n, "区直部门", frozenset({2})) for n in names])
        for _ in range(10):
            parts = [rng.choice(names)[rng.randint(0, 2) :] for _ in range(rng.randint(0, 4))]
            text = rng.choice(["", " ", "（"]).join(parts)
            assert roster.find_in_text(text) == _find_by_scanning(roster, text), (names, text)


def test_find_in_text_keeps_the_longest_match_and_roster_order() -> None:
    roster = Roster(
        [
            Unit("南郑区委办公室", "区直部门", frozenset({2})),
            Unit("南郑区委", "区直部门", frozenset({2})),
            Unit("南郑区财政局", "区直部门", frozenset({2}), aliases=("财政局(国资)",)),
        ]
    )
    assert [u.name for u in roster.find_in_text("区委办公室")] == ["南郑区委办公室"]
    assert [u.name for u in roster.find_in_text("财政局（国资）、区委、区委办公室")] == [
        "南郑区委办公室",
        "南郑区委",
        "南郑区财政局",
    ]
    assert roster.find_in_text("") == [] and Roster([]).find_in_text("区委") == []


def test_a_shorter_key_counts_where_the_longer_one_starting_there_is_taken() -> None:
    """丙丁戊己 takes 丙; 甲乙丙 then overlaps it, but 甲乙 at the same place does not."""
    names = ["甲乙", "甲乙丙", "丙丁戊己"]
    roster = Roster([Unit(n, "区直部门", frozenset({2})) for n in names])
    assert [u.name for u in roster.find_in_text("甲乙丙丁戊己")] == ["甲乙", "丙丁戊己"]

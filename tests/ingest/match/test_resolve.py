"""The unit a clerk means: exact, unique partial, several (listed), none (nearest suggested)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.match.resolve import (
    UnitAmbiguous,
    UnitNotFound,
    match_units,
    resolve_unit,
    suggest_unit,
)
from ingest.match.roster import Roster, load_roster

DEMO = Path(__file__).resolve().parents[3] / "ingest" / "app" / "demo_data" / "roster.csv"


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(DEMO)


@pytest.mark.parametrize(
    ("typed", "unit"),
    [
        ("南郑区财政局", "南郑区财政局"),  # exact name
        ("财政局", "南郑区财政局"),  # alias
        ("区财政局", "南郑区财政局"),
        ("南郑区 财政局", "南郑区财政局"),  # spaces are normalised away
        ("宣传部", "中共汉中市南郑区委宣传部"),  # alias (the failing case)
        ("纪委", "中共汉中市南郑区纪律检查委员会"),  # contained in the alias 区纪委监委
        ("大河坎", "大河坎镇人民政府"),  # prefix of 大河坎镇
        ("汉山", "汉山街道办事处"),
        ("财政", "南郑区财政局"),
        ("税务", "国家税务总局汉中市南郑区税务局"),
        ("南郑区财政局办公室", "南郑区财政局"),  # the typed text names the unit
    ],
)
def test_resolves(roster: Roster, typed: str, unit: str) -> None:
    assert resolve_unit(roster, typed).name == unit


def test_several_candidates_are_listed_not_guessed(roster: Roster) -> None:
    with pytest.raises(UnitAmbiguous) as err:
        resolve_unit(roster, "镇人民政府")
    assert "大河坎镇人民政府" in err.value.candidates and "黄官镇人民政府" in err.value.candidates
    assert len(err.value.candidates) == 7
    assert "可能是以下 7 个单位之一" in str(err.value) and "黄官镇人民政府" in str(err.value)


def test_not_found_suggests_the_closest_and_reads_differently(roster: Roster) -> None:
    with pytest.raises(UnitNotFound) as err:
        resolve_unit(roster, "财务局")
    assert err.value.closest[0] == "南郑区财政局"
    assert len(err.value.closest) <= 3
    text = str(err.value)
    assert text.startswith("单位名单中没有“财务局”") and "最接近的有：南郑区财政局" in text
    assert "可能是以下" not in text


def test_not_found_without_resemblance_suggests_nothing(roster: Roster) -> None:
    with pytest.raises(UnitNotFound) as err:
        resolve_unit(roster, "公安局")  # only 局 in common: no resemblance
    assert err.value.closest == () and "最接近" not in str(err.value)
    with pytest.raises(UnitNotFound):
        resolve_unit(roster, "  ")


def test_match_units_lists_names_and_aliases_containing_text(roster: Roster) -> None:
    assert [u.name for u in match_units(roster, "财政")] == ["南郑区财政局"]
    assert [u.name for u in match_units(roster, "纪委")] == ["中共汉中市南郑区纪律检查委员会"]
    towns = match_units(roster, "镇")
    assert len(towns) == 7 and all("镇" in u.name for u in towns)
    assert len(match_units(roster, "")) == len(roster.units)
    assert match_units(roster, "公安") == []


@pytest.mark.parametrize(
    ("texts", "unit"),
    [
        (("考核表.xlsx", "财政考核任务申报", ""), "南郑区财政局"),  # core name in the subject
        (("汉山2020考核.docx", "", ""), "汉山街道办事处"),
        (("表.xlsx", "考核表", "教体局 张三"), "南郑区教育体育局"),  # the sender's display name
        (("表.xlsx", "财政局、住建局负面清单", ""), None),  # two units: no hint
        (("表.xlsx", "考核表", ""), None),
    ],
)
def test_suggest_unit(roster: Roster, texts: tuple[str, str, str], unit: str | None) -> None:
    got = suggest_unit(roster, *texts)
    assert (got.name if got else None) == unit


def test_a_province_s_worth_of_candidates_is_named_twenty_at_a_time() -> None:
    from ingest.match.roster import Unit

    units = [Unit(f"第{i:02d}县交通运输局", "部门", frozenset({2})) for i in range(30)]
    with pytest.raises(UnitAmbiguous) as info:
        resolve_unit(Roster(units), "交通")
    message = str(info.value)
    assert message.startswith("“交通”可能是以下 30 个单位之一：第00县交通运输局、")
    assert "第19县交通运输局 等（其余 10 个可用 kaohe units 关键字 查看）" in message
    assert "第20县" not in message
    assert len(info.value.candidates) == 30  # the console still gets them all

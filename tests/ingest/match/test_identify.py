"""identify_unit: evidence in a fixed order, the first place naming one unit decides,
a place naming two stops the search; never a guess."""

from __future__ import annotations

import pytest

from ingest.match.identify import identify_unit
from ingest.match.roster import Roster, load_roster
from tests.support.campaign import ROSTER

CZ, FG, ZJ = "南郑区财政局", "南郑区发展和改革局", "南郑区住房和城乡建设局"


@pytest.fixture(scope="module")
def roster(tmp_path_factory: pytest.TempPathFactory) -> Roster:
    path = tmp_path_factory.mktemp("roster") / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return load_roster(path)


def ident(roster: Roster, **given: object) -> tuple[str | None, str, str | None]:
    kw: dict[str, object] = {
        "unit_line": None,
        "filename": "表.xlsx",
        "subject": "申报",
        "sender": "x@qq.com",
        "body": "",
    }
    m = identify_unit(roster, **{**kw, **given})  # type: ignore[arg-type]
    return m.unit, m.evidence, m.reason


@pytest.mark.parametrize(
    ("given", "unit", "evidence"),
    [
        # each place decides when every earlier one is silent …
        (
            {"unit_line": "填报单位（盖章）：南郑区财政局"},
            CZ,
            "表内单位：填报单位（盖章）：南郑区财政局",
        ),
        ({"filename": "发改局附件4.xlsx"}, FG, "文件名：发改局附件4.xlsx"),
        ({"subject": "住建局考核任务"}, ZJ, "邮件主题：住建局考核任务"),
        ({"sender": "nzczj@163.com"}, CZ, "发件人：nzczj@163.com"),
        ({"body": "此致 南郑区发展和改革局"}, FG, "正文：此致 南郑区发展和改革局"),
        ({"forwarded_by": ("a@qq.com", "nzzjj@163.com")}, ZJ, "转发人：nzzjj@163.com"),
        # … and an earlier place beats every later one
        (
            {"unit_line": "单位：财政局", "filename": "发改局.xlsx", "sender": "nzzjj@163.com"},
            CZ,
            "表内单位：单位：财政局",
        ),
        (
            {"subject": "发改局", "sender": "nzczj@163.com", "body": "住建局"},
            FG,
            "邮件主题：发改局",
        ),
    ],
)
def test_first_place_naming_one_unit_decides(
    roster: Roster, given: dict[str, object], unit: str, evidence: str
) -> None:
    assert ident(roster, **given) == (unit, evidence, None)


def test_two_units_in_one_place_go_to_the_clerk_even_if_a_later_place_names_one(
    roster: Roster,
) -> None:
    unit, evidence, reason = ident(roster, subject="财政局、住建局联合申报", sender="nzczj@163.com")
    assert unit is None and evidence == "邮件主题：财政局、住建局联合申报"
    assert reason == f"邮件主题同时指向多个单位：{CZ}、{ZJ}，请人工认领"
    m = identify_unit(
        roster, unit_line=None, filename="", subject="财政局、住建局", sender="", body=""
    )
    assert m.candidates == (CZ, ZJ)


def test_the_longest_name_is_meant_not_a_name_inside_it(roster: Roster) -> None:
    assert ident(roster, unit_line="填报单位：南郑区委办公室")[0] == "南郑区委办公室"


def test_nothing_found_says_where_it_looked_and_what_the_form_named(roster: Roster) -> None:
    unit, evidence, reason = ident(roster, unit_line="填报单位：协税镇人民政府")
    assert unit is None and evidence == ""
    assert reason == (
        "表内填报单位“填报单位：协税镇人民政府”不在单位名单中；"
        "表内填报单位、文件名、邮件主题、发件人地址和正文中都找不到名单中的单位"
    )
    forwarded = ident(roster, forwarded_by=("a@qq.com",))[2]
    assert forwarded is not None and "转发人地址" in forwarded


def test_long_evidence_is_clipped_and_only_the_start_of_the_body_is_read(roster: Roster) -> None:
    _, evidence, _ = ident(roster, filename="财政局" + "很" * 100 + ".xlsx")
    assert evidence.startswith("文件名：财政局") and evidence.endswith("…")
    assert len(evidence) == len("文件名：") + 60
    late = ident(roster, body="。" * 5000 + "南郑区财政局")
    assert late[0] is None  # a name after the first 4000 characters is not evidence


def test_sender_addresses_ignore_case_and_unlisted_ones_decide_nothing(roster: Roster) -> None:
    """Addresses compare without case; an address the roster does not list decides nothing."""
    assert ident(roster, sender="NZCZJ@163.COM")[0] == CZ
    assert ident(roster, sender="someone@163.com")[0] is None

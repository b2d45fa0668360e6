"""Figures and phrases every renderer and mail shares, on the sample report
(4 units, 9 required pairs: 5 submitted, 1 late, 1 unreadable, 2 overdue)."""

from __future__ import annotations

import pytest

from reports.model import AnnexStatus, Status
from reports.summary import (
    annex_label,
    by_annex,
    by_category,
    deadline_phrase,
    follow_up_units,
    overall,
    owed_phrase,
    paper_outstanding,
    progress_line,
    quote_arg,
)
from tests.support.report_samples import sample_report


def test_tallies_overall_by_category_and_by_annex() -> None:
    r = sample_report()
    t = overall(r)
    assert (t.total, t.done, t.units, t.units_done, round(t.percent)) == (9, 6, 4, 1, 67)
    assert t.counts == {
        Status.SUBMITTED: 5,
        Status.LATE: 1,
        Status.UNPARSED: 1,
        Status.MISSING: 0,
        Status.OVERDUE: 2,
    }
    assert [(c.name, c.done, c.total, c.units, c.units_done) for c in by_category(r)] == [
        ("区直部门", 4, 6, 2, 0),
        ("镇（街道办）", 2, 3, 2, 1),
    ]
    assert [(a.annex, a.done, a.total) for a in by_annex(r)] == [
        (2, 2, 2),
        (4, 2, 2),  # 汉山街道办's annex 4 was not required: not counted
        (5, 0, 1),
        (6, 2, 4),
    ]
    assert progress_line(r) == "应报 9 份，已收到可读 6 份（67%）；4 个单位中 1 个已报齐"


def test_deadline_phrase_before_and_after() -> None:
    assert deadline_phrase(sample_report()) == "截止时间 2020-03-20 23:59 已过，逾期 3 天"
    assert deadline_phrase(sample_report(after_deadline=False)) == (
        "距截止还有 3 天（2020-03-20 23:59）"
    )


@pytest.mark.parametrize(
    ("status", "reason", "clerk", "unit"),
    [
        (
            Status.UNPARSED,
            "加密文件，无法读取",
            "附件5（负面清单考核指标（扣分）建议表）：已收到，但无法读取（加密文件，无法读取）",
            "附件5（负面清单考核指标（扣分）建议表）：已收到，但无法读取（加密文件，无法读取），"
            "请取消文件密码后重新发送",
        ),
        (
            Status.UNPARSED,
            None,
            "附件5（负面清单考核指标（扣分）建议表）：已收到，但无法读取（原因不明）",
            "附件5（负面清单考核指标（扣分）建议表）：已收到，但无法读取（原因不明），"
            "请确认文件能正常打开，另存为 Word 或 Excel 格式后重新发送",
        ),
        (
            Status.OVERDUE,
            None,
            "附件5（负面清单考核指标（扣分）建议表）：逾期未报",
            "附件5（负面清单考核指标（扣分）建议表）：截止时间已过，尚未收到",
        ),
        (
            Status.MISSING,
            None,
            "附件5（负面清单考核指标（扣分）建议表）：未报送",
            "附件5（负面清单考核指标（扣分）建议表）：尚未收到",
        ),
    ],
)
def test_one_phrase_for_an_owed_annex_in_reports_and_mails(
    status: Status, reason: str | None, clerk: str, unit: str
) -> None:
    a = AnnexStatus(5, True, status, reason=reason)
    assert owed_phrase(a) == clerk
    assert owed_phrase(a, to_unit=True) == unit


def test_who_to_phone_and_which_paper_copies_are_owed() -> None:
    r = sample_report()
    assert [u.unit for u in follow_up_units(r)] == [
        "南郑区财政局",
        "南郑区发展和改革局",
        "汉山街道办",
    ]
    assert {u.unit: paper_outstanding(u) for u in r.units} == {
        "南郑区财政局": [],  # annex 4's paper copy is recorded
        "南郑区发展和改革局": [2, 4, 6],  # annex 5 is unreadable: no paper asked for yet
        "汉山街道办": [],  # its annex 4 was not required
        "大河坎镇": [2, 6],
    }


def test_labels_and_shell_quoting() -> None:
    assert annex_label(4) == "附件4（考核任务申报表）"
    assert annex_label(9) == "附件9" and annex_label(None) == "未识别附件"
    assert quote_arg("南郑区财政局") == "南郑区财政局"
    assert quote_arg('财政 "局" $x `y`') == '"财政 \\"局\\" \\$x \\`y\\`"'

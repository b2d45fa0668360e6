"""The clerk's morning summary (``kaohe report`` with no format)."""

from __future__ import annotations

from reports.render_txt import render_txt
from tests.support.report_samples import sample_report


def test_summary_after_deadline_lists_progress_overdue_and_actions() -> None:
    text = render_txt(sample_report(), cli="kaohe -c /etc/kaohe.toml")
    assert "截止时间 2020-03-20 23:59 已过，逾期 3 天" in text
    assert "应报 9 份，已收到可读 6 份（67%）；4 个单位中 1 个已报齐" in text
    assert "已报送 5，逾期报送 1，无法读取 1，未报送 0，逾期未报 2" in text
    assert "南郑区财政局（王会计，13800000001）" in text
    assert "附件6（特色亮点考核任务一览表）：逾期未报" in text
    assert "加密文件，无法读取" in text
    assert "第3行“分值”不是数字：“五分”" in text
    assert "kaohe -c /etc/kaohe.toml assign b1b2c3d4e5f6 --unit 〈单位名称〉 --annex 4" in text
    assert "可能是：汉山街道办、大河坎镇" in text
    assert "imap:INBOX:1:77：邮件过大，已跳过（尝试 5 次" in text
    # a unit that has everything is not in the phone list
    assert "大河坎镇（" not in text


def test_summary_before_deadline_counts_down_and_lists_who_has_not_sent() -> None:
    text = render_txt(sample_report(after_deadline=False))
    assert "距截止还有 3 天（2020-03-20 23:59）" in text
    assert "逾期未报 0" in text and "未报送 2" in text
    assert "尚未报送（2 个单位，截止前）：" in text
    assert "  南郑区财政局：附件6" in text

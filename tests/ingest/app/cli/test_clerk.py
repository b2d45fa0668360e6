"""The clerk's commands on the command line: options, Chinese output, exit codes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from ingest.app.cli import cli
from ingest.store.audit import list_actions
from ingest.store.clerk_base import open_store
from ingest.store.pipeline import poll
from tests.support.campaign import Campaign, make_campaign
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.mails import make_mail

FGJ = "南郑区发展和改革局"


def kaohe(c: Campaign, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(c.config_path), *args])


def paper_rows(c: Campaign) -> dict[tuple[str, int], str]:
    with open_store(c.cfg) as db:
        return {
            (r[0], r[1]): r[2] for r in db.execute("select unit, annex, received_on from paper")
        }


def stray(c: Campaign) -> str:
    form = make_xlsx_form(4, sample_rows(4, 2), unit_line=None)
    mail = make_mail(sender="9@qq.com", subject="表", attachments=[("考核表.xlsx", form)])
    c.deliver("m.eml", mail, "2020-03-12T09:00:00")
    poll(c.cfg)
    with open_store(c.cfg) as db:
        return str(db.execute("select id from attachments").fetchone()[0])


def test_paper_takes_repeated_and_comma_separated_annexes_and_chinese_dates(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    res = kaohe(c, "paper", "发改局", "--annex", "2", "--annex", "4", "--date", "2020年3月18日")
    assert res.exit_code == 0, res.output
    assert res.output.strip().startswith(f"已记录：2020-03-18 收到 {FGJ} 附件2、附件4 的纸质版")
    assert paper_rows(c) == {(FGJ, 2): "2020-03-18", (FGJ, 4): "2020-03-18"}
    res = kaohe(c, "paper", "财政局", "--annex", "2,4，5", "--date", "3月19日")
    assert res.exit_code == 0, res.output
    assert {k: v for k, v in paper_rows(c).items() if k[0] == "南郑区财政局"} == {
        ("南郑区财政局", 2): "2020-03-19",
        ("南郑区财政局", 4): "2020-03-19",
        ("南郑区财政局", 5): "2020-03-19",
    }
    res = kaohe(c, "paper", "发改局", "--annex", "2", "--date", "2020/3/17")
    assert res.exit_code == 0 and paper_rows(c)[(FGJ, 2)] == "2020-03-17"
    res = kaohe(c, "paper", "发改局", "--annex", "2,4", "--undo")
    assert res.exit_code == 0 and "已撤销" in res.output
    assert (FGJ, 2) not in paper_rows(c) and (FGJ, 4) not in paper_rows(c)


def test_paper_errors_are_one_chinese_line(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    res = kaohe(c, "paper", "发改局", "--annex", "2", "--date", "下周一")
    assert res.exit_code == 1 and res.output.startswith("错误：无法识别的日期“下周一”")
    res = kaohe(c, "paper", "公安局", "--annex", "2")
    assert res.exit_code == 1 and "错误：单位名单中没有“公安局”" in res.output
    res = kaohe(c, "paper", "局", "--annex", "2")
    assert res.exit_code == 1 and "可能是以下" in res.output and FGJ in res.output
    res = kaohe(c, "paper", "发改局", "--annex", "二")
    assert res.exit_code != 0 and "不是附件编号" in res.output
    assert "Traceback" not in res.output and paper_rows(c) == {}


def test_units_lists_matches_with_aliases_or_suggests(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    res = kaohe(c, "units", "发改")
    assert res.exit_code == 0, res.output
    assert "与“发改”匹配的 1 个单位" in res.output and FGJ in res.output
    assert "别名：发改局、区发改局" in res.output and "应报附件 4、6" in res.output
    res = kaohe(c, "units")
    assert res.exit_code == 0 and "共有 6 个单位" in res.output
    res = kaohe(c, "units", "财务局")
    assert res.exit_code == 1 and "最接近的有：南郑区财政局" in res.output


def test_assign_undo_dismiss_undo_and_show(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    att = stray(c)
    res = kaohe(c, "assign", att[:6])
    assert res.exit_code == 2 and "--unit" in res.output and "--undo" in res.output
    res = kaohe(c, "assign", att[:6], "--unit", "住建")
    assert res.exit_code == 0 and "南郑区住房和城乡建设局 的附件4" in res.output, res.output
    res = kaohe(c, "dismiss", att[:6], "--reason", "不是申报表")
    assert res.exit_code == 1 and f"kaohe assign {att} --undo" in res.output
    res = kaohe(c, "assign", att[:6], "--undo")
    assert res.exit_code == 0 and "已撤销" in res.output and "待认领" in res.output
    res = kaohe(c, "dismiss", att[:6], "--reason", "不是申报表")
    assert res.exit_code == 0 and "已排除" in res.output
    res = kaohe(c, "dismiss", att[:6], "--undo")
    assert res.exit_code == 0 and "已撤销对附件" in res.output
    with open_store(c.cfg) as db:
        log = list_actions(db)
    assert [e.action for e in log] == ["dismiss_undo", "dismiss", "assign_undo", "assign"]
    assert all(e.actor.startswith("命令行") for e in log)
    out = tmp_path / "看一看"
    out.mkdir()
    res = kaohe(c, "show", att[:6], "-o", str(out))
    assert res.exit_code == 0 and f"已保存：{out / '考核表.xlsx'}" in res.output
    res = kaohe(c, "show", att[:6], "-o", str(out))
    assert f"已保存：{out / '考核表 (2).xlsx'}" in res.output
    res = kaohe(c, "show", "zzzz")
    assert res.exit_code == 1 and res.output.startswith("错误：附件编号“zzzz”不存在")


def test_add_with_chinese_received_time(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    path = tmp_path / "发改局附件4.xlsx"
    path.write_bytes(make_xlsx_form(4, sample_rows(4, 3), unit_line=None))
    res = kaohe(
        c, "add", str(path), "--unit", "发改", "--annex", "4", "--received", "2020年3月18日 15:00"
    )
    assert res.exit_code == 0, res.output
    assert (
        "收到时间记为 2020-03-18 15:00" in res.output
        and f"已解析为 {FGJ} 的附件4（读出 3 行）" in res.output
    )
    res = kaohe(c, "add", str(path), "--unit", "发改", "--annex", "4")
    assert res.exit_code == 1 and "无需重复添加" in res.output


def test_status_exit_codes(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    res = kaohe(c, "status")
    assert (
        res.exit_code == 1 and "从未成功收信" in res.output and "上次收信：从未收信" in res.output
    )
    assert kaohe(c, "status", "--no-daemon").exit_code == 0  # polling by hand: nothing failed
    poll(c.cfg)
    res = kaohe(c, "status")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("状态：正常") and "守护进程（kaohe run）：未运行" in res.output
    assert "已归档邮件：0 封" in res.output
    with open_store(c.cfg) as db:  # the last good poll was an hour ago: 6 intervals of 10 min
        db.execute("update polls set finished_at = datetime(finished_at, '-1 hour') || '+00:00'")
        db.execute("update polls set finished_at = replace(finished_at, ' ', 'T')")
    res = kaohe(c, "status")
    assert res.exit_code == 1 and "已超过 30 分钟（3 个收信周期）没有成功收信" in res.output
    assert kaohe(c, "status", "--no-daemon").exit_code == 0
    (c.root / "inbox").rename(c.root / "gone")  # the mailbox cannot be read
    assert kaohe(c, "poll").exit_code == 1
    for flag in ([], ["--no-daemon"]):
        res = kaohe(c, "status", *flag)
        assert res.exit_code == 1 and "状态：异常 —— 上次收信失败" in res.output, res.output


def test_report_as_of_takes_chinese_dates(tmp_path: Path) -> None:
    c = make_campaign(tmp_path)
    for as_of, shown in (
        ("2020年3月22日 8:00", "2020-03-22T08:00:00+08:00"),
        ("3月19日", "2020-03-19T23:59:59+08:00"),
    ):
        res = kaohe(c, "report", "--as-of", as_of, "--format", "json", "-o", "-")
        assert res.exit_code == 0, res.output
        assert f'"as_of": "{shown}"' in res.output

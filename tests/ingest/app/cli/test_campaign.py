"""``kaohe campaign learn/check`` and a learned campaign ingesting with no code change."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ingest.app.cli import cli
from parsers.schema import schemas_from_toml
from tests.support import campaign_2021 as y2021
from tests.support.campaign import Campaign, make_campaign
from tests.support.mails import make_mail


def run(*args: str) -> Any:
    res = CliRunner().invoke(cli, list(args))
    return res


def learn_2021(root: Path) -> Any:
    (root / "blank").mkdir(parents=True)
    for name, data in y2021.blank_forms().items():
        (root / "blank" / name).write_bytes(data)
    files = sorted(str(p) for p in (root / "blank").iterdir())
    return run("campaign", "learn", *files, "-o", str(root / "annexes.toml"))


def test_learn_2021_blank_forms_prints_and_writes_what_it_learned(tmp_path: Path) -> None:
    res = learn_2021(tmp_path)
    assert res.exit_code == 0, res.output
    assert "附件7  2021年度营商环境优化创新事项申报表" in res.output
    assert "列（8）：序号  任务类别  重点任务名称!  年度目标  完成时限  分值*" in res.output
    schemas = schemas_from_toml((tmp_path / "annexes.toml").read_text(encoding="utf-8"))
    assert list(schemas) == [2, 4, 7]
    for form in y2021.FORMS:
        got = schemas[form.number]
        assert (got.title, got.field_names, got.numeric_fields) == (
            form.title,
            form.fields,
            form.numeric,
        )


def season_2021(tmp_path: Path) -> Campaign:
    assert learn_2021(tmp_path).exit_code == 0
    c = make_campaign(tmp_path, roster=y2021.ROSTER, config=y2021.config())
    mails = [
        ("nzczj@163.com", "财政局2021年考核任务", 4, "南郑区财政局", "2021-03-10T09:00"),
        ("nzczj@163.com", "财政局创新事项", 7, "南郑区财政局", "2021-03-11T09:00"),
        ("dhkz2020@163.com", "大河坎镇指标建议", 2, "大河坎镇人民政府", "2021-03-12T09:00"),
    ]
    for i, (sender, subject, n, unit, when) in enumerate(mails):
        form = y2021.BY_NUMBER[n]
        raw = make_mail(
            sender=sender,
            subject=subject,
            attachments=[(form.filename, y2021.filled_form(n, unit))],
        )
        c.deliver(f"{i}.eml", raw, when)
    return c


def test_a_learned_campaign_with_an_annex_7_ingests_with_no_code_change(tmp_path: Path) -> None:
    c = season_2021(tmp_path)
    cfgarg = ("-c", str(c.config_path))
    assert run(*cfgarg, "poll").exit_code == 0
    res = run(*cfgarg, "report", "--as-of", "2021-03-21T08:00", "--format", "json", "-o", "-")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    cz = next(u for u in report["units"] if u["unit"] == "南郑区财政局")["annexes"]
    assert (cz["4"]["status"], cz["4"]["rows"]) == ("submitted", 3)
    assert (cz["7"]["status"], cz["7"]["rows"]) == ("submitted", 2)
    spj = next(u for u in report["units"] if u["unit"] == "南郑区行政审批服务局")["annexes"]
    assert spj["7"]["status"] == "overdue"
    assert report["unassigned"] == []
    res = run(*cfgarg, "export", "--annex", "7", "--format", "csv", "-o", "-")
    assert res.exit_code == 0, res.output
    table = list(csv.reader(io.StringIO(res.output.lstrip("\ufeff"))))
    assert table[0][:5] == ["单位名称", "序号", "创新事项名称", "改革举措", "投入资金"]
    assert table[1][:5] == ["南郑区财政局", "1", "企业开办一日办结", "线上一网通办", "35.5"]
    res = run(*cfgarg, "export", "--annex", "4", "--format", "csv", "-o", "-")
    rows = list(csv.reader(io.StringIO(res.output.lstrip("\ufeff"))))
    assert rows[0][3:5] == ["重点任务名称", "年度目标"] and rows[2][3] == "政府债务风险防控"


def test_annex_option_follows_the_campaign(tmp_path: Path) -> None:
    c = season_2021(tmp_path)
    res = run("-c", str(c.config_path), "export", "--annex", "3", "--format", "csv", "-o", "-")
    assert res.exit_code != 0 and "没有附件3（本次的附件：2、4、7）" in res.output


def test_campaign_check_names_the_bad_key(tmp_path: Path) -> None:
    assert learn_2021(tmp_path).exit_code == 0
    c = make_campaign(tmp_path, roster=y2021.ROSTER, config=y2021.config())
    res = run("-c", str(c.config_path), "campaign", "check")
    assert res.exit_code == 0 and "附件7  2021年度营商环境优化创新事项申报表" in res.output
    text = (tmp_path / "annexes.toml").read_text(encoding="utf-8")
    (tmp_path / "annexes.toml").write_text(
        text.replace("numeric = true", 'numeric = "是"', 1), encoding="utf-8"
    )
    res = run("-c", str(c.config_path), "campaign", "check")
    assert res.exit_code == 1
    assert res.output.startswith("错误：campaign.annexes：annexes.toml：第1个 [[annex]]（附件2）")
    assert "（权重）：numeric 只能是 true 或 false" in res.output


OLD_TITLE = "申报2019年度镇（街道办）经济社会发展指标建议表"
OLD_HEAD = [["序号", "指标名称", "考核对象", "分值", "统计范围", "牵头部门", "联系人", "备注"]]
OLD_ROWS = [
    ["1", "地区生产总值增速", "各镇（街道办）", "5", "全口径", "区发改局", "张三", ""],
    ["2", "", "各镇（街道办）", "五分", "规上", "区统计局", "张三", ""],
]


def test_last_years_form_is_kept_flagged_and_returned_with_each_problem(tmp_path: Path) -> None:
    from email import message_from_bytes, policy

    from reports.output import build_report
    from tests.support.campaign_forms import docx_form

    c = make_campaign(tmp_path)
    form = docx_form("附件2", OLD_TITLE, OLD_HEAD, OLD_ROWS, "南郑区财政局")
    raw = make_mail(subject="财政局附件2", attachments=[("附件2：2019年指标建议表.docx", form)])
    c.deliver("old.eml", raw, "2020-03-12T09:00")
    assert run("-c", str(c.config_path), "poll").exit_code == 0
    report = build_report(c.cfg, c.cfg.campaign.deadline)
    a2 = next(u for u in report.units if u.unit == "南郑区财政局").annexes[2]
    assert a2.status == "submitted" and a2.rows == 2  # parsed with what maps, never dropped
    assert a2.checks == (
        "使用了旧模板：标题是2019年度的（本次为2020年度）；缺少列“评价方法”、“统计口径”；"
        "多出列“统计范围”、“联系人”",
        "第2行“指标名称”为空",
        "第2行“分值”不是数字：“五分”",
    )
    res = run("-c", str(c.config_path), "export", "--annex", "2", "--format", "csv", "-o", "-")
    header, first = list(csv.reader(io.StringIO(res.output.lstrip("\ufeff"))))[:2]
    assert first[header.index("统计口径")] == ""  # 统计范围 is not guessed into 统计口径
    res = run("-c", str(c.config_path), "campaign", "returns", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "已生成 1 封退回修改邮件草稿（未发送）" in res.output
    assert "南郑区财政局：3 处需修改" in res.output
    [draft] = (tmp_path / "data" / "outbox" / "returns").glob("*/*.eml")
    mail = message_from_bytes(draft.read_bytes(), policy=policy.default)
    assert mail["To"] == "nzczj@163.com" and "【退回修改】" in mail["Subject"]
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "1. 使用了旧模板：标题是2019年度的" in body and "3. 第2行“分值”不是数字" in body
    assert "请使用本次通知所附的新模板重新填写" in body


def test_campaign_new_scaffolds_a_folder_that_checks_clean(tmp_path: Path) -> None:
    import openpyxl

    blank = tmp_path / "blank"
    blank.mkdir()
    args = []
    for name, data in y2021.blank_forms().items():
        (blank / name).write_bytes(data)
        args += ["--template", str(blank / name)]
    folder = tmp_path / "2021"
    res = run("campaign", "new", str(folder), *args)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "annexes.toml",
        "config.toml",
        "roster.xlsx",
        "空白表",
    ]
    sheet = openpyxl.load_workbook(folder / "roster.xlsx").active
    assert [c.value for c in sheet[1]] == [
        "单位名称",
        "类别",
        "应报附件",
        "邮箱",
        "别名",
        "联系人",
        "联系电话",
    ]
    assert sheet["C2"].value == "2、4、7"
    res = run("-c", str(folder / "config.toml"), "campaign", "check")
    assert res.exit_code == 0, res.output
    assert (
        res.output.startswith("2021年度考核指标申报：")
        and "名单 1 个单位，没有发现问题" in res.output
    )
    res = run("campaign", "new", str(folder), *args)
    assert res.exit_code == 1 and "已存在且不是空目录" in res.output


def test_a_form_naming_another_unit_is_noted_not_moved(tmp_path: Path) -> None:
    from reports.output import build_report
    from tests.support.forms import make_xlsx_form, sample_rows

    c = make_campaign(tmp_path)
    form = make_xlsx_form(4, sample_rows(4, 2), unit_line="填报单位（盖章）：汉中市某某公司")
    c.deliver(
        "x.eml", make_mail(subject="附件4", attachments=[("附件4.xlsx", form)]), "2020-03-12T09:00"
    )
    assert run("-c", str(c.config_path), "poll").exit_code == 0
    report = build_report(c.cfg, c.cfg.campaign.deadline)
    a4 = next(u for u in report.units if u.unit == "南郑区财政局").annexes[4]
    assert a4.status == "submitted"  # counted for the sender's unit, as before
    assert a4.checks[0] == (
        "表上单位不符：表上填报单位为“汉中市某某公司”，不在单位名单中，此表计入“南郑区财政局”"
    )

"""A made-up "2021" campaign: new titles, renamed columns, an annex 7 that 2020 did not have.

Used by the learn/ingest tests and by ``scripts/make_demo_2021.py`` (``kaohe demo
--campaign 2021``). ``blank_forms()`` are what the office attaches to its notice;
``filled_form()`` what a unit sends back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.campaign_forms import docx_form, xlsx_form


@dataclass(frozen=True)
class Form2021:
    number: int
    kind: str  # docx | xlsx
    title: str
    headers: tuple[tuple[str, ...], ...]  # one row, or a parent row and a child row
    fields: tuple[str, ...]  # the canonical names learn should find
    numeric: frozenset[str]

    @property
    def filename(self) -> str:
        return f"附件{self.number}：{self.title}.{self.kind}"


FORMS = (
    Form2021(
        2,
        "docx",
        "申报2021年度镇（街道办）高质量发展指标建议表",
        (
            (
                "序号",
                "指标名称",
                "考核对象",
                "权重（分）",
                "评价办法",
                "数据来源",
                "牵头部门",
                "备注",
            ),
        ),
        ("序号", "指标名称", "考核对象", "权重", "评价办法", "数据来源", "牵头部门", "备注"),
        frozenset({"权重"}),
    ),
    Form2021(
        4,
        "xlsx",
        "2021年度区直部门重点工作考核任务申报表",
        (
            ("序号", "任务类别", "任务内容", "", "完成时限", "分值（分）", "责任科室", "备注"),
            ("", "", "重点任务名称", "年度目标", "", "", "", ""),
        ),
        ("序号", "任务类别", "重点任务名称", "年度目标", "完成时限", "分值", "责任科室", "备注"),
        frozenset({"分值"}),
    ),
    Form2021(
        7,
        "xlsx",
        "2021年度营商环境优化创新事项申报表",
        (("序号", "创新事项名称", "改革举措", "投入资金（万元）", "预期成效", "完成时限", "备注"),),
        ("序号", "创新事项名称", "改革举措", "投入资金", "预期成效", "完成时限", "备注"),
        frozenset({"投入资金"}),
    ),
)
BY_NUMBER = {f.number: f for f in FORMS}

ROWS: dict[int, list[list[Any]]] = {
    2: [
        [
            "1",
            "规上工业增加值增速",
            "各镇（街道办）",
            "8",
            "按全区排名计分",
            "区统计局",
            "区发改局",
            "",
        ],
        [
            "2",
            "农村居民人均可支配收入",
            "各镇（街道办）",
            "6",
            "完成目标得满分",
            "区统计局",
            "区农业农村局",
            "新增",
        ],
    ],
    4: [
        [1, "重点工作", "预算绩效管理改革", "全面实施预算绩效管理", "2021年12月", 10, "预算股", ""],
        [
            2,
            "重点工作",
            "政府债务风险防控",
            "债务率控制在警戒线以下",
            "2021年12月",
            8,
            "债务股",
            "",
        ],
        [3, "常规工作", "财政收入组织", "完成年度收入预算", "2021年12月", 12, "国库股", "按月通报"],
    ],
    7: [
        [1, "企业开办一日办结", "线上一网通办", 35.5, "开办时间压缩至1天", "2021年6月", ""],
        [2, "工程建设项目审批提速", "并联审批", 120, "审批时限压缩一半", "2021年9月", ""],
    ],
}


def _build(form: Form2021, rows: Sequence[Sequence[Any]], unit: str) -> bytes:
    make = docx_form if form.kind == "docx" else xlsx_form
    headers = [list(h) for h in form.headers]
    return make(f"附件{form.number}", form.title, headers, rows, unit)


def blank_forms() -> dict[str, bytes]:
    """The office's blank forms, by the file name of the notice's attachments."""
    return {f.filename: _build(f, [], "") for f in FORMS}


def filled_form(number: int, unit: str, rows: Sequence[Sequence[Any]] | None = None) -> bytes:
    form = BY_NUMBER[number]
    return _build(form, ROWS[number] if rows is None else rows, unit)


ROSTER = """\
单位名称,类别,应报附件,邮箱,别名,联系人,联系电话
南郑区财政局,区直部门,4、7,nzczj@163.com,财政局,杨帆,0916-5511202
大河坎镇人民政府,镇（街道办）,2,dhkz2020@163.com,大河坎镇,王强,0916-5531002
南郑区行政审批服务局,区直部门,7,nzspj@163.com,审批局,周敏,0916-5511230
"""


def config(annexes: str = "annexes.toml") -> str:
    return f"""\
[mailbox]
source = "maildir"
path = "inbox"

[campaign]
name = "2021年度考核指标申报"
deadline = "2021-03-20"
timezone = "Asia/Shanghai"
not_before = "2021-02-01"
annexes = "{annexes}"

[paths]
data_dir = "data"
roster = "roster.csv"
"""

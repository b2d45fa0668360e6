"""Make the bundled sample inbox for ``kaohe demo`` (ingest/app/demo_data).

Run from the repository root: ``.venv/bin/python scripts/make_demo_inbox.py``.
The output is committed; rerun it only to change the sample deliberately.
It reuses the test fixture builders so the demo mails look like the ones the
tests check: every filename encoding Chinese clients use, docx and xlsx forms
with title, unit line, merged cells and footers, a GBK-named zip, an encrypted
workbook, a photo of a stamped form, resubmissions, late mail, a duplicate, a
personal QQ sender and an ambiguous mail.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tests.support.corpus import encrypt_ooxml, make_png, make_zip  # noqa: E402
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows  # noqa: E402
from tests.support.mails import make_mail  # noqa: E402

OUT = ROOT / "ingest" / "app" / "demo_data"
TITLES = {
    2: "经济社会发展指标建议表",
    3: "共性考核指标建议表",
    4: "考核任务申报表",
    5: "负面清单考核指标（扣分）建议表",
    6: "特色亮点考核任务一览表",
}


def xlsx(annex: int, unit: str | None, n: int, **kw: Any) -> bytes:
    line = f"填报单位（盖章）：{unit}" if unit else None
    return make_xlsx_form(annex, sample_rows(annex, n), unit_line=line, **kw)


def docx(annex: int, unit: str | None, n: int, **kw: Any) -> bytes:
    line = f"填报单位（盖章）：{unit}" if unit else None
    return make_docx_form(annex, sample_rows(annex, n), unit_line=line, **kw)


def cover_letter(unit: str) -> bytes:
    """A Word cover letter with no table: not a form, kept as supporting material."""
    import io

    import docx as python_docx

    doc = python_docx.Document()
    doc.add_paragraph("关于报送2020年度特色亮点考核任务的说明")
    doc.add_paragraph(f"区考核办：现将我单位（{unit}）特色亮点考核任务一览表报送，请审核。")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def name(annex: int, unit: str = "", ext: str = "xlsx") -> str:
    return f"附件{annex}：{TITLES[annex]}{'（' + unit + '）' if unit else ''}.{ext}"


def mails() -> list[tuple[str, str, bytes]]:
    """(file name, received time, raw bytes) of every sample mail."""
    m: list[tuple[str, str, bytes]] = []

    def add(when: str, **kw: Any) -> None:
        m.append((f"{len(m) + 1:02d}.eml", f"2020-{when}:00+08:00", make_mail(**kw)))

    cz = "南郑区财政局"
    add(
        "03-12T09:30",
        sender="nzczj@163.com",
        sender_name=cz,
        subject="财政局考核任务申报",
        attachments=[(name(4, cz), xlsx(4, cz, 4))],
    )
    add(
        "03-15T16:02",
        sender="nzczj@163.com",
        sender_name=cz,
        subject="财政局考核任务申报（修改版）",
        attachments=[(name(4, cz), xlsx(4, cz, 6, merge_vertical="任务类别"))],
    )
    add(
        "03-18T10:15",
        sender="nzczj@163.com",
        sender_name=cz,
        subject="财政局附件2、5、6",
        name_style="rfc2047_b",
        attachments=[
            (name(2, cz), xlsx(2, cz, 3)),
            (name(5, cz), xlsx(5, cz, 2)),
            (name(6, cz, "docx"), docx(6, cz, 2)),
        ],
    )
    fg = "南郑区发展和改革局"
    add(
        "03-19T11:40",
        sender="nzfgj@163.com",
        sender_name="发改局",
        subject="发改局申报材料（压缩包）",
        attachments=[
            (
                "发改局申报材料.zip",
                make_zip(
                    {f"附件{n}{TITLES[n]}.xlsx": xlsx(n, fg, 3) for n in (2, 4, 5, 6)}, gbk=True
                ),
            )
        ],
    )
    jt = "南郑区教育体育局"
    add(
        "03-16T08:55",
        sender="nzjtj@163.com",
        sender_name="教体局",
        subject="教体局附件4",
        name_style="rfc2047_q",
        attachments=[(name(4), xlsx(4, jt, 5, header_style="spaced"))],
    )
    add(
        "03-22T09:10",
        sender="nzjtj@163.com",
        sender_name="教体局",
        subject="教体局特色亮点（补报）",
        attachments=[(name(6), xlsx(6, jt, 2))],
    )
    wj = "南郑区卫生健康局"
    add(
        "03-17T14:20",
        sender="nzwjj@163.com",
        sender_name="卫健局",
        subject="卫健局申报表",
        attachments=[
            (name(4, "卫健局"), encrypt_ooxml(xlsx(4, wj, 3))),
            (name(6, "卫健局", "docx"), docx(6, wj, 2)),
        ],
    )
    add(
        "03-20T17:45",
        sender="nzzjj@163.com",
        sender_name="住建局",
        subject="住建局附件4盖章扫描件",
        attachments=[("住建局附件4（盖章）.png", make_png(640, 480))],
    )
    ny = "南郑区农业农村局"
    add(
        "03-13T20:05",
        sender="38817265@qq.com",
        sender_name="林峰",
        subject="申报表",
        name_style="raw_gbk",
        attachments=[("农业农村局附件4考核任务申报表.xlsx", xlsx(4, None, 4))],
    )
    add(
        "03-14T10:00",
        sender="nznyncj@163.com",
        sender_name="农业农村局",
        subject="农业农村局附件2、6",
        attachments=[(name(2), xlsx(2, ny, 2, header_style="suffix")), (name(6), xlsx(6, ny, 2))],
    )
    sf = "南郑区司法局"
    add(
        "03-11T15:30",
        sender="nzsfj@163.com",
        sender_name="司法局",
        subject="司法局申报",
        name_style="gb2312_label_gbk_bytes",
        attachments=[
            (name(3, ext="docx"), docx(3, sf, 3, header_style="two_row")),
            (name(4), xlsx(4, sf, 4, header_style="two_row")),
            (name(6), xlsx(6, sf, 2)),
        ],
    )
    add(
        "03-19T09:00",
        sender="nzjwjw@163.com",
        sender_name="区纪委监委",
        subject="区纪委监委指标建议",
        attachments=[
            (name(3), xlsx(3, "区纪委监委", 4)),
            (name(4), xlsx(4, "区纪委监委", 3)),
            (name(6), xlsx(6, "区纪委监委", 1)),
        ],
    )
    add(
        "03-16T11:11",
        sender="nzzzb@163.com",
        sender_name="组织部",
        subject="组织部附件3、6",
        attachments=[(name(3), xlsx(3, "区委组织部", 5)), (name(6), xlsx(6, "区委组织部", 2))],
    )
    add(
        "03-21T08:30",
        sender="nzzzb@163.com",
        sender_name="组织部",
        subject="组织部附件4（补）",
        attachments=[(name(4), xlsx(4, "区委组织部", 3))],
    )
    xc = "中共汉中市南郑区委宣传部"
    add(
        "03-18T16:40",
        sender="nzxcb@163.com",
        sender_name="宣传部",
        subject="宣传部申报",
        attachments=[
            (name(3), xlsx(3, xc, 3)),
            (name(6), xlsx(6, xc, 2)),
            (name(4, ext="docx"), docx(4, xc, 3)[:4000]),
        ],
    )
    sw = "国家税务总局汉中市南郑区税务局"
    add(
        "03-17T10:25",
        sender="nzsw@163.com",
        sender_name="区税务局",
        subject="税务局附件4、6",
        name_style="rfc2231_continuation_split",
        attachments=[
            (name(4, "国家税务总局汉中市南郑区税务局"), xlsx(4, sw, 5, merge_vertical="任务类别")),
            (name(6), xlsx(6, sw, 2)),
        ],
    )
    hb = "汉中市生态环境局南郑分局"
    add(
        "03-19T15:50",
        sender="nzhbj@163.com",
        sender_name="生态环境分局",
        subject="生态环境分局申报",
        attachments=[
            (name(4), xlsx(4, hb, 4)),
            (name(5), xlsx(5, hb, 0)),
            (name(6), xlsx(6, hb, 2)),
        ],
    )
    gd = make_mail(
        sender="nzgdgs@163.com",
        sender_name="供电分公司",
        subject="南郑供电分公司附件4、6",
        attachments=[
            (name(4), xlsx(4, "国网汉中市南郑区供电分公司", 3)),
            (name(6), xlsx(6, "国网汉中市南郑区供电分公司", 1)),
        ],
        message_id="<gd-20200316@163.com>",
    )
    m.append((f"{len(m) + 1:02d}.eml", "2020-03-16T09:00:00+08:00", gd))
    m.append((f"{len(m) + 1:02d}.eml", "2020-03-16T09:00:00+08:00", gd))  # the same mail twice
    add(
        "03-18T19:20",
        sender="2690018811@qq.com",
        sender_name="邓辉",
        subject="工业园区管委会考核任务申报",
        body="宋老师好，工业园区管委会的表格见附件。",
        attachments=[("附件4.xlsx", xlsx(4, None, 3)), ("附件6.xlsx", xlsx(6, None, 2))],
    )
    for unit, addr, when, style in (
        ("汉山街道办事处", "nzhsjd@163.com", "03-10T10:00", "utf8"),
        ("大河坎镇人民政府", "dhkz2020@163.com", "03-12T15:00", "rfc2231"),
        ("协税镇人民政府", "xszrmzf@163.com", "03-19T18:30", "rfc2231_continuation_split"),
        ("梁山镇人民政府", "lszzf@126.com", "03-23T07:40", "content_type_only"),
        ("阳春镇人民政府", "ycz_gov@163.com", "03-20T23:10", "rfc2047_unquoted"),
        ("新集镇人民政府", "xjzzf@163.com", "03-17T09:45", "rfc2047_b"),
    ):
        atts = [(name(6, unit), xlsx(6, unit, 2, column_numbers=True))]
        if unit == "汉山街道办事处":
            atts.append((name(2, unit, "docx"), docx(2, unit, 2)))
        add(
            when,
            sender=addr,
            sender_name=unit,
            subject=f"{unit}特色亮点申报",
            name_style=style,
            attachments=atts,
        )
    add(
        "03-16T14:00",
        sender="hgzzf@163.com",
        sender_name="黄官镇",
        subject="黄官镇特色亮点",
        attachments=[
            ("特色亮点一览表.docx", docx(6, "黄官镇人民政府", 3)),
            ("报送说明.docx", cover_letter("黄官镇人民政府")),
        ],
    )
    add(
        "03-18T21:00",
        sender="55512345@qq.com",
        sender_name="小王",
        subject="考核表",
        attachments=[("考核任务申报表.xlsx", xlsx(4, None, 2))],
    )
    add(
        "03-19T08:20",
        sender="99887766@qq.com",
        sender_name="办公室",
        subject="财政局、住建局负面清单建议",
        attachments=[("负面清单建议表.xlsx", xlsx(5, None, 2))],
    )
    add(
        "03-09T09:00",
        sender="nzczj@163.com",
        sender_name=cz,
        subject="请问附件4模板在哪里下载？",
        body="宋老师您好，请问附件4的模板在哪里下载？谢谢。",
    )
    add(
        "01-15T10:00",
        sender="nzczj@163.com",
        sender_name=cz,
        subject="2019年度考核资料",
        attachments=[(name(4, cz), xlsx(4, cz, 2))],
    )
    return m


def main() -> None:
    inbox = OUT / "inbox"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    received = {}
    for fname, when, raw in mails():
        (inbox / fname).write_bytes(raw)
        received[fname] = when
    (OUT / "manifest.json").write_text(
        json.dumps({"received": received}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    size = sum(p.stat().st_size for p in inbox.iterdir())
    print(f"{len(received)} mails, {size / 1024:.0f} KiB in {inbox}")


if __name__ == "__main__":
    main()

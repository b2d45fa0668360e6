"""Make the sample of ``kaohe demo --campaign 2021`` (ingest/app/demo_data/2021).

Run from the repository root: ``.venv/bin/python scripts/make_demo_2021.py``.
A made-up "2021" round (tests/support/campaign_2021.py): the office's blank
forms (new titles, renamed and two-row columns, an annex 7 that 2020 did not
have), a roster, and mails: forms on time and late, one unit on last year's
form (flagged 使用了旧模板), one blank template sent back by mistake. The demo
learns the annexes from the blank forms first, then polls. The output is committed.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import campaign_2021 as y2021  # noqa: E402
from tests.support.forms import make_docx_form, sample_rows  # noqa: E402
from tests.support.mails import make_mail  # noqa: E402

OUT = ROOT / "ingest" / "app" / "demo_data" / "2021"
ROSTER = y2021.ROSTER + "南郑区发展和改革局,区直部门,2、4,nzfgj@163.com,发改局,陈静,0916-5511201\n"


def mails() -> list[tuple[str, str, bytes]]:
    """(file name, received time, raw bytes) of every sample mail."""
    out: list[tuple[str, str, bytes]] = []

    def add(
        when: str, sender: str, unit: str, subject: str, files: list[tuple[str, bytes]]
    ) -> None:
        raw = make_mail(sender=sender, sender_name=unit, subject=subject, attachments=files)
        out.append((f"{len(out) + 1:02d}.eml", f"2021-{when}:00+08:00", raw))

    cz, dhk, spj, fgj = (
        "南郑区财政局",
        "大河坎镇人民政府",
        "南郑区行政审批服务局",
        "南郑区发展和改革局",
    )
    f4, f7, f2 = y2021.BY_NUMBER[4], y2021.BY_NUMBER[7], y2021.BY_NUMBER[2]
    add(
        "03-10T09:30",
        "nzczj@163.com",
        cz,
        "财政局2021年度考核任务申报",
        [(f4.filename, y2021.filled_form(4, cz)), (f7.filename, y2021.filled_form(7, cz))],
    )
    add(
        "03-12T15:20",
        "dhkz2020@163.com",
        dhk,
        "大河坎镇高质量发展指标建议",
        [(f2.filename, y2021.filled_form(2, dhk))],
    )
    add(
        "03-15T10:05",
        "nzfgj@163.com",
        fgj,
        "发改局附件2、附件4",
        [
            (
                "附件2：经济社会发展指标建议表.docx",  # last year's form: flagged, never guessed
                make_docx_form(2, sample_rows(2, 3), unit_line=f"填报单位（盖章）：{fgj}"),
            ),
            (f4.filename, y2021.filled_form(4, fgj, y2021.ROWS[4][:2])),
        ],
    )
    add(
        "03-16T16:40",
        "nzspj@163.com",
        spj,
        "审批局创新事项申报表",
        [(f7.filename, y2021.filled_form(7, spj, []))],
    )  # the blank template by mistake
    add(
        "03-22T09:15",
        "nzspj@163.com",
        spj,
        "审批局创新事项申报表（补报）",
        [(f7.filename, y2021.filled_form(7, spj))],
    )
    return out  # fmt: skip


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "inbox").mkdir(parents=True)
    (OUT / "blank").mkdir()
    for name, data in y2021.blank_forms().items():
        (OUT / "blank" / name).write_bytes(data)
    received = {}
    for fname, when, raw in mails():
        (OUT / "inbox" / fname).write_bytes(raw)
        received[fname] = when
    (OUT / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (OUT / "manifest.json").write_text(
        json.dumps({"received": received}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{len(received)} mails, {len(y2021.FORMS)} blank forms in {OUT}")


if __name__ == "__main__":
    main()

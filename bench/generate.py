"""Synthetic mailboxes for the benchmarks: a roster, campaign mail and filler mail.

Forms come from the test builders (``tests/forms.py``), built once per
(annex, format, size) with a ``@@UNIT@@`` placeholder and then specialised per
mail by rewriting the placeholder inside the OOXML package (python-docx needs
0.2–2 s per table, so 2,500 forms could not be built one by one). Every
attachment is therefore a distinct file with its unit's name in the
``填报单位（盖章）：`` line and a distinct fill-in date. Mail headers and
attachment names come from ``tests/mails.py`` (the naming styles of real
Chinese clients).

A campaign mailbox is: one mail per unit and round, 1–4 annex forms each
(about 2.5 on average; docx and xlsx in equal measure), a share of
resubmissions (the same unit sending corrected forms later) and noise (mail
with no attachment, a photo, a text note, a mail from outside the roster).
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from imapclient import IMAPClient

from tests.support.dovecot import config_text
from tests.support.forms import make_docx_form, make_xlsx_form, sample_rows
from tests.support.mails import NAME_STYLES, Att, make_mail

PLACEHOLDER = "@@UNIT@@"
DATE_TEXT = "填报日期：2020年3月12日"
ANNEXES = (2, 3, 4, 5, 6)
ROW_COUNTS = (5, 8, 12)
DISTRICTS = (
    "南郑区",
    "汉台区",
    "城固县",
    "洋县",
    "西乡县",
    "勉县",
    "宁强县",
    "略阳县",
    "镇巴县",
    "留坝县",
    "佛坪县",
)
DEPARTMENTS = (
    "财政局",
    "发展和改革局",
    "教育局",
    "公安局",
    "民政局",
    "司法局",
    "人力资源和社会保障局",
    "自然资源局",
    "生态环境局",
    "住房和城乡建设局",
    "交通运输局",
    "水利局",
    "农业农村局",
    "商务局",
    "文化和旅游局",
    "卫生健康委员会",
    "退役军人事务局",
    "应急管理局",
    "审计局",
    "市场监督管理局",
    "统计局",
    "医疗保障局",
    "林业局",
    "信访局",
    "工业和信息化局",
    "科学技术局",
    "档案馆",
    "融媒体中心",
    "供销合作社",
    "城市管理执法局",
    "行政审批服务局",
    "数据局",
    "机关事务服务中心",
    "地方志办公室",
    "粮食和物资储备局",
    "国防动员办公室",
    "乡村振兴局",
    "投资促进局",
    "总工会",
    "团委",
    "妇联",
    "科协",
    "残联",
    "红十字会",
    "工商联",
    "侨联",
    "文联",
)
# The deadline in the bench config; mail before it is on time, after it late.
DEADLINE = datetime(2020, 3, 20, 15, 59, 59, tzinfo=UTC)
START = datetime(2020, 3, 2, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class BenchUnit:
    name: str
    email: str
    annexes: tuple[int, ...]


def roster(n_units: int, seed: int = 1) -> list[BenchUnit]:
    """*n_units* distinct units (district × department), each owing 1–5 annexes."""
    rnd = random.Random(seed)
    units = []
    for i in range(n_units):
        district = DISTRICTS[i % len(DISTRICTS)]
        dept = DEPARTMENTS[(i // len(DISTRICTS)) % len(DEPARTMENTS)]
        suffix = "" if i < len(DISTRICTS) * len(DEPARTMENTS) else f"第{i // 517 + 1}分局"
        annexes = tuple(sorted(rnd.sample(ANNEXES, rnd.randint(1, 4))))
        units.append(BenchUnit(f"{district}{dept}{suffix}", f"u{i:04d}@163.com", annexes))
    return units


def roster_csv(units: Sequence[BenchUnit], all_annexes: bool = False) -> str:
    lines = ["单位名称,类别,应报附件,邮箱"]
    for u in units:
        annexes = ANNEXES if all_annexes else u.annexes
        lines.append(f"{u.name},区直部门,{'、'.join(map(str, annexes))},{u.email}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- forms


def _cache_dir() -> Path:
    path = Path.home() / ".cache" / "kaohe-bench" / "forms-v1"
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def template(annex: int, fmt: str, n_rows: int) -> bytes:
    """A form with the placeholder unit line, cached on disk (docx takes seconds to build)."""
    path = _cache_dir() / f"a{annex}-{n_rows}.{fmt}"
    if path.exists():
        return path.read_bytes()
    rows = sample_rows(annex, n_rows)
    line = f"填报单位（盖章）：{PLACEHOLDER}"
    if fmt == "docx":
        data = make_docx_form(annex, rows, unit_line=line)
    else:
        data = make_xlsx_form(annex, rows, unit_line=line)
    path.write_bytes(data)
    return data


def specialise(data: bytes, unit: str, day: int) -> bytes:
    """The template with the unit's name and fill-in date written into its XML parts."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith(".xml"):
                body = body.replace(PLACEHOLDER.encode(), unit.encode())
                body = body.replace(DATE_TEXT.encode(), f"填报日期：2020年3月{day}日".encode())
            dst.writestr(info, body)
    return out.getvalue()


def form(annex: int, fmt: str, unit: str, day: int, n_rows: int) -> bytes:
    return specialise(template(annex, fmt, n_rows), unit, day)


def warm_templates() -> None:
    for annex in ANNEXES:
        for fmt in ("docx", "xlsx"):
            for n in ROW_COUNTS:
                template(annex, fmt, n)


# ---------------------------------------------------------------- mail


@dataclass(frozen=True)
class Mail:
    raw: bytes
    when: datetime
    forms: tuple[tuple[str, str], ...]  # (format, attachment name) of the declaration forms


def campaign_mails(
    n_mails: int, units: Sequence[BenchUnit], seed: int = 7, start: datetime = START, tag: str = ""
) -> list[Mail]:
    """*n_mails* mails in receipt order: ~85% submissions (~20% of them resubmissions), ~15% noise."""
    rnd = random.Random(seed)
    out: list[Mail] = []
    sent: list[BenchUnit] = []
    step = (DEADLINE + timedelta(days=4) - start) / max(1, n_mails)
    for i in range(n_mails):
        when = start + step * i
        day = when.astimezone(UTC).day
        roll = rnd.random()
        if roll < 0.15:
            out.append(Mail(_noise(rnd, i, units, when, tag), when, ()))
            continue
        resubmit = bool(sent) and roll > 0.83
        unit = rnd.choice(sent) if resubmit else units[len(sent) % len(units)]
        if not resubmit:
            sent.append(unit)
        annexes = list(unit.annexes)
        while len(annexes) < 2 and rnd.random() < 0.7:  # extra forms sent "to be safe"
            extra = rnd.choice(ANNEXES)
            if extra not in annexes:
                annexes.append(extra)
        atts: list[Att] = []
        forms = []
        for annex in sorted(annexes):
            fmt = "docx" if rnd.random() < 0.5 else "xlsx"
            name = f"附件{annex}：{unit.name}2020年度考核指标申报表.{fmt}"
            data = form(annex, fmt, unit.name + tag, day, rnd.choice(ROW_COUNTS))
            atts.append(Att(name, data, name_style=rnd.choice(NAME_STYLES[:4] + ("utf8",))))
            forms.append((fmt, name))
        subject = f"{unit.name}2020年度考核任务申报" + ("（更正）" if resubmit else "") + tag
        raw = make_mail(
            sender=unit.email,
            sender_name=unit.name,
            subject=subject,
            attachments=atts,
            date=when,
            message_id=f"<b{i}{tag}.{seed}@bench.test>",
        )
        out.append(Mail(raw, when, tuple(forms)))
    return out


def _noise(
    rnd: random.Random, i: int, units: Sequence[BenchUnit], when: datetime, tag: str
) -> bytes:
    kind = i % 4
    mid = f"<n{i}{tag}.{rnd.random():.8f}@bench.test>"
    if kind == 0:  # a question without attachments
        u = rnd.choice(units)
        return make_mail(
            sender=u.email,
            sender_name=u.name,
            subject=f"请问申报表模板在哪里下载{tag}",
            attachments=[],
            date=when,
            message_id=mid,
        )
    if kind == 1:  # a photo of a stamped page
        return make_mail(
            sender="someone@qq.com",
            sender_name="张伟",
            subject=f"盖章页照片{tag}",
            attachments=[("盖章页.jpg", b"\xff\xd8\xff\xe0" + rnd.randbytes(40_000))],
            date=when,
            message_id=mid,
        )
    if kind == 2:  # a text note
        return make_mail(
            sender="office@126.com",
            sender_name="办公室",
            subject=f"会议通知{tag}",
            attachments=[("通知.txt", "请各单位按时报送。".encode("gbk"))],
            date=when,
            message_id=mid,
        )
    return make_mail(
        sender="news@service.netease.com",
        sender_name="网易邮箱",
        subject=f"您的邮箱容量提醒{tag}",
        attachments=[],
        date=when,
        message_id=mid,
        body="尊敬的用户：您的邮箱空间即将用完。" * 20,
    )


def small_mails(n: int, seed: int = 3, start: datetime = START) -> Iterator[tuple[bytes, datetime]]:
    """*n* small mails without forms (history filling a years-old mailbox), built fast."""
    rnd = random.Random(seed)
    for i in range(n):
        when = start - timedelta(minutes=30 * (n - i))
        yield (
            make_mail(
                sender=f"p{rnd.randrange(5000)}@163.com",
                sender_name="历史邮件",
                subject=f"往来邮件 {i}",
                attachments=[],
                date=when,
                message_id=f"<h{i}.{seed}@bench.test>",
                body=f"第{i}封历史邮件。",
            ),
            when,
        )


def big_attachment_mail(mb: float, unit: BenchUnit) -> bytes:
    """One mail holding an xlsx form of about *mb* MB (an incompressible image inside)."""
    base = form(4, "xlsx", unit.name, 15, 8)
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(
            zipfile.ZipInfo("xl/media/image1.png"),
            random.Random(5).randbytes(int(mb * 1024 * 1024)),
            zipfile.ZIP_STORED,
        )
    name = f"附件4：{unit.name}申报表（含扫描件）.xlsx"
    return make_mail(
        sender=unit.email,
        sender_name=unit.name,
        subject=f"{unit.name}申报（大附件）",
        attachments=[(name, out.getvalue())],
        date=START,
        message_id="<big@bench.test>",
    )


# ---------------------------------------------------------------- loading


def append_all(
    client: IMAPClient,
    folder: str,
    mails: Sequence[tuple[bytes, datetime]] | Iterator[tuple[bytes, datetime]],
    chunk: int = 200,
) -> int:
    """MULTIAPPEND *mails* into *folder* (created if missing), *chunk* per command."""
    if not client.folder_exists(folder):
        client.create_folder(folder)
    batch: list[dict[str, object]] = []
    n = 0
    for raw, when in mails:
        batch.append({"msg": raw, "date": when})
        if len(batch) >= chunk:
            client.multiappend(folder, batch)
            n += len(batch)
            batch = []
    if batch:
        client.multiappend(folder, batch)
        n += len(batch)
    return n


# ---------------------------------------------------------------- config


def write_config(
    folder: Path, roster_text: str, mailbox: dict[str, object], not_before: str | None = None
) -> Path:
    """A complete kaohe config (TOML) under *folder*; *mailbox* holds the [mailbox] keys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "roster.csv").write_text(roster_text, encoding="utf-8")
    path = folder / "config.toml"
    path.write_text(config_text(mailbox, not_before=not_before), encoding="utf-8")
    return path

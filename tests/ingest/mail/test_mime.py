"""unpack(): headers, body text, every part that carries a file, defects on bad MIME."""

from __future__ import annotations

import base64
import random
import time
from datetime import UTC, datetime

import pytest

from ingest.mail.mime import Part, parse_address, unpack
from tests.support.mails import (
    NAME_STYLES,
    Att,
    attachment_part,
    b64_body,
    header,
    leaf,
    make_mail,
    multipart,
    text_part,
    top_headers,
)

FORM4 = "附件4：区直部门考核任务申报表（南郑区财政局）.xlsx"
XLSX = b"PK\x03\x04" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


def _heads(subject: str = "南郑区财政局申报") -> list[bytes]:
    return top_headers(
        sender="nzczj@163.com",
        sender_name="南郑区财政局",
        subject=subject,
        subject_charset="gbk",
        message_id=None,
        date=None,
    )


def _by_path(parts: list[Part]) -> dict[str, Part]:
    return {p.path: p for p in parts}


# --- headers --------------------------------------------------------------------


def test_headers_are_decoded() -> None:
    raw = make_mail(
        sender="NZCZJ@163.COM",
        subject="南郑区财政局2020年度考核任务申报",
        message_id="<abc@example.cn>",
        date="Thu, 12 Mar 2020 09:05:00 +0800",
    )
    msg = unpack(raw)
    assert msg.subject == "南郑区财政局2020年度考核任务申报"
    assert (msg.sender, msg.sender_name) == ("nzczj@163.com", "南郑区财政局")
    assert msg.message_id == "<abc@example.cn>"
    assert msg.date == datetime(2020, 3, 12, 1, 5, tzinfo=UTC)
    assert msg.date is not None and msg.date.utcoffset() is not None
    assert msg.defects == []


def test_reply_headers() -> None:
    raw = b"".join(_heads()) + (
        b"In-Reply-To: <q1@nz.gov.cn>\r\nReferences: <q0@nz.gov.cn>\r\n <q1@nz.gov.cn>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nok\r\n"
    )
    msg = unpack(raw)
    assert msg.in_reply_to == "<q1@nz.gov.cn>"
    assert msg.references == ["<q0@nz.gov.cn>", "<q1@nz.gov.cn>"]


def test_unknown_zone_date_is_utc_and_bad_date_is_a_defect() -> None:
    assert unpack(make_mail(date="Thu, 12 Mar 2020 09:05:00 -0000")).date == datetime(
        2020, 3, 12, 9, 5, tzinfo=UTC
    )
    msg = unpack(make_mail(date="下周一上午"))
    assert msg.date is None
    assert any("日期" in d for d in msg.defects)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"=?GBK?B?xM/Wo8f4ssbV/r7W?=" <NZCZJ@163.com>', ("南郑区财政局", "nzczj@163.com")),
        ("nzczj@163.com", ("", "nzczj@163.com")),
        ("南郑区财政局 <nzczj@163.com>", ("南郑区财政局", "nzczj@163.com")),
        (
            '"=?utf-8?B?'
            + base64.b64encode("财政局,办公室".encode()).decode()
            + '?=" <a@nz.gov.cn>',
            ("财政局,办公室", "a@nz.gov.cn"),
        ),
        ("\udcc4\udccf\udcd6\udca3 <x@qq.com>", ("南郑", "x@qq.com")),  # raw GBK bytes
        ("", ("", "")),
        (None, ("", "")),
        ("<<<>>>", ("", "")),
    ],
)
def test_parse_address(value: str | None, expected: tuple[str, str]) -> None:
    assert parse_address(value) == expected


# --- body text ------------------------------------------------------------------


def test_plain_body_preferred_over_html() -> None:
    msg = unpack(make_mail(body="请查收附件。", html="<p>HTML 版本</p>"))
    assert msg.body_text == "请查收附件。"


def test_html_only_body_is_stripped_to_text() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>您好&nbsp;&amp;</p>"
        "<script>alert(1)</script><div>南郑区财政局</div></body></html>"
    )
    raw = multipart("mixed", text_part(html, "html"), headers=_heads())
    assert unpack(raw).body_text == "您好 &\n南郑区财政局"


def test_body_declared_charset_gb2312_with_gbk_only_characters() -> None:
    body = leaf(
        [
            header("Content-Type", "text/plain; charset=gb2312"),
            header("Content-Transfer-Encoding", "8bit"),
        ],
        "经办人：王堃\r\n".encode("gbk"),
    )
    assert unpack(multipart("mixed", body, headers=_heads())).body_text == "经办人：王堃"


def test_unknown_body_charset_is_decoded_best_effort_with_a_defect() -> None:
    body = leaf(
        [
            header("Content-Type", "text/plain; charset=x-unknown"),
            header("Content-Transfer-Encoding", "base64"),
        ],
        b64_body("请查收".encode("gbk")),
    )
    msg = unpack(multipart("mixed", body, headers=_heads()))
    assert msg.body_text == "请查收"
    assert any("x-unknown" in d for d in msg.defects)


# --- parts ------------------------------------------------------------------------


@pytest.mark.parametrize("style", NAME_STYLES)
def test_attachment_in_every_name_style(style: str) -> None:
    msg = unpack(make_mail(attachments=[(FORM4, XLSX)], name_style=style))
    assert [(p.path, p.filename, p.payload, p.inline) for p in msg.parts] == [
        ("2", FORM4, XLSX, False)
    ]
    assert msg.parts[0].content_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert msg.defects == []


def test_text_attachment_is_a_part_not_body() -> None:
    raw = make_mail(body="正文", attachments=[Att("说明.txt", "附件说明".encode("gbk"))])
    msg = unpack(raw)
    assert msg.body_text == "正文"
    assert [(p.filename, p.payload) for p in msg.parts] == [("说明.txt", "附件说明".encode("gbk"))]


def test_inline_images_named_and_nameless_in_multipart_related() -> None:
    html = text_part('<p>盖章件：</p><img src="cid:a"><img src="cid:b">', "html")
    named = attachment_part(Att("image001.png", PNG, inline=True, content_id="a"), "rfc2047_b")
    nameless = leaf(
        [
            header("Content-Type", "image/jpeg"),
            header("Content-ID", "<b>"),
            header("Content-Transfer-Encoding", "base64"),
        ],
        b64_body(b"\xff\xd8\xff\xe0"),
    )
    related = multipart("related", html, named, nameless)
    msg = unpack(multipart("mixed", related, headers=_heads()))
    parts = _by_path(msg.parts)
    assert set(parts) == {"1.2", "1.3"}
    assert (parts["1.2"].filename, parts["1.2"].payload, parts["1.2"].inline) == (
        "image001.png",
        PNG,
        True,
    )
    assert (parts["1.3"].filename, parts["1.3"].content_type, parts["1.3"].inline) == (
        "inline-image-1-3.jpg",
        "image/jpeg",
        True,
    )
    assert msg.body_text == "盖章件："


def test_nameless_binary_attachment_gets_a_synthetic_name() -> None:
    part = leaf(
        [
            header("Content-Type", "application/octet-stream"),
            header("Content-Transfer-Encoding", "base64"),
            header("Content-Disposition", "attachment"),
        ],
        b64_body(XLSX),
    )
    msg = unpack(multipart("mixed", text_part("正文"), part, headers=_heads()))
    assert [(p.path, p.filename, p.payload) for p in msg.parts] == [("2", "attachment-2.bin", XLSX)]


def test_attached_message_is_one_eml_part_with_exact_bytes() -> None:
    inner = make_mail(subject="转发：发改局申报", attachments=[("附件6.docx", b"PK\x03\x04docx")])
    outer = make_mail(
        attachments=[Att(None, inner, content_type="message/rfc822", cte="7bit"), (FORM4, XLSX)]
    )
    msg = unpack(outer)
    assert [(p.path, p.filename, p.content_type) for p in msg.parts] == [
        ("2", "转发：发改局申报.eml", "message/rfc822"),
        ("3", FORM4, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]
    assert msg.parts[0].payload == inner
    again = unpack(msg.parts[0].payload)
    assert [(p.filename, p.payload) for p in again.parts] == [("附件6.docx", b"PK\x03\x04docx")]


def test_attached_message_keeps_its_own_name() -> None:
    inner = make_mail(subject="原邮件")
    outer = make_mail(
        attachments=[Att("转发的邮件.eml", inner, content_type="message/rfc822", cte="7bit")],
        name_style="rfc2047_b",
    )
    assert [(p.filename, p.payload) for p in unpack(outer).parts] == [("转发的邮件.eml", inner)]


def test_nested_mixed_inside_alternative() -> None:
    inner_mixed = multipart(
        "mixed",
        text_part("正文二"),
        attachment_part(Att("附件5.xls", b"\xd0\xcf\x11\xe0xls"), "rfc2231"),
    )
    alternative = multipart("alternative", text_part("正文一"), inner_mixed)
    raw = multipart(
        "mixed", alternative, attachment_part(Att(FORM4, XLSX), "raw_gbk"), headers=_heads()
    )
    msg = unpack(raw)
    assert [(p.path, p.filename) for p in msg.parts] == [("1.2.2", "附件5.xls"), ("2", FORM4)]
    assert msg.parts[0].payload == b"\xd0\xcf\x11\xe0xls"
    assert msg.body_text == "正文一\n\n正文二"


def test_single_part_message_that_is_the_attachment() -> None:
    raw = b"".join(_heads()) + (
        b'Content-Type: application/pdf; name="=?GBK?B?uL28/jQ=?=.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_body(b"%PDF-1.4 x")
    )
    msg = unpack(raw)
    assert [(p.path, p.filename, p.payload) for p in msg.parts] == [
        ("1", "附件4.pdf", b"%PDF-1.4 x")
    ]
    assert msg.body_text == ""


def test_bounce_report_lists_no_files() -> None:
    status = leaf(
        [header("Content-Type", "message/delivery-status")],
        b"Reporting-MTA: dns; mx.163.com\r\n\r\nFinal-Recipient: rfc822; a@b.cn\r\n",
    )
    headers_part = leaf([header("Content-Type", "text/rfc822-headers")], b"Subject: x\r\n")
    raw = multipart(
        "report", text_part("退信：无法投递\r\n第二行"), status, headers_part, headers=_heads()
    )
    msg = unpack(raw)
    assert msg.parts == []
    assert msg.body_text == "退信：无法投递\n第二行"


def test_paths_are_stable() -> None:
    raw = make_mail(attachments=[(FORM4, XLSX), ("b.pdf", b"%PDF")])
    assert unpack(raw) == unpack(raw)


# --- malformed input ----------------------------------------------------------------


def test_missing_boundary_parameter_is_salvaged() -> None:
    raw = make_mail(attachments=[(FORM4, XLSX)])
    head, _, rest = raw.partition(b'; boundary="')
    raw = head + b"\r\n" + rest.split(b"\r\n", 1)[1]
    msg = unpack(raw)
    assert [(p.filename, p.payload) for p in msg.parts] == [(FORM4, XLSX)]
    assert any("分隔符" in d for d in msg.defects)


def test_wrong_boundary_parameter_is_salvaged() -> None:
    raw = make_mail(attachments=[(FORM4, XLSX)]).replace(b'boundary="', b'boundary="WRONG', 1)
    msg = unpack(raw)
    assert [(p.filename, p.payload) for p in msg.parts] == [(FORM4, XLSX)]
    assert any("分隔符" in d for d in msg.defects)


def test_multipart_that_cannot_be_split_keeps_its_text() -> None:
    raw = b"From: a@b.cn\r\nContent-Type: multipart/alternative\r\n\r\njust text\r\n"
    msg = unpack(raw)
    assert (msg.parts, msg.body_text) == ([], "just text")
    assert any("分隔符" in d for d in msg.defects)


def test_truncated_message_decodes_what_it_can() -> None:
    data = bytes(random.Random(1).randrange(256) for _ in range(3000))
    raw = make_mail(attachments=[(FORM4, data)])
    cut = raw.index(b64_body(data)[:76]) + 2000  # inside the base64 text
    msg = unpack(raw[:cut])
    assert len(msg.parts) == 1
    got = msg.parts[0].payload
    assert 1000 < len(got) < len(data)
    assert data.startswith(got)
    assert any("结束分隔符" in d for d in msg.defects)
    assert any("base64" in d and FORM4 in d for d in msg.defects)


def test_message_cut_inside_the_closing_boundary_keeps_the_payload() -> None:
    raw = make_mail(attachments=[(FORM4, XLSX)])
    msg = unpack(raw[: raw.rindex(b"--\r\n") - 6])
    assert [(p.filename, p.payload) for p in msg.parts] == [(FORM4, XLSX)]
    assert any("结束分隔符" in d for d in msg.defects)


def test_bad_base64_characters_are_skipped_with_a_defect() -> None:
    text = base64.b64encode(XLSX)
    part = leaf(
        [
            header("Content-Type", 'application/octet-stream; name="a.xlsx"'),
            header("Content-Transfer-Encoding", "base64"),
        ],
        text[:40] + b"!!\xff" + text[40:] + b"\r\n",
    )
    msg = unpack(multipart("mixed", part, headers=_heads()))
    assert msg.parts[0].payload == XLSX
    assert any("base64" in d for d in msg.defects)


def test_padded_base64_blocks_glued_together() -> None:
    body = base64.b64encode(b"first") + b"\r\n" + base64.b64encode(b"second") + b"\r\n"
    part = leaf(
        [
            header("Content-Type", 'application/pdf; name="a.pdf"'),
            header("Content-Transfer-Encoding", "base64"),
        ],
        body,
    )
    assert unpack(multipart("mixed", part, headers=_heads())).parts[0].payload == b"firstsecond"


def test_missing_end_boundary_is_a_defect_but_parts_survive() -> None:
    raw = multipart(
        "mixed",
        text_part("正文"),
        attachment_part(Att(FORM4, XLSX), "rfc2231"),
        headers=_heads(),
        close=False,
    )
    msg = unpack(raw)
    assert [(p.filename, p.payload) for p in msg.parts] == [(FORM4, XLSX)]
    assert any("结束分隔符" in d for d in msg.defects)


def test_unknown_charset_in_a_name_is_a_defect() -> None:
    word = base64.b64encode("附件4.xlsx".encode("gbk")).decode()
    part = leaf(
        [
            header("Content-Type", f'application/octet-stream; name="=?x-unknown?B?{word}?="'),
            header("Content-Transfer-Encoding", "base64"),
        ],
        b64_body(XLSX),
    )
    msg = unpack(multipart("mixed", part, headers=_heads()))
    assert msg.parts[0].filename == "附件4.xlsx"
    assert any("x-unknown" in d for d in msg.defects)


@pytest.mark.parametrize(
    ("raw", "defect"),
    [
        (b"", "为空"),
        (b"   \r\n", "为空"),
        (b"\x00\x01\x02\xff\xfe binary junk \x89PNG", "不是邮件格式"),
        (b"Hello, this is just a note.\r\nNo headers here.\r\n", "不是邮件格式"),
    ],
)
def test_non_mime_input_gives_no_parts_and_a_defect(raw: bytes, defect: str) -> None:
    msg = unpack(raw)
    assert msg.parts == []
    assert any(defect in d for d in msg.defects)


def test_random_garbage_never_raises() -> None:
    rng = random.Random(7)
    good = make_mail(
        attachments=[(FORM4, XLSX), Att(None, PNG, content_type="image/png")], html="<p>x</p>"
    )
    for _ in range(300):
        raw = bytearray(good)
        for _ in range(rng.randrange(1, 40)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        unpack(bytes(raw[: rng.randrange(len(raw) + 1)]))  # must not raise


def test_large_attachment_is_fast() -> None:
    data = random.Random(3).randbytes(8 * 1024 * 1024)
    raw = make_mail(attachments=[(FORM4, data)])
    started = time.perf_counter()
    msg = unpack(raw)
    elapsed = time.perf_counter() - started
    assert msg.parts[0].payload == data
    assert elapsed < 5.0, f"unpack of an 8 MB attachment took {elapsed:.1f} s"


@pytest.mark.parametrize("raw", [b"", b"   ", b"\r\n\r\n", b" \t\x0b\x0c\r\n"])
def test_an_empty_or_blank_message_says_so(raw: bytes) -> None:
    msg = unpack(raw)
    assert msg.defects == ["邮件内容为空"] and msg.parts == [] and msg.sender == ""

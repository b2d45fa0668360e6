"""Subjects and attachment names in every form Chinese mail clients write them."""

from __future__ import annotations

import base64
import email
from email import policy
from email.header import Header
from email.message import Message

import pytest

from ingest.mail.names import (
    decode_filename,
    decode_header_text,
    decode_text_bytes,
    raw_header,
    safe_display_name,
    unknown_charsets,
)
from tests.support.mails import NAME_STYLES, SUBJECT_CHARSETS, encode_header_text, make_mail

FORM4 = "附件4：区直部门考核任务申报表（南郑区财政局）.xlsx"
GBK_ONLY = "附件6：特色亮点一览表（王堃、朱镕基审核）.docx"  # 堃, 镕 are not in GB2312
LONG = (
    "附件2：申报2020年度镇（街道办）经济社会发展指标建议表"
    "（南郑区发展和改革局经济运行股汇总第三稿）最终版.xlsx"
)
SPACED = "附件 4 申报表 (财政局).xlsx"
TRAVERSAL = "../../etc/passwd"
NAMES = (FORM4, GBK_ONLY, LONG, SPACED, TRAVERSAL)
SPLIT_STYLES = ("rfc2047_b_split_char", "rfc2231_continuation_split")


def _attachment(raw: bytes) -> Message:
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    part = msg.get_payload()[1]
    assert isinstance(part, Message)
    return part


def _part(headers: bytes) -> Message:
    return email.message_from_bytes(headers + b"\r\n\r\nx", policy=policy.compat32)


def _cases() -> list[tuple[str, str]]:
    return [
        (style, name)
        for style in NAME_STYLES
        for name in NAMES
        if not (style in SPLIT_STYLES and name.isascii())
    ]


@pytest.mark.parametrize(("style", "name"), _cases())
def test_every_name_style_decodes_to_the_original_name(style: str, name: str) -> None:
    part = _attachment(make_mail(attachments=[(name, b"PK\x03\x04")], name_style=style))
    assert decode_filename(part) == name


@pytest.mark.parametrize(
    ("style", "name"),
    [
        ("rfc2047_unquoted", FORM4),
        ("gb2312_label_gbk_bytes", GBK_ONLY),
        ("rfc2231_continuation_split", LONG),
        ("raw_gbk", FORM4),
        ("rfc2047_b_split_char", FORM4),
    ],
)
def test_fixtures_reproduce_what_the_email_package_gets_wrong(style: str, name: str) -> None:
    # Guards the builders: if they ever emit the easy form, the tests above prove nothing.
    raw = make_mail(attachments=[(name, b"x")], name_style=style)
    modern = email.message_from_bytes(raw, policy=policy.default).get_payload()[1]
    assert modern.get_filename() != name


def test_long_rfc2231_name_uses_several_continuations() -> None:
    raw = make_mail(attachments=[(LONG, b"x")], name_style="rfc2231_continuation_split")
    assert b"filename*2*=" in raw
    assert decode_filename(_attachment(raw)) == LONG


def test_outlook_gb2312_name_folded_in_two_words_verbatim() -> None:
    # Bytes as Outlook 2016 (zh-CN) writes them: GB2312 label, two words folded
    # inside the quotes; the second word starts on a continuation line.
    first, second = FORM4[:12].encode("gbk"), FORM4[12:].encode("gbk")
    headers = (
        b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\r\n"
        b'\tname="=?gb2312?B?' + base64.b64encode(first) + b"?=\r\n"
        b" =?gb2312?B?" + base64.b64encode(second) + b'?="\r\n'
        b"Content-Disposition: attachment;\r\n"
        b'\tfilename="=?gb2312?B?' + base64.b64encode(first) + b"?=\r\n"
        b" =?gb2312?B?" + base64.b64encode(second) + b'?="'
    )
    assert decode_filename(_part(headers)) == FORM4


def test_encoded_word_glued_to_plain_extension_gets_no_space() -> None:
    word = "=?GBK?B?" + base64.b64encode("附件4申报表".encode("gbk")).decode() + "?="
    part = _part(f'Content-Disposition: attachment; filename="{word}.xlsx"'.encode())
    assert decode_filename(part) == "附件4申报表.xlsx"


@pytest.mark.parametrize(
    "label",
    [
        "gb2312",
        "GB2312",
        "gbk",
        "cp936",
        "euc-cn",
        "x-gbk",
        "gb_2312-80",
        "GB18030",
        "csGB2312",
        "x-euc-cn",
        "936",
    ],
)
def test_every_gb_label_reads_gbk_only_characters(label: str) -> None:
    word = f"=?{label}?B?{base64.b64encode('王堃朱镕基'.encode('gbk')).decode()}?="
    assert decode_header_text(word) == "王堃朱镕基"


def test_gb2312_label_on_four_byte_gb18030_characters() -> None:
    # 𠮷 and 䶮 exist only in GB18030 (four-byte sequences), not in GBK.
    word = f"=?GB2312?B?{base64.b64encode('𠮷野、刘䶮'.encode('gb18030')).decode()}?="
    assert decode_header_text(word) == "𠮷野、刘䶮"


def test_folded_plain_text_keeps_the_whitespace_after_the_line_break() -> None:
    assert decode_header_text("Re: report\r\n\tfor March\r\n") == "Re: report\tfor March"


def test_hz_label_is_not_mistaken_for_gb() -> None:
    word = f"=?hz-gb-2312?B?{base64.b64encode('财政局'.encode('hz')).decode()}?="
    assert decode_header_text(word) == "财政局"


@pytest.mark.parametrize("charset", SUBJECT_CHARSETS)
def test_subject_in_each_charset(charset: str) -> None:
    subject, sender = "南郑区财政局2020年度考核任务申报（附件4、附件6）", "南郑区财政局"
    if charset == "big5":
        subject, sender = "南鄭區財政局2020年度考核任務申報（附件4、附件6）", "南鄭區財政局"
    raw = make_mail(subject=subject, sender_name=sender, subject_charset=charset)
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    assert decode_header_text(raw_header(msg, "subject")) == subject
    assert decode_header_text(raw_header(msg, "from")) == f'"{sender}" <nzczj@163.com>'


def test_quoted_printable_subject_with_underscore_space() -> None:
    raw = encode_header_text("考核 申报", "gbk", "Q").decode()
    assert "_" in raw
    assert decode_header_text(raw) == "考核 申报"


def test_adjacent_words_join_without_space_and_plain_text_stays() -> None:
    a = "=?UTF-8?B?" + base64.b64encode("南郑区".encode()).decode() + "?="
    b = "=?GBK?B?" + base64.b64encode("财政局".encode("gbk")).decode() + "?="
    assert decode_header_text(f"回复: {a}\r\n {b} 申报") == "回复: 南郑区财政局 申报"


def test_character_split_across_two_b_words_is_rejoined() -> None:
    data = "财政局".encode("gbk")
    words = [f"=?gbk?B?{base64.b64encode(p).decode()}?=" for p in (data[:3], data[3:])]
    assert decode_header_text(" ".join(words)) == "财政局"


def test_base64_text_cut_mid_quantum_is_rejoined() -> None:
    text = base64.b64encode("南郑区财政局".encode("gbk")).decode()
    assert decode_header_text(f"=?gbk?B?{text[:5]}?= =?gbk?B?{text[5:]}?=") == "南郑区财政局"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_unknown_charset_label_is_decoded_best_effort(encoding: str) -> None:
    word = f"=?x-unknown?B?{base64.b64encode('附件4'.encode(encoding)).decode()}?="
    assert decode_header_text(word) == "附件4"
    assert unknown_charsets(word) == ["x-unknown"]


def test_known_charsets_are_not_reported_unknown() -> None:
    assert unknown_charsets("=?gb_2312-80?B?uL28/g==?= =?utf-8?Q?a?=") == []
    assert unknown_charsets("attachment; filename*=x-bogus''%41") == ["x-bogus"]


@pytest.mark.parametrize(
    "garbage",
    [
        "=?gbk?B?@@@?=",
        "=?gbk?Q?=ZZ=?=",
        "=??B?YQ==?=",
        "=?\udcff?B?YQ==?=",
        "\udcb8\udcbd\udcff",
        "=?utf-8?B?/w==?=",
    ],
)
def test_garbage_header_text_never_raises(garbage: str) -> None:
    assert isinstance(decode_header_text(garbage), str)


def test_header_text_from_bytes_header_object_and_none() -> None:
    gbk = "南郑区财政局".encode("gbk")
    assert decode_header_text(gbk) == "南郑区财政局"
    assert decode_header_text(None) == ""
    # compat32 turns a raw 8-bit header into an unknown-8bit Header on get()
    msg = email.message_from_bytes(b"Subject: " + gbk + b"\r\n\r\n", policy=policy.compat32)
    header = msg.get("subject")
    assert isinstance(header, Header)
    assert decode_header_text(header) == "南郑区财政局"


def test_raw_utf8_is_preferred_over_gb18030_for_unlabelled_bytes() -> None:
    part = _part('Content-Disposition: attachment; filename="附件4.xlsx"'.encode())
    assert decode_filename(part) == "附件4.xlsx"


def test_rfc2231_form_wins_over_plain_form() -> None:
    part = _part(
        b'Content-Disposition: attachment; filename="fallback.xlsx"; '
        b"filename*=utf-8''%E9%99%84%E4%BB%B64.xlsx"
    )
    assert decode_filename(part) == "附件4.xlsx"


def test_mixed_rfc2231_sections_do_not_raise() -> None:
    # The stdlib sorts (None, 0, 1) section numbers together and raises TypeError here.
    part = _part(
        b"Content-Disposition: attachment; filename*=utf-8''a.xlsx; "
        b"filename*0*=gbk''%B8%BD; filename*1*=%BC%FE.xlsx"
    )
    assert decode_filename(part) == "附件.xlsx"


def test_rfc2231_plain_section_after_encoded_one() -> None:
    part = _part(
        b"Content-Disposition: attachment; filename*0*=gbk''%B8%BD%BC%FE4; filename*1=\".xlsx\""
    )
    assert decode_filename(part) == "附件4.xlsx"


def test_plain_continuations_holding_encoded_words() -> None:
    word = base64.b64encode("附件4".encode("gbk")).decode()
    part = _part(
        f'Content-Disposition: attachment; filename*0="=?gbk?B?{word}?="; '
        f'filename*1=".xlsx"'.encode()
    )
    assert decode_filename(part) == "附件4.xlsx"


def test_name_only_in_content_type_and_disposition_without_type() -> None:
    assert decode_filename(_part(b'Content-Type: application/pdf; name="a.pdf"')) == "a.pdf"
    assert decode_filename(_part(b'Content-Disposition: filename="b.pdf"')) == "b.pdf"


def test_windows_path_and_traversal_names_are_kept_verbatim() -> None:
    raw_name = "C:\\Users\\张三\\桌面\\附件4.xlsx"
    part = _part(b'Content-Disposition: attachment; filename="' + raw_name.encode("gbk") + b'"')
    assert decode_filename(part) == raw_name
    part = _part(b"Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd")
    assert decode_filename(part) == TRAVERSAL


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Type: text/plain",
        b"Content-Disposition: attachment",
        b'Content-Disposition: attachment; filename=""',
        b"Content-Type: application/pdf; name=",
    ],
)
def test_no_name_gives_none(headers: bytes) -> None:
    assert decode_filename(_part(headers)) is None


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Disposition: attachment; filename*=gbk''%ZZ%B8",
        b'Content-Disposition: attachment; filename="unterminated',
        b"Content-Disposition: attachment; filename*0*=x-nope''%FF%FE; filename*1*=%00",
        b"Content-Disposition: ;;;=;filename==?gbk?B?!?=",
        b"Content-Disposition: attachment; filename*=''",
    ],
)
def test_garbage_names_never_raise(headers: bytes) -> None:
    result = decode_filename(_part(headers))
    assert result is None or isinstance(result, str)


def test_unterminated_quote_keeps_the_name() -> None:
    part = _part(b'Content-Disposition: attachment; filename="a b.xlsx')
    assert decode_filename(part) == "a b.xlsx"


def test_decode_text_bytes_labels() -> None:
    assert decode_text_bytes("王堃".encode("gbk"), "GB2312") == "王堃"
    assert decode_text_bytes("南鄭".encode("big5"), "big5") == "南鄭"
    assert decode_text_bytes("附件".encode("gbk"), None) == "附件"
    # a declared UTF-8 text with one bad byte keeps its other characters
    assert decode_text_bytes("附件".encode() + b"\xff", "utf-8") == "附件\ufffd"


def test_safe_display_name() -> None:
    assert safe_display_name(TRAVERSAL) == ".._.._etc_passwd"
    assert safe_display_name("a\x00b\r\nc\\d") == "a_b__c_d"
    assert safe_display_name("报表\u202eslx.exe") == "报表_slx.exe"
    assert safe_display_name(FORM4) == FORM4
    assert safe_display_name("") == "_"

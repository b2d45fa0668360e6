"""A mail forwarded as an attachment is opened: its files, nested mails, depth limit."""

from __future__ import annotations

from ingest.core.config import LimitsConfig
from ingest.mail.forwarded import describe, is_forwarded, open_forwarded
from ingest.mail.mime import Part, unpack
from tests.support.mails import Att, make_mail


def forward(inner: bytes, name: str | None = None, **kw: str) -> bytes:
    """A mail that forwards *inner* as an attachment, the way 163 does (message/rfc822)."""
    kw.setdefault("sender", "zhangsan@163.com")
    kw.setdefault("sender_name", "张三")
    kw.setdefault("subject", "转发：申报材料")
    return make_mail(
        attachments=[Att(name, inner, content_type="message/rfc822", cte="8bit")],
        body="转发一下，请查收。",
        **kw,
    )


def test_forwarded_mail_lists_its_files_with_paths_and_container() -> None:
    inner = make_mail(attachments=[("附件4.xlsx", b"PK\x03\x04x"), ("说明.docx", b"PK\x03\x04y")])
    outer = unpack(forward(inner, "南郑区财政局2020年度考核任务申报.eml"))
    [eml] = outer.parts
    assert is_forwarded(eml)
    fwd = open_forwarded(eml, outer, LimitsConfig())
    assert fwd.mail.sender == "nzczj@163.com"
    assert fwd.mail.forwarded_by == ("zhangsan@163.com",)
    assert [(f.part.path, f.part.filename, f.container) for f in fwd.parts] == [
        ("2/2", "附件4.xlsx", "南郑区财政局2020年度考核任务申报.eml"),
        ("2/3", "说明.docx", "南郑区财政局2020年度考核任务申报.eml"),
    ]
    assert fwd.parts[0].part.payload == b"PK\x03\x04x"
    assert describe(fwd.mail).startswith("转发的邮件（原发件人 nzczj@163.com，")


def test_nested_two_levels_flattened_in_order() -> None:
    innermost = make_mail(attachments=[("附件6.docx", b"PK\x03\x04z")])
    middle = forward(innermost, "第一层.eml", sender="lisi@qq.com")
    outer = unpack(forward(middle, "第二层.eml"))
    fwd = open_forwarded(outer.parts[0], outer, LimitsConfig())
    assert [(f.part.filename, f.container, f.opened is not None) for f in fwd.parts] == [
        ("第一层.eml", "第二层.eml", True),
        ("附件6.docx", "第一层.eml", False),
    ]
    nested = fwd.parts[0].opened
    assert nested is not None and nested.forwarded_by == ("lisi@qq.com", "zhangsan@163.com")
    assert fwd.parts[1].mail.sender == "nzczj@163.com"
    assert fwd.parts[1].part.path == "2/2/2"


def test_nesting_past_the_limit_is_listed_not_opened() -> None:
    mail = make_mail(attachments=[("附件6.docx", b"PK\x03\x04z")])
    for level in range(3):
        mail = forward(mail, f"第{level}层.eml")
    outer = unpack(mail)
    fwd = open_forwarded(outer.parts[0], outer, LimitsConfig(max_archive_depth=1))
    assert [(f.part.filename, f.opened is not None, f.too_deep) for f in fwd.parts] == [
        ("第1层.eml", True, False),
        ("第0层.eml", False, True),
    ]


def test_an_eml_file_sent_as_octet_stream_is_a_forwarded_mail_too() -> None:
    inner = make_mail(attachments=[("附件4.xlsx", b"PK\x03\x04x")])
    part = Part("2", "原邮件.eml", "application/octet-stream", inner, False)
    assert is_forwarded(part)
    assert not is_forwarded(Part("2", "说明.eml", "application/octet-stream", b"\x00\x01", False))

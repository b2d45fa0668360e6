"""163 超大附件 and QQ 文件中转站 links are read from a body: name, size, expiry, link."""

from __future__ import annotations

from datetime import date

from ingest.mail.bigattach import UNKNOWN_NAME, find_big_attachments
from ingest.mail.mime import unpack
from tests.support.bigattach import netease_html, netease_text, qq_html
from tests.support.mails import make_mail

FORM4 = "附件4：考核任务申报表（南郑区财政局）.zip"


def test_163_html_block_gives_name_size_expiry_and_link() -> None:
    found = find_big_attachments(
        netease_html(
            [(FORM4, "56.32M", "2020年3月30日 10:32"), ("照片.rar", "800K", "2020年4月2日 08:00")]
        ),
        "",
    )
    assert [(f.filename, f.size, f.expires) for f in found] == [
        (FORM4, "56.32 MB", date(2020, 3, 30)),
        ("照片.rar", "800 KB", date(2020, 4, 2)),
    ]
    assert found[0].size_bytes == int(56.32 * 2**20)
    assert found[0].url.startswith("https://mail.163.com/large-attachment-download/")
    assert found[0].url != found[1].url  # each file keeps its own link
    assert found[0].reason == (
        "超大附件链接（56.32 MB，网易邮箱超大附件），请在 2020-03-30 前手动下载后用 `kaohe add` 导入"
    )


def test_163_plain_text_alternative_reads_the_same() -> None:
    [f] = find_big_attachments("", netease_text([(FORM4, "1.2G", "2020年4月1日 09:00")]))
    assert (f.filename, f.size, f.expires, f.service) == (
        FORM4,
        "1.2 GB",
        date(2020, 4, 1),
        "网易邮箱超大附件",
    )


def test_qq_transfer_station_title_and_span_count_once() -> None:
    found = find_big_attachments(
        qq_html([("附件3.xlsx", "12.5M", "2020年03月30日 17:33"), ("汇总.rar", "300K", "无限期")]),
        "",
    )
    assert [(f.filename, f.size, f.expires, f.permanent) for f in found] == [
        ("附件3.xlsx", "12.5 MB", date(2020, 3, 30), False),
        ("汇总.rar", "300 KB", None, True),
    ]
    assert all(f.url.startswith("https://wx.mail.qq.com/ftn/download") for f in found)
    assert (
        found[1].reason
        == "超大附件链接（300 KB，QQ邮箱超大附件/文件中转站），请手动下载后用 `kaohe add` 导入"
    )


def test_a_bare_service_link_is_still_flagged() -> None:
    text = "附件太大，请从这里下载 https://mail.163.com/large-attachment-download/index.html?p=Z&file=Q"
    [f] = find_big_attachments("", text)
    assert (f.filename, f.expires, f.size) == (UNKNOWN_NAME, None, "")
    assert "有效期未写明" in f.reason and "`kaohe add`" in f.reason


def test_ordinary_mail_has_none() -> None:
    assert find_big_attachments("<p>附件见下（共2个，12.5M）。</p>", "请查收，谢谢。") == []
    assert find_big_attachments("", "会议通知 https://www.163.com/news/a.html") == []


def test_found_in_a_whole_mail_with_both_bodies() -> None:
    files = [(FORM4, "56.32M", "2020年3月30日 10:32")]
    msg = unpack(make_mail(body=netease_text(files), html=netease_html(files)))
    assert msg.parts == []  # no attachment at all: the body is all there is
    [f] = find_big_attachments(msg.body_html, msg.body_text)
    assert (f.filename, f.expires) == (FORM4, date(2020, 3, 30))


def test_words_alone_are_not_a_link() -> None:
    # a reply quoting the office's notice: no service link, no file line → nothing to record
    assert find_big_attachments("", "> 请勿使用超大附件或文件中转站发送材料。\n收到，谢谢。") == []

"""Mail bodies carrying large-attachment links, as 163 and QQ webmail write them.

Modelled on the blocks the two services put in the html body (a div per file with
the file name as a link, ``(size, date 到期)`` in a grey span, and for QQ a
``bigatt_bt`` div whose title repeats name, size and expiry) and on their plain-text
alternative (name and size line, then the link).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

NETEASE_LINK = "https://mail.163.com/large-attachment-download/index.html?p=X{n}&file={k}&title={t}"
QQ_LINK = "https://wx.mail.qq.com/ftn/download?func=3&k={k}&key={k}{n}&fweb=1&cl=1"


def netease_html(
    files: list[tuple[str, str, str]], note: str = "您好，材料较大，用超大附件发送。"
) -> str:
    """163 body; *files* are (name, size as shown "56.32M", expiry "2020年3月30日 10:32")."""
    blocks = []
    for n, (name, size, expiry) in enumerate(files, start=1):
        url = escape(NETEASE_LINK.format(n=n, k=f"{n:04x}ab", t=quote(name)))
        blocks.append(
            '<div style="clear:both;height:36px;padding:6px 4px;">'
            f'<div style="float:left;"><a href="{url}" target="_blank">'
            '<img src="https://mimg.127.net/xm/all/fj/ico-bfile-6.gif" width="32"></a></div>'
            f'<div style="padding:0 0 0 40px;"><a download="" filename="{escape(name)}" '
            f'href="{url}" target="_blank" style="color:#000;">{escape(name)}</a>'
            f'<span style="color:#bbb;">({size}, {expiry} 到期)</span></div>'
            f'<a href="{url}" target="_blank">下载</a></div>'
        )
    return (
        f"<div>{escape(note)}</div><br>"
        '<div style="padding:4px;border:1px solid #e6e6e6;">'
        '<div style="font-weight:bold;">从网易163邮箱发来的超大附件</div>'
        + "".join(blocks)
        + "</div>"
    )


def netease_text(files: list[tuple[str, str, str]]) -> str:
    """The plain-text alternative of a 163 large-attachment mail."""
    lines = ["您好，材料较大，用超大附件发送。", "", "从网易163邮箱发来的超大附件", ""]
    for n, (name, size, expiry) in enumerate(files, start=1):
        lines += [f"{name} ({size}, {expiry} 到期)"]
        lines += ["下载: " + NETEASE_LINK.format(n=n, k=f"{n:04x}ab", t=quote(name)), ""]
    return "\n".join(lines)


def qq_html(files: list[tuple[str, str, str]]) -> str:
    """QQ mail body (超大附件 from 文件中转站); expiry like "2020年03月30日 17:33" or "无限期"."""
    blocks = []
    for n, (name, size, expiry) in enumerate(files, start=1):
        url = escape(QQ_LINK.format(n=n, k="a1b2c3"))
        title = escape(f"{name}\n文件大小：{size}\n到期时间：{expiry}").replace("\n", "&#10;")
        blocks.append(
            f'<div class="bigatt_bt" title="{title}" style="clear:both;padding:4px;">'
            f'<a href="{url}" target="_blank"><img src="https://rescdn.qqmail.com/zh_CN/images/'
            'ftn/ico_zip.gif"></a>'
            f'<div><a href="{url}" target="_blank">{escape(name)}</a> '
            f'<span style="color:#a0a0a0;">({size}, {expiry} 到期)</span></div></div>'
        )
    return (
        '<div>附件较大，走的中转站。</div><div style="padding:2px 4px;background:#f2f2f2;">'
        '<div style="font-weight:bold;">从QQ邮箱发来的超大附件</div>' + "".join(blocks) + "</div>"
    )

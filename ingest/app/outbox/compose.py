"""Pieces shared by the mails the office sends: sender block, dates, drafts on disk."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from ingest.app.outbox.smtp import sender_address
from ingest.core.config import Config
from ingest.core.fsutil import atomic_write


@dataclass(frozen=True)
class Office:
    """Who signs the mails and whom units may call."""

    name: str = "南郑区考核办"
    contact: str = ""
    phone: str = ""
    mailbox: str = ""

    def signature(self, when: datetime) -> str:
        lines = []
        if self.contact or self.phone:
            who = "，".join(
                x
                for x in (
                    f"联系人：{self.contact}" if self.contact else "",
                    f"电话：{self.phone}" if self.phone else "",
                )
                if x
            )
            lines += [f"\u3000\u3000{who}。", ""]
        lines += [self.name, cn_date(when)]
        return "\n".join(lines)


def office_from_config(cfg: Config) -> Office:
    """The office as configured in ``[office]``; its mailbox is the one polled."""
    o = cfg.office
    return Office(
        name=o.name or cfg.smtp.sender_name,
        contact=o.contact,
        phone=o.phone,
        mailbox=cfg.mailbox.username or cfg.smtp.sender or cfg.smtp.username,
    )


def cn_date(dt: datetime) -> str:
    return f"{dt.year}年{dt.month}月{dt.day}日"


def cn_time(dt: datetime) -> str:
    return f"{cn_date(dt)} {dt:%H:%M}"


def new_message(
    cfg: Config, to: Sequence[str], subject: str, body: str, now: datetime
) -> EmailMessage:
    """A plain-text UTF-8 mail from the office, with Date and Message-ID."""
    msg = EmailMessage()
    msg["From"] = sender_address(cfg.smtp)
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    domain = (cfg.smtp.sender or cfg.smtp.username or "kaohe.local").rpartition("@")[2]
    msg["Message-ID"] = make_msgid("kaohe", domain=domain or "kaohe.local")
    msg.set_content(body, charset="utf-8")
    return msg


_UNSAFE = re.compile(r"[^\w\u4e00-\u9fff（）()-]+")


def write_drafts(
    messages: Sequence[EmailMessage], folder: Path, names: Sequence[str]
) -> list[Path]:
    """Write each message as ``NN-name.eml`` into *folder* (created); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    numbered = len(messages) > 1
    for i, (msg, name) in enumerate(zip(messages, names, strict=True), start=1):
        safe = _UNSAFE.sub("_", name)[:60] or "mail"
        path = folder / (f"{i:02d}-{safe}.eml" if numbered else f"{safe}.eml")
        atomic_write(path, msg.as_bytes())
        paths.append(path)
    return paths


def stamp_folder(root: Path, now: datetime) -> Path:
    """``root/YYYYMMDD-HHMMSS`` (a new folder per run, so drafts are never overwritten)."""
    return root / now.strftime("%Y%m%d-%H%M%S")

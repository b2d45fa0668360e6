"""The clerk's manual decisions: assignments and paper copies.

They live in their own tables, which ``reparse`` never touches.
"""

from __future__ import annotations

from datetime import date

from ingest.core.config import Config
from ingest.match.roster import RosterError, load_roster
from ingest.store import db as dbm


def assign_attachment(cfg: Config, attachment: str, unit_name: str, annex: int | None) -> str:
    """Record that *attachment* (id or unique prefix) belongs to a unit; re-derive its message.

    Returns the confirmation line shown to the clerk.
    """
    unit = load_roster(cfg.paths.roster).resolve(unit_name)
    db = dbm.open_db(cfg.db_path)
    try:
        found = dbm.find_attachment(db, attachment) if len(attachment) >= 4 else []
        if len(found) != 1:
            what = "不存在" if not found else f"不唯一（匹配 {len(found)} 个，请多输入几位）"
            raise RosterError(f"附件编号“{attachment}”{what}")
        att = found[0]
        if annex is None and not att["annex"]:
            raise RosterError("程序无法判断这个附件是附件几，请同时用 --annex 指定")
        with dbm.transaction(db):
            dbm.set_assignment(db, att["id"], att["message"], unit.name, annex)
    finally:
        db.close()
    from ingest.store.pipeline import reparse

    reparse(cfg, [att["message"]])
    annex_text = f"附件{annex or att['annex']}"
    return f"已将附件 {att['id']}（{att['filename']}）认领为 {unit.name} 的{annex_text}，并已重新解析该邮件。"


def record_paper(
    cfg: Config, unit_name: str, annex: int, on: date | None, undo: bool = False
) -> str:
    """Record (or with *undo* remove) the paper copy of *annex* from a roster unit.

    *on* defaults to today in the campaign timezone. Returns the line shown to the clerk.
    Raises :class:`RosterError` when the name does not mean exactly one roster unit.
    """
    unit = load_roster(cfg.paths.roster).resolve(unit_name)
    db = dbm.open_db(cfg.db_path)
    try:
        with dbm.transaction(db):
            if undo:
                gone = db.execute(
                    "delete from paper where unit = ? and annex = ?", [unit.name, annex]
                ).rowcount
                return (
                    f"已撤销 {unit.name} 附件{annex} 的纸质版记录。"
                    if gone
                    else f"{unit.name} 附件{annex} 本来就没有纸质版记录。"
                )
            day = (
                on
                or dbm.from_db(dbm.now_db())
                .astimezone(  # type: ignore[union-attr]
                    cfg.campaign.timezone
                )
                .date()
            )
            db.table("paper").upsert(
                {
                    "unit": unit.name,
                    "annex": annex,
                    "received_on": day.isoformat(),
                    "recorded_at": dbm.now_db(),
                },
                pk=("unit", "annex"),
            )
    finally:
        db.close()
    note = "" if annex in unit.required else f"（注意：名单中 {unit.name} 不需要报送附件{annex}）"
    return f"已记录：{day.isoformat()} 收到 {unit.name} 附件{annex} 的纸质版。{note}"

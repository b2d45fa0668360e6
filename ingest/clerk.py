"""The clerk's manual decisions: they live in their own table and survive every reparse."""

from __future__ import annotations

from ingest import db as dbm
from ingest.config import Config
from ingest.roster import RosterError, load_roster


def assign_attachment(cfg: Config, attachment: str, unit_name: str, annex: int | None) -> str:
    """Record that *attachment* (id or unique prefix) belongs to a unit; re-derive its message.

    Returns the confirmation line shown to the clerk.
    """
    roster = load_roster(cfg.paths.roster)
    unit = roster.find(unit_name)
    if unit is None:
        near = roster.find_in_text(unit_name)
        hint = f"；可能是：{'、'.join(u.name for u in near)}" if near else ""
        raise RosterError(f"单位名单中没有唯一对应“{unit_name}”的单位{hint}")
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
            dbm.set_assignment(db, att["id"], unit.name, annex)
    finally:
        db.close()
    from ingest.pipeline import reparse

    reparse(cfg, [att["message"]])
    annex_text = f"附件{annex or att['annex']}"
    return f"已将附件 {att['id']}（{att['filename']}）认领为 {unit.name} 的{annex_text}，并已重新解析该邮件。"

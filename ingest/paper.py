"""Paper copies (纸质版): the clerk records by hand that a unit's paper form arrived."""

from __future__ import annotations

from datetime import date

from ingest import db as dbm
from ingest.config import Config
from ingest.roster import RosterError, load_roster


def record_paper(cfg: Config, unit_name: str, annex: int, on: date | None,
                 undo: bool = False) -> str:
    """Record (or with *undo* remove) the paper copy of *annex* from a roster unit.

    *on* defaults to today in the campaign timezone. Returns the line shown to the clerk.
    Raises :class:`RosterError` when the name does not mean exactly one roster unit.
    """
    roster = load_roster(cfg.paths.roster)
    unit = roster.find(unit_name)
    if unit is None:
        near = roster.find_in_text(unit_name)
        hint = f"；可能是：{'、'.join(u.name for u in near)}" if near else ""
        raise RosterError(f"单位名单中没有唯一对应“{unit_name}”的单位{hint}")
    db = dbm.open_db(cfg.db_path)
    try:
        with dbm.transaction(db):
            if undo:
                gone = db.execute("delete from paper where unit = ? and annex = ?",
                                  [unit.name, annex]).rowcount
                return (f"已撤销 {unit.name} 附件{annex} 的纸质版记录。" if gone
                        else f"{unit.name} 附件{annex} 本来就没有纸质版记录。")
            day = on or dbm.from_db(dbm.now_db()).astimezone(  # type: ignore[union-attr]
                cfg.campaign.timezone).date()
            db.table("paper").upsert({"unit": unit.name, "annex": annex,
                                      "received_on": day.isoformat(),
                                      "recorded_at": dbm.now_db()}, pk=("unit", "annex"))
    finally:
        db.close()
    note = "" if annex in unit.required else f"（注意：名单中 {unit.name} 不需要报送附件{annex}）"
    return f"已记录：{day.isoformat()} 收到 {unit.name} 附件{annex} 的纸质版。{note}"

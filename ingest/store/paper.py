"""Paper copies (纸质版): the notice asks for the stamped paper form as well as the file.

One row per (unit, annex) in ``paper``; the clerk records several annexes at once
and can undo a wrong entry. Each annex's change is audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from ingest.core.config import Config
from ingest.store import db as dbm
from ingest.store.audit import record_action
from ingest.store.clerk_base import (
    DEFAULT_ACTOR,
    ClerkActionError,
    load_units,
    open_store,
    resolve_name,
)


def record_paper(
    cfg: Config,
    unit: str,
    annexes: Sequence[int],
    day: date | None,
    undo: bool = False,
    actor: str = DEFAULT_ACTOR,
) -> str:
    """Record (or with *undo* remove) the paper copies of *annexes* from one roster unit.

    *day* defaults to today in the campaign timezone. Returns the sentence shown to the clerk.
    """
    chosen = resolve_name(load_units(cfg), unit)
    wanted = sorted(set(annexes))
    if not wanted:
        raise ClerkActionError("请用 --annex 指定附件编号，例如 --annex 2,4")
    bad = [n for n in wanted if n not in cfg.annex_numbers]
    if bad:
        known = "、".join(map(str, cfg.annex_numbers))
        raise ClerkActionError(f"没有附件{'、'.join(map(str, bad))}（本次的附件：{known}）")
    on = day or datetime.now(cfg.campaign.timezone).date()
    with open_store(cfg) as db, dbm.transaction(db):
        old = {
            n: d
            for n, d in db.execute(
                "select annex, received_on from paper where unit = ?", [chosen.name]
            ).fetchall()
        }
        for n in wanted:
            target = f"{chosen.name} 附件{n}"
            if undo and n in old:
                db.execute("delete from paper where unit = ? and annex = ?", [chosen.name, n])
                record_action(db, actor, "paper_undo", target, {"received_on": old[n]}, None)
            elif not undo and old.get(n) != on.isoformat():
                db.table("paper").upsert(
                    {
                        "unit": chosen.name,
                        "annex": n,
                        "received_on": on.isoformat(),
                        "recorded_at": dbm.now_db(),
                    },
                    pk=("unit", "annex"),
                )
                before = {"received_on": old[n]} if n in old else None
                record_action(db, actor, "paper", target, before, {"received_on": on.isoformat()})
    return _sentence(chosen.name, chosen.required, wanted, old, on, undo)


def _sentence(
    name: str,
    required: frozenset[int],
    wanted: list[int],
    old: dict[int, str],
    on: date,
    undo: bool,
) -> str:
    def names(ns: list[int]) -> str:
        return "、".join(f"附件{n}" for n in ns)

    if undo:
        gone = [n for n in wanted if n in old]
        none = [n for n in wanted if n not in old]
        out = f"已撤销 {name} {names(gone)} 的纸质版记录。" if gone else ""
        return out + (f"{name} {names(none)} 本来就没有纸质版记录。" if none else "")
    out = f"已记录：{on.isoformat()} 收到 {name} {names(wanted)} 的纸质版。"
    changed = [n for n in wanted if n in old and old[n] != on.isoformat()]
    if changed:
        out += "（" + "，".join(f"附件{n}原记录为 {old[n]}" for n in changed) + "，已更新）"
    extra = [n for n in wanted if n not in required]
    if extra:
        out += f"（注意：名单中 {name} 不需要报送{names(extra)}）"
    return out

"""The clerk's decisions about one attachment: assign it to a unit, or dismiss it.

Both live in their own tables (``assignments``, ``dismissals``) that ``reparse``
never touches and re-applies every time. Each decision and its audit line are
written in one transaction; the message is then re-derived so the report shows
the decision at once. A decision is never silently overwritten: re-assigning says
what it replaced, and an assigned attachment must be un-assigned before it can
be dismissed (and the other way round).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from ingest.core.config import Config
from ingest.core.vocab import Outcome
from ingest.match.roster import Unit
from ingest.store import db as dbm
from ingest.store.audit import record_action
from ingest.store.clerk_base import (
    DEFAULT_ACTOR,
    ClerkActionError,
    attachment_row,
    describe,
    find_one,
    load_units,
    open_store,
    rederive,
    resolve_name,
    state_of,
)


def assign_attachment(
    cfg: Config, attachment: str, unit: str, annex: int | None, actor: str = DEFAULT_ACTOR
) -> str:
    """Record that *attachment* (id or unique prefix) is *unit*'s annex; re-derive its message.

    *annex* None keeps the annex the program recognised. Returns the sentence shown to
    the clerk, naming any earlier decision it replaced.
    """
    several = len(cfg.campaigns) > 1  # then the roster is the attachment's campaign's
    chosen = None if several else resolve_name(load_units(cfg), unit)
    if annex is not None and annex not in cfg.annex_numbers:
        raise ClerkActionError(
            f"没有附件{annex}（本次的附件：{'、'.join(map(str, cfg.annex_numbers))}）"
        )
    with open_store(cfg) as db:
        att = find_one(db, attachment)
        chosen = chosen or _unit_in_campaigns(cfg, att, unit)
        _check_assignable(db, att)
        old = _assignment(db, att["id"])
        new_annex = annex or (old["annex"] if old else None) or att["annex"]
        if not new_annex:
            raise ClerkActionError("程序无法判断这个附件是附件几，请同时用 --annex 指定")
        if old and (old["unit"], old["annex"]) == (chosen.name, new_annex):
            return f"附件 {att['id']} 本来就认领为 {chosen.name} 的附件{new_annex}，未作改动。"
        with dbm.transaction(db):
            dbm.set_assignment(db, att["id"], att["message"], chosen.name, new_annex)
            record_action(
                db,
                actor,
                "assign",
                att["id"],
                {**state_of(att), "assigned": _brief(old)},
                {"unit": chosen.name, "annex": new_annex},
            )
    rederive(cfg, att["message"])
    return (
        f"已将附件 {att['id']}（{att['filename']}）认领为 {chosen.name} 的附件{new_annex}"
        f"{_replaced(att, old)}。重新解析后：{_now(cfg, att['id'])}。"
    )


def _unit_in_campaigns(cfg: Config, att: dict[str, Any], text: str) -> Unit:
    """With several campaigns: the unit the clerk typed, from the roster of *att*'s campaign.

    An attachment whose campaign the machine could not tell is looked up in every
    campaign's roster: a unit that one roster has (or that means the same unit in each)
    is taken, and the re-derived analysis files the attachment under the campaign whose
    roster and annexes have it.
    """
    names = [att["campaign"]] if att.get("campaign") else [c.name for c in cfg.campaigns]
    found: dict[str, Unit] = {}
    refusals: list[tuple[str, ClerkActionError]] = []
    for name in names:
        try:
            unit = resolve_name(load_units(cfg.select(name)), text)
        except ClerkActionError as e:
            refusals.append((name, e))
            continue
        found.setdefault(unit.name, unit)
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        raise ClerkActionError(
            f"“{text}”在各次收集的名单中指不同的单位（{'、'.join(found)}），请写出完整名称",
            tuple(found),
        )
    name, first = refusals[0]
    where = f"附件 {att['id']} 属于“{name}”，" if len(names) == 1 else ""
    raise ClerkActionError(f"{where}{first}", first.candidates)


def undo_assignment(cfg: Config, attachment: str, actor: str = DEFAULT_ACTOR) -> str:
    """Remove the clerk's assignment of *attachment*; the program's own reading applies again."""
    with open_store(cfg) as db:
        att = find_one(db, attachment)
        old = _assignment(db, att["id"])
        if old is None:
            raise ClerkActionError(f"附件 {att['id']}（{att['filename']}）没有人工认领，无需撤销")
        with dbm.transaction(db):
            db.execute("delete from assignments where attachment = ?", [att["id"]])
            record_action(db, actor, "assign_undo", att["id"], _brief(old), None)
    rederive(cfg, att["message"])
    return (
        f"已撤销附件 {att['id']}（{att['filename']}）的人工认领（原为 {old['unit']} 的附件"
        f"{old['annex']}）。重新解析后：{_now(cfg, att['id'])}。"
    )


def dismiss_attachment(
    cfg: Config, attachment: str, reason: str | None, actor: str = DEFAULT_ACTOR
) -> str:
    """Take *attachment* out of 待认领 for good (not a form, a unit not in the roster …).

    Survives every reparse; :func:`undo_dismissal` brings it back.
    """
    why = (reason or "").strip()
    with open_store(cfg) as db:
        att = find_one(db, attachment)
        _check_dismissable(db, att)
        with dbm.transaction(db):
            db.table("dismissals").insert(
                {
                    "attachment": att["id"],
                    "message": att["message"],
                    "reason": why,
                    "dismissed_at": dbm.now_db(),
                    "actor": actor,
                }
            )
            record_action(
                db,
                actor,
                "dismiss",
                att["id"],
                state_of(att),
                {"outcome": Outcome.DISMISSED, "reason": why},
            )
    rederive(cfg, att["message"])
    counted = (
        f"它原计为 {att['unit']} 的附件{att['annex']}，现已不再计入。"
        if att["outcome"] in (Outcome.PARSED, Outcome.UNPARSED)
        else ""
    )
    because = f"（原因：{why}）" if why else ""
    return (
        f"已排除附件 {att['id']}（{att['filename']}）{because}，不再列入待认领。{counted}"
        f"如需恢复：kaohe dismiss {att['id']} --undo"
    )


def undo_dismissal(cfg: Config, attachment: str, actor: str = DEFAULT_ACTOR) -> str:
    """Bring a dismissed attachment back; the program's own reading applies again."""
    with open_store(cfg) as db:
        att = find_one(db, attachment)
        row = db.execute(
            "select reason from dismissals where attachment = ?", [att["id"]]
        ).fetchone()
        if row is None:
            raise ClerkActionError(f"附件 {att['id']}（{att['filename']}）没有被排除，无需撤销")
        with dbm.transaction(db):
            db.execute("delete from dismissals where attachment = ?", [att["id"]])
            record_action(
                db,
                actor,
                "dismiss_undo",
                att["id"],
                {"outcome": Outcome.DISMISSED, "reason": row[0]},
                None,
            )
    rederive(cfg, att["message"])
    return (
        f"已撤销对附件 {att['id']}（{att['filename']}）的排除。重新解析后：{_now(cfg, att['id'])}。"
    )


def _check_assignable(db: sqlite_utils.Database, att: dict[str, Any]) -> None:
    if att["outcome"] == Outcome.EXPANDED:
        raise ClerkActionError(
            f"附件 {att['id']}（{att['filename']}）是压缩包本身，请认领压缩包里的文件（见报告待认领部分）"
        )
    if _dismissed(db, att["id"]):
        raise ClerkActionError(
            f"附件 {att['id']} 已被排除；如要认领，请先撤销排除：kaohe dismiss {att['id']} --undo"
        )


def _check_dismissable(db: sqlite_utils.Database, att: dict[str, Any]) -> None:
    if _dismissed(db, att["id"]):
        raise ClerkActionError(f"附件 {att['id']}（{att['filename']}）已经排除过了")
    if att["outcome"] == Outcome.EXPANDED:
        raise ClerkActionError(
            f"附件 {att['id']}（{att['filename']}）是压缩包本身，不在待认领中；请排除压缩包里的文件"
        )
    old = _assignment(db, att["id"])
    if old is not None:
        raise ClerkActionError(
            f"附件 {att['id']} 已人工认领为 {old['unit']} 的附件{old['annex']}；"
            f"如要排除，请先撤销认领：kaohe assign {att['id']} --undo"
        )


def _assignment(db: sqlite_utils.Database, att_id: str) -> dict[str, Any] | None:
    rows = list(db.query("select * from assignments where attachment = ?", [att_id]))
    return rows[0] if rows else None


def _dismissed(db: sqlite_utils.Database, att_id: str) -> bool:
    found = db.execute("select 1 from dismissals where attachment = ?", [att_id]).fetchone()
    return found is not None


def _brief(assignment: dict[str, Any] | None) -> dict[str, Any] | None:
    return (
        None if assignment is None else {"unit": assignment["unit"], "annex": assignment["annex"]}
    )


def _replaced(att: dict[str, Any], old: dict[str, Any] | None) -> str:
    if old is not None:
        return f"（替换了之前的认领：{old['unit']} 的附件{old['annex']}）"
    if att["unit"]:
        return f"（程序原识别为 {att['unit']} 的附件{att['annex'] or '?'}，以人工认领为准）"
    return ""


def _now(cfg: Config, att_id: str) -> str:
    with open_store(cfg) as db:
        return describe(attachment_row(db, att_id))

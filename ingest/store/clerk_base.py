"""What every clerk action shares: its error, the roster lookup, finding an attachment.

Clerk actions (``ingest.store.clerk`` and the modules it gathers) raise only
:class:`ClerkActionError`; its message is Chinese and shown as is by the CLI and
the web console.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from ingest.core.config import Config
from ingest.core.vocab import Outcome
from ingest.match.resolve import UnitAmbiguous, UnitNotFound, resolve_unit
from ingest.match.roster import Roster, RosterError, Unit, load_roster
from ingest.store import db as dbm

DEFAULT_ACTOR = "命令行"
MIN_ID = 4  # the clerk may type the first few characters of an attachment id
_HEX = re.compile(r"[0-9a-f]+")  # ids are hex; "%" or "_" must not act as LIKE wildcards


class ClerkActionError(Exception):
    """Raised when a clerk action cannot be done; the Chinese message says why and what to do.

    ``candidates`` holds roster names worth offering (ambiguous or near names).
    """

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = candidates


def load_units(cfg: Config) -> Roster:
    """The roster, its errors as :class:`ClerkActionError`."""
    try:
        return load_roster(cfg.paths.roster)
    except RosterError as e:
        raise ClerkActionError(str(e)) from None


def resolve_name(roster: Roster, text: str) -> Unit:
    """The unit the clerk typed (see :func:`ingest.match.resolve.resolve_unit`)."""
    try:
        return resolve_unit(roster, text)
    except UnitAmbiguous as e:
        raise ClerkActionError(str(e), e.candidates) from None
    except UnitNotFound as e:
        raise ClerkActionError(str(e), e.closest) from None


@contextmanager
def open_store(cfg: Config) -> Iterator[sqlite_utils.Database]:
    db = dbm.open_db(cfg.db_path)
    try:
        yield db
    finally:
        db.close()


def find_one(db: sqlite_utils.Database, attachment: str) -> dict[str, Any]:
    """The attachment whose id is or starts with *attachment* (at least 4 characters)."""
    text = attachment.strip().lower()
    if len(text) < MIN_ID:
        raise ClerkActionError(
            f"附件编号“{attachment}”太短：请至少输入 {MIN_ID} 位（见报告“待认领”部分）"
        )
    found = dbm.find_attachment(db, text) if _HEX.fullmatch(text) else []
    if not found:
        raise ClerkActionError(f"附件编号“{attachment}”不存在（附件编号见报告“待认领”部分）")
    if len(found) > 1:
        raise ClerkActionError(
            f"附件编号“{attachment}”不唯一（匹配 {len(found)} 个），请多输入几位"
        )
    return found[0]


def attachment_row(db: sqlite_utils.Database, att_id: str) -> dict[str, Any] | None:
    rows = list(db.query("select * from attachments where id = ?", [att_id]))
    return rows[0] if rows else None


def state_of(att: dict[str, Any]) -> dict[str, Any]:
    """The part of an attachment's derived state an audit line records."""
    return {k: att.get(k) for k in ("outcome", "unit", "annex", "reason")}


def describe(att: dict[str, Any] | None) -> str:
    """One phrase for where an attachment stands now: ``已解析为 X 的附件4（12 行）``."""
    if att is None:
        return "（附件已不存在）"
    outcome = att["outcome"]
    if outcome == Outcome.PARSED:
        return f"已解析为 {att['unit']} 的附件{att['annex']}（读出 {att['rows']} 行）"
    if outcome == Outcome.UNPARSED:
        return f"计为 {att['unit']} 的附件{att['annex']}，但无法读取：{att['reason'] or '未读出数据行'}"
    return Outcome(outcome).label if outcome in set(Outcome) else str(outcome)


def rederive(cfg: Config, message: str) -> None:
    """Re-run analysis of one message so the clerk's decision shows at once."""
    from ingest.store.pipeline import reparse

    try:
        reparse(cfg, [message])
    except RosterError as e:
        raise ClerkActionError(f"已保存，但重新解析失败：{e}") from None

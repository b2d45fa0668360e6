"""Does the unit written on the form agree with the unit the attachment counts for?

The form's ``填报单位`` line is the strongest evidence, but the unit is sometimes
decided otherwise: the line names a unit that is not in the roster (the sender
or the file name decided), or the clerk assigned the file to another unit. The
form then says something else than the report: the clerk (and the 退回修改 mail)
is told, nothing is changed.
"""

from __future__ import annotations

from ingest.match.roster import Roster
from parsers.template_check import WRONG_UNIT


def wrong_unit_notes(form_unit: str | None, unit: str | None, roster: Roster | None) -> list[str]:
    """``表上单位不符：…`` when the form names a unit other than *unit*, else nothing."""
    if not form_unit or not unit or roster is None:
        return []
    named = roster.find_in_text(form_unit)
    if any(u.name == unit for u in named):
        return []
    if named:
        others = "、".join(u.name for u in named)
        return [f"{WRONG_UNIT}：表上填报单位为“{form_unit}”（{others}），此表计入“{unit}”"]
    return [f"{WRONG_UNIT}：表上填报单位为“{form_unit}”，不在单位名单中，此表计入“{unit}”"]

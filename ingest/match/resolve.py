"""Which roster unit a clerk means by what they typed, and hints for the ones nobody named.

Every place a clerk types a unit (``assign``, ``paper``, ``add``, ``units`` and the
web console) goes through :func:`resolve_unit`:

1. an exact name or alias (after the roster's normalisation, with or without the
   ``南郑区`` prefix) is the unit;
2. else a unique unit whose name or alias starts with, ends with or contains the
   text (``宣传部``, ``纪委``, ``大河坎``), or that the text names, is the unit;
3. several such units → :class:`UnitAmbiguous` listing them;
4. none → :class:`UnitNotFound` suggesting the closest few names (difflib ratio
   and shared characters; no pinyin).

"Not found" and "ambiguous" are different errors with different words, so the
clerk knows whether to type more or to look the name up (``kaohe units``).
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

from ingest.match.roster import Roster, RosterError, Unit, normalise

CLOSEST = 3  # how many names "not found" suggests
MIN_SIMILARITY = 0.4  # one shared character (局) is not a resemblance
# Generic endings cut off to get a unit's core name for hints (财政局 → 财政).
_ENDINGS = (
    "街道办事处",
    "镇人民政府",
    "人民政府",
    "管理委员会",
    "委员会",
    "办事处",
    "分公司",
    "分局",
    "局",
    "镇",
    "街道",
    "办",
)


class UnitNotFound(RosterError):
    """Raised when no roster unit fits the typed name; ``closest`` holds the nearest names."""

    def __init__(self, text: str, closest: list[str]) -> None:
        self.text = text
        self.closest = tuple(closest)
        hint = f"。最接近的有：{'、'.join(closest)}" if closest else ""
        super().__init__(
            f"单位名单中没有“{text}”{hint}（可用 kaohe units 关键字 查看名单中的名称）"
        )


class UnitAmbiguous(RosterError):
    """Raised when the typed name fits several roster units; ``candidates`` lists them."""

    def __init__(self, text: str, candidates: list[str]) -> None:
        self.text = text
        self.candidates = tuple(candidates)
        shown = "、".join(candidates[:SHOWN])
        more = (
            f" 等（其余 {len(candidates) - SHOWN} 个可用 kaohe units 关键字 查看）"
            if len(candidates) > SHOWN
            else ""
        )
        super().__init__(
            f"“{text}”可能是以下 {len(candidates)} 个单位之一：{shown}{more}，请写出更完整的名称"
        )


SHOWN = 20  # candidates named in the message; a province's roster may give hundreds


def resolve_unit(roster: Roster, text: str) -> Unit:
    """The one unit *text* means; see the module docstring for the order."""
    norm = normalise(text)
    if not norm:
        raise UnitNotFound(text, [])
    exact = [u for u in roster.units if norm in _names(u)]
    if len(exact) == 1:
        return exact[0]
    found = exact or match_units(roster, text)
    if len(found) == 1:
        return found[0]
    if found:
        raise UnitAmbiguous(text, [u.name for u in found])
    raise UnitNotFound(text, [u.name for u in closest_units(roster, text)])


def match_units(roster: Roster, text: str) -> list[Unit]:
    """Units whose name or alias contains *text*, or that *text* names; roster order.

    An empty *text* matches every unit (``kaohe units`` without an argument).
    """
    norm = normalise(text)
    if not norm:
        return list(roster.units)
    named = set(map(id, roster.find_in_text(text)))
    return [u for u in roster.units if id(u) in named or any(norm in n for n in _names(u))]


def closest_units(roster: Roster, text: str, limit: int = CLOSEST) -> list[Unit]:
    """The units whose names look most like *text* (for "did you mean")."""
    norm = normalise(text)
    scored = [
        (max(_similarity(norm, n) for n in _names(u)), i, u) for i, u in enumerate(roster.units)
    ]
    scored = [s for s in scored if s[0] >= MIN_SIMILARITY]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [u for _, _, u in scored[:limit]]


def suggest_unit(roster: Roster, *texts: str) -> Unit | None:
    """The one unit that evidence (file name, subject, sender's name …) points to, if any.

    Texts are tried in order; the first that names exactly one unit — fully, or by
    its core name (``财政`` for ``南郑区财政局``) — decides; a text that names several
    stops the search. Only a hint for the clerk: it never assigns anything.
    """
    for text in texts:
        if not text:
            continue
        units = roster.find_in_text(text) or _by_core(roster, normalise(text))
        if len(units) == 1:
            return units[0]
        if len(units) > 1:
            return None
    return None


def _by_core(roster: Roster, norm: str) -> list[Unit]:
    """Units (roster order) one of whose core names *norm* contains: the substrings of
    *norm* looked up in an index, not every unit's cores tried (5,000 units × 400 texts
    made a 5,000-unit report's hints take 3 s)."""
    index = _core_index(roster)
    found: set[int] = set()
    for i in range(len(norm) - 1):
        for j in range(i + 2, min(len(norm), i + index.longest) + 1):
            found.update(index.cores.get(norm[i:j], ()))
    return [roster.units[k] for k in sorted(found)]


@dataclass(frozen=True)
class _CoreIndex:
    units: list[Unit]  # the roster's list it was built from (kept: its id stays unique)
    size: int
    cores: dict[str, list[int]]  # core name -> roster positions
    longest: int


_CORE_INDEXES: dict[int, _CoreIndex] = {}  # by id(roster.units); the last few rosters


def _core_index(roster: Roster) -> _CoreIndex:
    units = roster.units
    found = _CORE_INDEXES.get(id(units))
    if found is not None and found.units is units and found.size == len(units):
        return found
    cores: dict[str, list[int]] = {}
    for k, u in enumerate(units):
        for c in _cores(u):
            cores.setdefault(c, []).append(k)
    index = _CoreIndex(units, len(units), cores, max(map(len, cores), default=0))
    while len(_CORE_INDEXES) >= 4:
        _CORE_INDEXES.pop(next(iter(_CORE_INDEXES)), None)
    _CORE_INDEXES[id(units)] = index
    return index


@functools.lru_cache(maxsize=8192)
def _cores(unit: Unit) -> frozenset[str]:
    out = set()
    for key in unit.keys():
        for ending in _ENDINGS:
            if key.endswith(ending):
                key = key[: -len(ending)]
                break
        if len(key) >= 2:
            out.add(key)
    return frozenset(out)


@functools.lru_cache(maxsize=8192)
def _names(unit: Unit) -> frozenset[str]:
    """Normalised name, aliases, and both without the district prefix (cached per unit)."""
    return frozenset(unit.keys() | {normalise(unit.name)} | {normalise(a) for a in unit.aliases})


def _similarity(a: str, b: str) -> float:
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    shared = len(set(a) & set(b)) / max(len(set(a)), 1)
    return max(ratio, shared * 0.9)

"""The roster (annex 1): units that must declare, and how to find them in text.

Names and aliases are matched after normalisation: NFKC (full-width → half-width,
so brackets unify), whitespace removed, and the ``汉中市``/``南郑区``/``区``
prefix made optional. Matching in free text keeps the longest match, so
``区委办公室`` does not also count as ``区委``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_COLUMNS = ("单位名称", "类别", "应报附件")
OPTIONAL_COLUMNS = ("邮箱", "别名", "联系人", "联系电话")
_SPLIT = re.compile(r"[、,，;；\n\r]+")
_PREFIXES = ("汉中市南郑区", "南郑区", "汉中市", "南郑")
_SPACE = re.compile(r"\s+")


class RosterError(Exception):
    """Raised when the roster file is missing, unreadable or has bad rows."""


@dataclass(frozen=True)
class Unit:
    name: str
    category: str
    required: frozenset[int]
    emails: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    contact: str = ""
    phone: str = ""

    def keys(self) -> set[str]:
        """Normalised strings that name this unit in text."""
        out: set[str] = set()
        for n in (self.name, *self.aliases):
            key = normalise(n)
            if len(key) >= 2:
                out.add(key)
            for prefix in _PREFIXES:
                rest = key[len(prefix) :]
                if key.startswith(prefix) and len(rest) >= 2:
                    out.add(rest)
                    break
        return out


def normalise(text: str) -> str:
    """NFKC, no whitespace, one bracket style: the form names are compared in."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("【", "(").replace("】", ")").replace("[", "(").replace("]", ")")
    return _SPACE.sub("", text).replace("\u3000", "")


@dataclass
class Roster:
    units: list[Unit]
    _keys: list[tuple[str, Unit]] = field(default_factory=list, repr=False)
    _emails: dict[str, list[Unit]] = field(default_factory=dict, repr=False)
    _order: dict[str, int] = field(default_factory=dict, repr=False)  # name -> roster position
    # find_in_text's index: one regex finding the longest key at each position, and per
    # key text the keys it starts with (themselves included) and their places in _keys
    # (compiled at the first search: ~5 ms for 200 units, which kaohe poll's own process
    # never needs — its parse workers do, and a pickled pattern is compiled again anyway)
    _finder_source: str | None = field(default=None, init=False, repr=False, compare=False)
    _finder: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _within: dict[str, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for i, u in enumerate(self.units):
            self._order.setdefault(u.name, i)
            for k in u.keys():
                self._keys.append((k, u))
            for e in u.emails:
                self._emails.setdefault(e.lower(), []).append(u)
        self._keys.sort(key=lambda kv: -len(kv[0]))
        self._index_keys()

    def _index_keys(self) -> None:
        places: dict[str, list[int]] = {}
        for i, (key, _) in enumerate(self._keys):
            places.setdefault(key, []).append(i)
        for key in places:
            self._within[key] = tuple(
                sorted(i for n in range(2, len(key) + 1) for i in places.get(key[:n], ()))
            )
        self._finder_source = f"(?=({_trie_pattern(places)}))" if places else None
        self._finder = None

    def get(self, name: str) -> Unit | None:
        """The unit with exactly this roster name."""
        return next((u for u in self.units if u.name == name), None)

    def find(self, name: str) -> Unit | None:
        """The one unit a clerk's typed name means (name, alias, with or without prefix)."""
        units = self.find_in_text(name)
        exact = [u for u in units if normalise(name) in u.keys()]
        if len(exact) == 1:
            return exact[0]
        return units[0] if len(units) == 1 else None

    def resolve(self, name: str) -> Unit:
        """The unit a clerk typed (:func:`ingest.match.resolve.resolve_unit`)."""
        from ingest.match.resolve import resolve_unit

        return resolve_unit(self, name)

    def find_in_text(self, text: str) -> list[Unit]:
        """Units named in *text*, longest matches first, each once, in roster order.

        Only the keys that occur in *text* are tried: the longest key at each position
        and the keys it starts with, which are exactly the keys starting there.
        """
        norm = normalise(text)
        if self._finder_source is None or not norm:
            return []
        if self._finder is None:
            self._finder = re.compile(self._finder_source)
        present: set[int] = set()
        for match in self._finder.finditer(norm):
            present.update(self._within[match.group(1)])
        if not present:
            return []
        taken = [False] * len(norm)
        found: list[Unit] = []
        for key, unit in (self._keys[i] for i in sorted(present)):
            start = norm.find(key)
            while start >= 0:
                span = range(start, start + len(key))
                if not any(taken[i] for i in span):
                    for i in span:
                        taken[i] = True
                    if unit not in found:
                        found.append(unit)
                start = norm.find(key, start + 1)
        return sorted(found, key=lambda u: self._order[u.name])

    def by_email(self, address: str) -> list[Unit]:
        return list(self._emails.get(address.strip().lower(), []))


def _trie_pattern(keys: Collection[str]) -> str:
    """A regex matching the longest of *keys* that starts where it is tried."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for key in keys:
        node = root
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}  # a key ends here
    return _node_pattern(root)


def _node_pattern(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
    branches = [re.escape(ch) + _node_pattern(child) for ch, child in node.items() if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{body})?" if "" in node else body


HEADER_ROWS = 10  # the header may sit under a title or a note, in any sheet
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods")


def load_roster(path: Path) -> Roster:
    """Read the roster (.xlsx/.xls/.ods/.csv); every error names the file and the row."""
    if not path.exists():
        raise RosterError(f"单位名单文件不存在：{path}")
    try:
        sheet, rows, header_at = _find_header(path)
        units = _units(rows, header_at, sheet)
    except RosterError as e:
        raise RosterError(f"单位名单 {path}：{e}") from None
    return Roster(units)


def check_annexes(roster: Roster, annexes: Collection[int]) -> None:
    """Every 应报附件 is an annex of the campaign (its annexes.toml, or 2–6 built in)."""
    for unit in roster.units:
        wrong = sorted(set(unit.required) - set(annexes))
        if wrong:
            known = "、".join(map(str, annexes))
            raise RosterError(
                f"单位名单中“{unit.name}”的应报附件{'、'.join(map(str, wrong))}"
                f"不是本次的附件（本次的附件：{known}）"
            )


def _find_header(path: Path) -> tuple[str, list[list[str]], int]:
    """(sheet label for messages, its rows, index of the header row)."""
    sheets = _read_sheets(path) if path.suffix.lower() in SPREADSHEETS else [("", _read_csv(path))]
    for name, rows in sheets:
        for i, row in enumerate(rows[:HEADER_ROWS]):
            if "单位名称" in (c.strip() for c in row):
                return (f"工作表“{name}”" if len(sheets) > 1 else ""), rows, i
    where = "任何工作表" if len(sheets) > 1 else "文件"
    raise RosterError(f"{where}的前 {HEADER_ROWS} 行中都找不到表头“单位名称”")


def _units(rows: list[list[str]], header_at: int, sheet: str) -> list[Unit]:
    header = [c.strip() for c in rows[header_at]]
    for col in REQUIRED_COLUMNS:
        if col not in header:
            raise RosterError(f"{sheet}第{header_at + 1}行的表头缺少必需的列“{col}”")
    units: list[tuple[int, Unit]] = []
    for lineno, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        record = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h}
        if not any(record.values()):
            continue
        units.append((lineno, _unit(record, f"{sheet}第{lineno}行")))
    _check_duplicates(units, sheet)
    return [u for _, u in units]


def _unit(record: dict[str, str], where: str) -> Unit:
    name = record.get("单位名称", "")
    if not name:
        raise RosterError(f"{where}：“单位名称”为空")
    annexes = split_multi(record.get("应报附件", ""))
    if not annexes:
        raise RosterError(f"{where}（{name}）：“应报附件”为空，请填写该单位要报的附件编号，如 4、6")
    required: set[int] = set()
    for token in annexes:
        digits = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", token))
        if not digits or len(digits) > 2 or int(digits) < 2:  # annex 1 is this roster
            raise RosterError(f"{where}：“应报附件”中的“{token}”不是附件编号（如 4、6）")
        required.add(int(digits))
    return Unit(
        name=name,
        category=record.get("类别", ""),
        required=frozenset(required),
        emails=tuple(e.lower() for e in split_multi(record.get("邮箱", ""))),
        aliases=tuple(split_multi(record.get("别名", ""))),
        contact=record.get("联系人", ""),
        phone=record.get("联系电话", ""),
    )


def split_multi(cell: str) -> list[str]:
    return [p.strip() for p in _SPLIT.split(cell or "") if p.strip()]


def _check_duplicates(units: list[tuple[int, Unit]], sheet: str) -> None:
    """A unit listed twice (or two units sharing a name or alias) would be counted twice."""
    seen: dict[str, tuple[int, str]] = {}
    for lineno, u in units:
        for k in {normalise(u.name), *map(normalise, u.aliases)}:
            if k in seen:
                first, other = seen[k]
                what = (
                    f"单位“{u.name}”重复"
                    if other == u.name
                    else f"“{other}”与“{u.name}”的名称或别名“{k}”重复"
                )
                raise RosterError(f"{sheet}第{first}行和第{lineno}行：{what}，请删去或改正其中一行")
            seen[k] = (lineno, u.name)


def _read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError("编码无法识别（请另存为 UTF-8 或 GBK 的 CSV，或 .xlsx）")
    return [list(r) for r in csv.reader(io.StringIO(text))]


def _read_sheets(path: Path) -> list[tuple[str, list[list[str]]]]:
    """Every sheet of an .xlsx/.xls/.ods workbook as rows of text (python-calamine)."""
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
        sheets = [(name, wb.get_sheet_by_name(name).to_python()) for name in wb.sheet_names]
    except Exception:  # calamine raises several kinds for a damaged or foreign file
        raise RosterError(
            "无法打开这个表格文件（文件损坏、加密，或并非 Excel/WPS 表格）；请另存为 .xlsx 后重试"
        ) from None
    return [(name, [[_cell_text(v) for v in row] for row in rows]) for name, rows in sheets]


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)

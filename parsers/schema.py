"""Declarative annex schemas: titles, canonical fields and header synonyms as data.

A campaign's annexes live in a TOML file (CONTRACT §11): the 2020 notice's
ship as ``parsers/annexes_2020.toml`` (:data:`DEFAULT_SCHEMAS`); an office's own
file is read with :func:`schemas_from_toml`, which rejects a bad key with an
:class:`AnnexFileError` naming it. :func:`build_schemas` adds the synonyms an
office configures and rejects unknown annexes or fields.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "AnnexFileError",
    "AnnexSchema",
    "FieldSpec",
    "DEFAULT_SCHEMAS",
    "ANNEX_NUMBERS",
    "build_schemas",
    "map_header",
    "normalise_header",
    "schemas_from_toml",
    "title_year",
]


class AnnexFileError(ValueError):
    """An annexes.toml that cannot be used; the message is Chinese and names the key."""


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field of an annex, the header texts that mean it, and its rules."""

    name: str
    synonyms: tuple[str, ...] = ()
    numeric: bool = False
    required: bool = False  # every data row must fill it
    total: float | None = None  # the rows' values must add up to this


@dataclass(frozen=True)
class AnnexSchema:
    """One annex form: its number, title, canonical fields and title keywords.

    ``index`` maps a normalised header text (canonical name or synonym) to the
    canonical field; it is derived from ``fields``.
    """

    number: int
    title: str
    fields: tuple[FieldSpec, ...]
    title_keywords: tuple[str, ...] = ()
    unit_line: str = "填报单位"  # the label of the line that names the unit
    short_title: str = ""  # the name in report labels; "" = the title without its year
    index: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # map_header results per raw cell text; header scans see the same texts again and again
    cache: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for spec in self.fields:
            for text in (spec.name, *spec.synonyms):
                key = normalise_header(text)
                other = index.setdefault(key, spec.name)
                if other != spec.name:
                    raise AnnexFileError(
                        f"附件{self.number}：表头“{text}”同时对应“{other}”和“{spec.name}”两列"
                    )
        object.__setattr__(self, "index", index)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Canonical field names in form order."""
        return tuple(spec.name for spec in self.fields)

    @property
    def numeric_fields(self) -> frozenset[str]:
        """Canonical fields whose values are numbers (分值)."""
        return frozenset(spec.name for spec in self.fields if spec.numeric)

    @property
    def name_field(self) -> str:
        """The field that names a row: the first required one, else the first after 序号."""
        for spec in self.fields:
            if spec.required:
                return spec.name
        rest = [s.name for s in self.fields if normalise_header(s.name) != "序号"]
        return rest[0] if rest else self.fields[0].name

    @property
    def label(self) -> str:
        """The short name reports show after 附件N (``short_title``, else the title sans year)."""
        return self.short_title or re.sub(r"^(?:申报)?20\d\d\s*年度?", "", self.title)

    @property
    def year(self) -> int | None:
        """The year the title names (``申报2020年度…`` → 2020), if any."""
        return title_year(self.title)


_YEAR = re.compile(r"(20\d\d)\s*年")


def title_year(text: str) -> int | None:
    """The first ``20NN年`` in a title line, or None."""
    match = _YEAR.search(unicodedata.normalize("NFKC", text))
    return int(match.group(1)) if match else None


_SPACE = re.compile(r"[\s\u200b\u200c\u200d\ufeff]+")
_UNIT_SUFFIX = re.compile(
    r"\((?:分|%|‰|万元|亿元|元|个|项|天|日|月|年|次|人|家|条|件|万|吨|亩|公里|km)\)$"
)
_BRACKETS = str.maketrans({"【": "[", "】": "]", "〔": "(", "〕": ")", "［": "[", "］": "]"})


@lru_cache(maxsize=8192)
def normalise_header(text: str) -> str:
    """Canonical form of a header cell: no whitespace, ASCII brackets, no unit suffix.

    ``"分 值\\n（分）："`` -> ``"分值"``. NFKC folds full-width brackets, colons,
    digits and percent signs to their ASCII forms.
    """
    text = unicodedata.normalize("NFKC", text).translate(_BRACKETS)
    text = _SPACE.sub("", text).rstrip(":")
    text = _UNIT_SUFFIX.sub("", text)
    return text.rstrip(":")


_ANNEX_KEYS = {"number", "title", "keywords", "unit_line", "short_title", "field"}
_FIELD_KEYS = {"name", "synonyms", "numeric", "required", "total"}


def schemas_from_toml(text: str, source: str = "annexes.toml") -> dict[int, AnnexSchema]:
    """The annexes an ``annexes.toml`` defines, by number.

    Raises :class:`AnnexFileError` naming the file and the key (``annex[2].field[4].total``)
    when the text is not TOML, a key is unknown, or a value has the wrong type.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise AnnexFileError(f"{source} 不是有效的 TOML：{e}") from None
    unknown = sorted(set(raw) - {"annex"})
    if unknown:
        raise AnnexFileError(f"{source}：未知的配置项 {'、'.join(unknown)}（只能写 [[annex]]）")
    annexes = raw.get("annex")
    if not isinstance(annexes, list) or not annexes:
        raise AnnexFileError(f"{source}：没有任何 [[annex]]（至少要定义一个附件）")
    out: dict[int, AnnexSchema] = {}
    for i, item in enumerate(annexes, start=1):
        schema = _annex(item, f"{source}：第{i}个 [[annex]]")
        if schema.number in out:
            raise AnnexFileError(f"{source}：附件{schema.number} 定义了两次")
        out[schema.number] = schema
    return dict(sorted(out.items()))


def _annex(item: Any, where: str) -> AnnexSchema:
    _known(item, _ANNEX_KEYS, where)
    number = item.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 99:
        raise AnnexFileError(f"{where}：number（附件编号）必须是 1 到 99 的整数")
    where = f"{where}（附件{number}）"
    title = _text(item, "title", where, required=True)
    fields_raw = item.get("field")
    if not isinstance(fields_raw, list) or not fields_raw:
        raise AnnexFileError(f"{where}：没有 [[annex.field]]（至少要有一列）")
    specs = tuple(
        _field(f, f"{where}的第{j}个 [[annex.field]]") for j, f in enumerate(fields_raw, 1)
    )
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AnnexFileError(f"{where}：列名重复：{'、'.join(twice)}")
    return AnnexSchema(
        number,
        title,
        specs,
        _texts(item, "keywords", where),
        _text(item, "unit_line", where) or "填报单位",
        _text(item, "short_title", where),
    )


def _field(item: Any, where: str) -> FieldSpec:
    _known(item, _FIELD_KEYS, where)
    name = _text(item, "name", where, required=True)
    where = f"{where}（{name}）"
    flags = {k: item.get(k, False) for k in ("numeric", "required")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise AnnexFileError(f"{where}：{key} 只能是 true 或 false")
    total = item.get("total")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int | float)):
        raise AnnexFileError(f"{where}：total 必须是数字")
    if total is not None and not flags["numeric"]:
        raise AnnexFileError(f"{where}：写了 total 的列必须同时写 numeric = true")
    return FieldSpec(
        name,
        _texts(item, "synonyms", where),
        flags["numeric"],
        flags["required"],
        None if total is None else float(total),
    )


def _known(item: Any, keys: set[str], where: str) -> None:
    if not isinstance(item, dict):
        raise AnnexFileError(f"{where}：必须是一个表")
    unknown = sorted(set(item) - keys)
    if unknown:
        raise AnnexFileError(
            f"{where}：未知的配置项 {'、'.join(unknown)}（可用：{'、'.join(sorted(keys))}）"
        )


def _text(item: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = item.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise AnnexFileError(f"{where}：{key} 必须是{'非空' if required else ''}字符串")
    return value.strip()


def _texts(item: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise AnnexFileError(f'{where}：{key} 必须是字符串列表，例如 ["考核指标"]')
    return tuple(v.strip() for v in value)


BUILTIN_FILE = "annexes_2020.toml"
# Package data beside this module (installed with it: pyproject's package-data). A
# plain path, not importlib.resources: that machinery cost every command ~10 ms.
DEFAULT_SCHEMAS: dict[int, AnnexSchema] = schemas_from_toml(
    Path(__file__).with_name(BUILTIN_FILE).read_text(encoding="utf-8"), BUILTIN_FILE
)
# The annexes of the built-in campaign; a loaded campaign has its own (``schemas.keys()``).
ANNEX_NUMBERS: tuple[int, ...] = tuple(DEFAULT_SCHEMAS)


def build_schemas(
    extra: Mapping[int, Mapping[str, tuple[str, ...]]] | None = None,
    base: Mapping[int, AnnexSchema] | None = None,
) -> dict[int, AnnexSchema]:
    """Return the annex schemas of ``base`` (default: the built-in 2020 ones) with
    ``extra`` synonyms added.

    ``extra`` maps annex number -> canonical field -> additional header texts.
    Raises :class:`AnnexFileError` naming the annex or field when either is unknown,
    or when a synonym would map to two fields of one annex.
    """
    schemas = dict(DEFAULT_SCHEMAS if base is None else base)
    for annex, additions in (extra or {}).items():
        found = schemas.get(annex)
        if found is None:
            known = "、".join(map(str, sorted(schemas)))
            raise AnnexFileError(f"没有附件{annex}（本次的附件：{known}）")
        unknown = sorted(set(additions) - set(found.field_names))
        if unknown:
            raise AnnexFileError(
                f"附件{annex} 没有“{'、'.join(unknown)}”这一列"
                f"（有：{'、'.join(found.field_names)}）"
            )
        fields = tuple(
            replace(s, synonyms=s.synonyms + tuple(additions.get(s.name, ()))) for s in found.fields
        )
        schemas[annex] = replace(found, fields=fields)
    return schemas


_ANY_SUFFIX = re.compile(r"\([^()]{1,8}\)$")
_FUZZY_MIN = 4
_CACHE_MAX = 20_000


def map_header(cell_text: str, schema: AnnexSchema) -> str | None:
    """The canonical field of ``schema`` a header cell names, or None.

    Tries the normalised text, then the text without any short trailing bracket
    group (``完成时限(年月)``), then a unique known header of ≥4 characters the
    cell starts or ends with (``考核指标名称`` -> 指标名称).
    """
    try:
        return schema.cache[cell_text]
    except KeyError:
        pass
    if len(schema.cache) > _CACHE_MAX:
        schema.cache.clear()
    found = schema.cache[cell_text] = _map_uncached(cell_text, schema)
    return found


def _map_uncached(cell_text: str, schema: AnnexSchema) -> str | None:
    key = normalise_header(cell_text)
    if not key:
        return None
    found = schema.index.get(key)
    if found is None and key.endswith(")"):
        stripped = _ANY_SUFFIX.sub("", key)
        found = schema.index.get(stripped) if stripped else None
    if found is None and len(key) > _FUZZY_MIN:
        found = _map_affix(key, schema)
    return found


def _map_affix(key: str, schema: AnnexSchema) -> str | None:
    hits = {
        name
        for text, name in schema.index.items()
        if len(text) >= _FUZZY_MIN and (key.startswith(text) or key.endswith(text))
    }
    return hits.pop() if len(hits) == 1 else None

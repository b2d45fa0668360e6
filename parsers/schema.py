"""Declarative annex schemas: titles, canonical fields and header synonyms as data.

The defaults follow CONTRACT §4. An office can extend the synonym lists through
configuration; :func:`build_schemas` merges those extensions and rejects unknown
annexes or fields with a ``ValueError`` that names them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "AnnexSchema",
    "FieldSpec",
    "DEFAULT_SCHEMAS",
    "build_schemas",
    "map_header",
    "normalise_header",
]


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field of an annex and the header texts that mean it."""

    name: str
    synonyms: tuple[str, ...] = ()
    numeric: bool = False


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
                    raise ValueError(
                        f"annex {self.number}: header {text!r} maps to both {other} and {spec.name}"
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


def _f(name: str, *synonyms: str, numeric: bool = False) -> FieldSpec:
    return FieldSpec(name, tuple(synonyms), numeric)


_SEQ = _f("序号")
_NOTE = _f("备注")
_SCORE = ("分值", "分值权重", "权重")

DEFAULT_SCHEMAS: dict[int, AnnexSchema] = {
    2: AnnexSchema(
        2,
        "申报2020年度镇（街道办）经济社会发展指标建议表",
        (
            _SEQ,
            _f("指标名称", "考核指标", "指标"),
            _f("考核对象"),
            _f(*_SCORE, "建议分值", numeric=True),
            _f("评价方法", "评分办法", "考核评价方法", "评分标准"),
            _f("统计口径"),
            _f("牵头部门", "牵头单位", "责任单位"),
            _NOTE,
        ),
        ("经济社会发展指标",),
    ),
    3: AnnexSchema(
        3,
        "申报2020年度共性考核指标建议表",
        (
            _SEQ,
            _f("指标名称", "考核指标", "指标"),
            _f("考核内容", "主要内容"),
            _f("考核对象"),
            _f(*_SCORE, numeric=True),
            _f("评分标准", "评价方法", "评分办法"),
            _f("牵头部门", "牵头单位"),
            _NOTE,
        ),
        ("共性考核指标", "共性指标"),
    ),
    4: AnnexSchema(
        4,
        "区直部门、驻区垂管单位和专项工作考核对象考核任务申报表",
        (
            _SEQ,
            _f("任务类别", "类别", "任务类型"),
            _f("任务名称", "考核任务", "工作任务"),
            _f("目标要求", "目标任务", "完成标准", "工作目标"),
            _f("完成时限", "时限", "完成时间"),
            _f(*_SCORE, numeric=True),
            _f("责任科室", "责任股室", "责任部门"),
            _f("文件依据", "依据"),
            _NOTE,
        ),
        ("考核任务申报表", "考核对象考核任务"),
    ),
    5: AnnexSchema(
        5,
        "申报2020年度负面清单考核指标（扣分）建议表",
        (
            _SEQ,
            _f("负面清单事项", "扣分事项", "负面清单内容"),
            _f("考核对象"),
            _f("扣分标准", "扣分办法"),
            _f("认定依据", "评价方法", "认定方式"),
            _f("牵头部门", "牵头单位"),
            _NOTE,
        ),
        ("负面清单",),
    ),
    6: AnnexSchema(
        6,
        "申报2020年度镇（街道办）、部门（单位）特色亮点考核任务一览表",
        (
            _SEQ,
            _f("特色亮点名称", "特色亮点", "亮点名称", "项目名称"),
            _f("主要内容", "工作内容", "主要措施"),
            _f("预期成效", "预期目标", "目标成效"),
            _f("完成时限", "时限", "完成时间"),
            _f("责任领导", "分管领导"),
            _NOTE,
        ),
        ("特色亮点",),
    ),
}


def build_schemas(
    extra: Mapping[int, Mapping[str, tuple[str, ...]]] | None = None,
) -> dict[int, AnnexSchema]:
    """Return the annex schemas with ``extra`` synonyms added.

    ``extra`` maps annex number -> canonical field -> additional header texts.
    Raises ``ValueError`` naming the annex or field when either is unknown, or
    when a synonym would map to two fields of one annex.
    """
    if not extra:
        return dict(DEFAULT_SCHEMAS)
    schemas = dict(DEFAULT_SCHEMAS)
    for annex, additions in extra.items():
        base = schemas.get(annex)
        if base is None:
            raise ValueError(f"unknown annex {annex} (known: {sorted(DEFAULT_SCHEMAS)})")
        unknown = sorted(set(additions) - set(base.field_names))
        if unknown:
            raise ValueError(
                f"annex {annex}: unknown field {'、'.join(unknown)} "
                f"(known: {'、'.join(base.field_names)})"
            )
        fields = tuple(
            FieldSpec(s.name, s.synonyms + tuple(additions.get(s.name, ())), s.numeric)
            for s in base.fields
        )
        schemas[annex] = AnnexSchema(annex, base.title, fields, base.title_keywords)
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

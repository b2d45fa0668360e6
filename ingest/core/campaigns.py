"""Campaigns: ``[campaign]`` (one) or ``[[campaigns]]`` (several in one mailbox), CONTRACT §11.

Each campaign has its name, deadline, window (``not_before``/``until``), roster,
annexes (an annexes.toml, or the built-in 2020 ones) and subject keywords. The
office's ``[synonyms]`` extend every campaign that has the annex and field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.core.config_errors import ConfigError, parse_moment
from parsers.schema import (
    DEFAULT_SCHEMAS,
    AnnexFileError,
    AnnexSchema,
    build_schemas,
    schemas_from_toml,
)

logger = logging.getLogger(__name__)

KEYS = {"name", "deadline", "timezone", "not_before", "until", "annexes", "roster"}
KEYS_SEVERAL = KEYS | {"subject_keywords"}


@dataclass(frozen=True)
class CampaignConfig:
    name: str
    deadline: datetime  # aware
    timezone: ZoneInfo
    not_before: datetime | None = None  # aware; mail received earlier is ignored
    annexes: Path | None = None  # the campaign's annexes.toml; None = the built-in 2020 annexes
    # the annexes in force: the file's (or built-in) with [synonyms] added
    schemas: Mapping[int, AnnexSchema] = field(default_factory=lambda: DEFAULT_SCHEMAS)
    until: datetime | None = None  # aware; mail received later belongs to another campaign
    roster: Path | None = None  # None: [paths] roster
    subject_keywords: tuple[str, ...] = ()

    @property
    def annex_numbers(self) -> tuple[int, ...]:
        return tuple(self.schemas)

    def in_window(self, when: datetime) -> bool:
        """Was mail received at *when* inside this campaign's date window?"""
        early = self.not_before is not None and when < self.not_before
        return not early and not (self.until is not None and when > self.until)


def parse_campaigns(raw: dict[str, Any], base: Path) -> tuple[CampaignConfig, ...]:
    """``[campaign]`` or ``[[campaigns]]`` (not both); names unique."""
    if "campaign" in raw and "campaigns" in raw:
        raise ConfigError(
            "[campaign] 与 [[campaigns]] 只能写一种（多个收集请都写成 [[campaigns]]）"
        )
    if "campaigns" not in raw:
        if "campaign" not in raw:
            raise ConfigError("缺少配置节 [campaign]")
        table = raw["campaign"]
        if not isinstance(table, dict):
            raise ConfigError("[campaign] 必须是一个配置节")
        return (parse_campaign(table, base, "campaign", KEYS),)
    items = raw["campaigns"]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ConfigError("[[campaigns]] 必须是一个或多个配置节")
    found = tuple(
        parse_campaign(item, base, f"campaigns[{i}]", KEYS_SEVERAL)
        for i, item in enumerate(items, start=1)
    )
    names = [c.name for c in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"[[campaigns]] 中的 name 重复：{'、'.join(twice)}")
    return found


def parse_campaign(raw: dict[str, Any], base: Path, key: str, known: set[str]) -> CampaignConfig:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"未知的配置项 {key}.{unknown[0]}（可用：{'、'.join(sorted(known))}）")
    tzname = raw.get("timezone", "Asia/Shanghai")
    try:
        tz = ZoneInfo(str(tzname))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}.timezone 不是有效时区：{tzname}") from None
    name = raw.get("name", "")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}.name 必须是非空字符串")
    if "deadline" not in raw:
        raise ConfigError(f"缺少配置项 {key}.deadline")
    deadline = parse_moment(raw["deadline"], tz, f"{key}.deadline", end_of_day=True)
    window = {
        k: parse_moment(raw[k], tz, f"{key}.{k}", end_of_day=k == "until") if raw.get(k) else None
        for k in ("not_before", "until")
    }
    annexes = _path(raw["annexes"], base, f"{key}.annexes") if "annexes" in raw else None
    return CampaignConfig(
        name=name,
        deadline=deadline,
        timezone=tz,
        annexes=annexes,
        schemas=DEFAULT_SCHEMAS if annexes is None else load_annexes(annexes, f"{key}.annexes"),
        roster=_path(raw["roster"], base, f"{key}.roster") if "roster" in raw else None,
        subject_keywords=_words(raw.get("subject_keywords", []), f"{key}.subject_keywords"),
        **window,
    )


def _path(value: Any, base: Path, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} 必须是非空路径字符串")
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _words(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f'{key} 必须是字符串列表，例如 ["2021年度", "考核指标"]')
    return tuple(v.strip() for v in value)


def load_annexes(path: Path, key: str) -> dict[int, AnnexSchema]:
    """The annexes a campaign's annexes.toml defines; a clear error naming *key* otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{key} 指定的附件定义文件不存在：{path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{key} 指定的附件定义文件无法读取（{path}）：{e}") from None
    try:
        return schemas_from_toml(text, path.name)
    except AnnexFileError as e:
        raise ConfigError(f"{key}：{e}") from None


def with_rules(
    campaign: CampaignConfig,
    synonyms: Mapping[int, Mapping[str, tuple[str, ...]]],
    annex4_total: float | None,
    several: bool,
) -> CampaignConfig:
    """The campaign's annexes with [synonyms] added and the deprecated annex4_total applied.

    With several campaigns a synonym applies where the annex and field exist."""
    schemas = dict(campaign.schemas)
    for annex, extra in synonyms.items():
        if several:
            base = schemas.get(annex)
            extra = {f: v for f, v in extra.items() if base and f in base.field_names}
            if not extra:
                continue
        try:
            schemas = build_schemas({annex: extra}, schemas)
        except AnnexFileError as e:
            raise ConfigError(f"synonyms.{annex} 配置有误：{e}") from None
    if annex4_total is not None:
        schemas = legacy_total(schemas, annex4_total)
    return replace(campaign, schemas=schemas)


def legacy_total(schemas: dict[int, AnnexSchema], total: float) -> dict[int, AnnexSchema]:
    """``[checks] annex4_total`` (before annexes.toml) = ``total`` on annex 4's 分值 column."""
    logger.warning(
        "checks.annex4_total 已不推荐使用，请改为在 annexes.toml 附件4的“分值”列写 total = %g",
        total,
    )
    old = schemas.get(4)
    if old is None or "分值" not in old.field_names:
        return schemas  # this campaign has no such column: the old key does not apply
    fields = tuple(replace(f, total=total) if f.name == "分值" else f for f in old.fields)
    return {**schemas, 4: replace(old, fields=fields)}

"""The typed configuration: loaded and validated once at start-up, then frozen.

Every key is declared here; an unknown key or a bad value raises
:class:`ConfigError` naming the key, so nothing runs on a half-valid config.
Relative paths resolve against the config file's folder. Secrets are never
stored here: only the *name* of the environment variable or the path of the
private file that holds them (see :mod:`ingest.core.secrets`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path
from typing import Any, TypeVar

from ingest.core.campaigns import CampaignConfig as CampaignConfig
from ingest.core.campaigns import parse_campaigns, with_rules
from ingest.core.config_errors import ConfigError as ConfigError
from ingest.core.config_errors import parse_moment as parse_moment
from ingest.core.vocab import REPORT_FORMATS
from parsers.schema import AnnexSchema


@dataclass(frozen=True)
class MailboxConfig:
    source: str = "imap"  # "imap" | "maildir"
    host: str = "imap.163.com"
    port: int = 993
    ssl: bool = True
    starttls: bool = False
    username: str = ""
    password_env: str = ""
    password_file: Path | None = None
    folder: str = "INBOX"
    send_id: bool = True
    path: Path | None = None  # for source = "maildir"
    ca_file: Path | None = None  # extra CA bundle for certificate verification
    verify_tls: bool = True  # turning this off is logged loudly at every connect
    timeout_seconds: float = 60.0  # socket connect/read timeout
    batch_size: int = 25  # UIDs per FETCH round (sizes, dates; bodies of small messages)
    max_message_mb: float = 60.0  # larger messages are recorded as skipped, not fetched
    max_attempts: int = 5  # per-message fetch/processing retries before the clerk sees it
    post_action: str = "none"  # "none" | "keyword" | "copy"
    post_keyword: str = "KaoheArchived"
    post_folder: str = ""


@dataclass(frozen=True)
class PathsConfig:
    data_dir: Path
    roster: Path


@dataclass(frozen=True)
class ScheduleConfig:
    poll_every_minutes: int = 10
    report_at: time = time(8, 0)
    report_formats: tuple[str, ...] = REPORT_FORMATS


MAX_PARSE_WORKERS = 64


@dataclass(frozen=True)
class LimitsConfig:
    """Bounds that keep hostile or huge input from hurting the cycle."""

    max_attachment_mb: float = 30.0
    max_archive_total_mb: float = 200.0  # total expanded size of one archive
    max_archive_ratio: float = 200.0  # expanded / compressed, per member
    max_archive_members: int = 500
    max_archive_depth: int = 2  # archives inside archives
    convert_timeout_seconds: float = 120.0  # LibreOffice, per file
    parse_memory_mb: float = 1024.0  # address space of a parse worker (and of LibreOffice)
    parse_seconds: float = 60.0  # CPU and wall-clock time of one parse job
    parse_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # parallel parses


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""
    port: int = 465
    ssl: bool = True
    starttls: bool = False
    username: str = ""
    password_env: str = ""
    password_file: Path | None = None
    sender: str = ""  # From: address; defaults to username
    sender_name: str = "南郑区考核办"
    timeout_seconds: float = 60.0
    ca_file: Path | None = None
    verify_tls: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class ReportConfig:
    recipients: tuple[str, ...] = ()  # the daemon mails the daily html report here
    send: bool = False
    keep_days: int = 0  # 0 = keep every daily report


@dataclass(frozen=True)
class ReceiptsConfig:
    send: bool = False  # the daemon sends receipts after each poll


@dataclass(frozen=True)
class OfficeConfig:
    """Who signs reminders and receipts (the notice's contact line)."""

    name: str = "南郑区考核办"
    contact: str = ""  # e.g. 宋艳丽
    phone: str = ""  # e.g. 5511051


@dataclass(frozen=True)
class ChecksConfig:
    # deprecated: expected total 分值 of a unit's annex 4; now `total` in annexes.toml
    annex4_total: float | None = None


@dataclass(frozen=True)
class WebConfig:
    """The clerk's web console (``kaohe serve``; ``kaohe run`` serves it when enabled)."""

    enabled: bool = False
    listen: str = "127.0.0.1:8080"  # host:port; another address only when the admin says so
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True)
class Config:
    path: Path | None
    mailbox: MailboxConfig
    campaign: CampaignConfig
    paths: PathsConfig
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    receipts: ReceiptsConfig = field(default_factory=ReceiptsConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    office: OfficeConfig = field(default_factory=OfficeConfig)
    web: WebConfig = field(default_factory=WebConfig)
    # annex number -> canonical field -> extra synonyms (extend the defaults)
    synonyms: dict[int, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # every configured campaign ([[campaigns]]); ``campaign`` is the one selected
    campaigns: tuple[CampaignConfig, ...] = ()

    def select(self, name: str | None) -> Config:
        """This config seen through one campaign (``--campaign NAME``); required only
        when several are configured. Its roster becomes ``paths.roster``."""
        if name is None:
            if len(self.campaigns) > 1:
                names = "、".join(c.name for c in self.campaigns)
                raise ConfigError(f"配置了多个收集（{names}），请用 --campaign 指定是哪一个")
            return self
        for c in self.campaigns or (self.campaign,):
            if c.name == name or (name.isdigit() and name in c.name):
                roster = c.roster or self.paths.roster
                return replace(self, campaign=c, paths=replace(self.paths, roster=roster))
        names = "、".join(c.name for c in self.campaigns or (self.campaign,))
        raise ConfigError(f"没有名为“{name}”的收集（已配置：{names}）")

    @property
    def data_dir(self) -> Path:
        return self.paths.data_dir

    @property
    def schemas(self) -> Mapping[int, AnnexSchema]:
        """The campaign's annexes, synonyms and rules included."""
        return self.campaign.schemas

    @property
    def annex_numbers(self) -> tuple[int, ...]:
        """Every annex number the configured campaigns define."""
        found = {n for c in self.campaigns or (self.campaign,) for n in c.annex_numbers}
        return tuple(sorted(found))

    @property
    def db_path(self) -> Path:
        return self.paths.data_dir / "kaohe.db"


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Read, validate and freeze the TOML config at *path*."""
    p = Path(path).expanduser()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"配置文件不存在：{p}") from None
    except IsADirectoryError:
        raise ConfigError(f"配置文件路径是一个目录，不是文件：{p}") from None
    except PermissionError:
        raise ConfigError(f"没有权限读取配置文件：{p}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"配置文件不是 UTF-8 编码的文本：{p}（请用 UTF-8 保存）") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"配置文件格式错误（{p}）：{e}") from None
    return config_from_dict(raw, base=p.resolve().parent, path=p.resolve())


def config_from_dict(raw: dict[str, Any], base: Path, path: Path | None = None) -> Config:
    """Validate a parsed TOML document; relative paths resolve against *base*."""
    known = {
        "mailbox",
        "campaign",
        "campaigns",
        "paths",
        "schedule",
        "limits",
        "smtp",
        "report",
        "receipts",
        "checks",
        "office",
        "synonyms",
        "web",
    }
    _reject_unknown(raw, known, "")
    if "paths" not in raw:
        raise ConfigError("缺少配置节 [paths]")
    campaigns = parse_campaigns(raw, base)
    paths_raw = _table(raw, "paths")
    _reject_unknown(paths_raw, {"data_dir", "roster"}, "paths")
    paths = _paths(
        PathsConfig(
            data_dir=_path(paths_raw.get("data_dir", "data"), base, "paths.data_dir"),
            roster=_roster(paths_raw, base, campaigns),
        )
    )
    mailbox = _network(_section(MailboxConfig, _table(raw, "mailbox"), "mailbox", base), "mailbox")
    if mailbox.source not in ("imap", "maildir"):
        raise ConfigError(f'mailbox.source 只能是 "imap" 或 "maildir"，而不是 "{mailbox.source}"')
    if mailbox.source == "maildir" and mailbox.path is None:
        raise ConfigError('mailbox.source = "maildir" 时必须设置 mailbox.path')
    if mailbox.source == "imap" and not mailbox.username:
        raise ConfigError('mailbox.source = "imap" 时必须设置 mailbox.username')
    if mailbox.post_action not in ("none", "keyword", "copy"):
        raise ConfigError('mailbox.post_action 只能是 "none"、"keyword" 或 "copy"')
    if mailbox.password_env and mailbox.password_file:
        raise ConfigError("mailbox.password_env 与 mailbox.password_file 只能设置一个")
    checks = _section(ChecksConfig, _table(raw, "checks"), "checks", base)
    synonyms = _synonyms(_table(raw, "synonyms"))
    several = len(campaigns) > 1
    campaigns = tuple(with_rules(c, synonyms, checks.annex4_total, several) for c in campaigns)
    cfg = Config(
        path=path,
        mailbox=mailbox,
        campaign=campaigns[0],  # unless ``--campaign`` selects another (Config.select)
        campaigns=campaigns,
        paths=paths,
        schedule=_schedule(_table(raw, "schedule")),
        limits=_limits(_section(LimitsConfig, _table(raw, "limits"), "limits", base)),
        smtp=_network(_section(SmtpConfig, _table(raw, "smtp"), "smtp", base), "smtp"),
        report=_section(ReportConfig, _table(raw, "report"), "report", base),
        receipts=_section(ReceiptsConfig, _table(raw, "receipts"), "receipts", base),
        checks=checks,
        office=_section(OfficeConfig, _table(raw, "office"), "office", base),
        synonyms=synonyms,
        web=_web(_section(WebConfig, _table(raw, "web"), "web", base)),
    )
    return cfg.select(cfg.campaign.name) if cfg.campaign.roster else cfg


def _roster(paths_raw: dict[str, Any], base: Path, campaigns: tuple[CampaignConfig, ...]) -> Path:
    """``paths.roster``; with [[campaigns]] each may name its own instead."""
    if "roster" in paths_raw or not all(c.roster for c in campaigns):
        return _path(_required(paths_raw, "roster", "paths"), base, "paths.roster")
    return campaigns[0].roster or base


def _limits(limits: LimitsConfig) -> LimitsConfig:
    """The parse sandbox needs room to start a Python worker and time to read a file."""
    if limits.parse_memory_mb < 256:
        raise ConfigError("limits.parse_memory_mb 至少为 256（解析进程的内存上限，单位 MB）")
    if limits.parse_seconds <= 0:
        raise ConfigError("limits.parse_seconds 必须大于 0（读取一个文件最多用的秒数）")
    if not 1 <= limits.parse_workers <= MAX_PARSE_WORKERS:
        raise ConfigError(
            f"limits.parse_workers 必须在 1 到 {MAX_PARSE_WORKERS} 之间"
            "（同时读取附件的子进程数，默认等于 CPU 核数）"
        )
    return limits


def _paths(paths: PathsConfig) -> PathsConfig:
    """A data_dir typo must not start a new archive (and download the mailbox again)."""
    data = paths.data_dir
    if data.exists() and not data.is_dir():
        raise ConfigError(f"paths.data_dir 不是目录：{data}")
    if not data.exists() and not data.parent.is_dir():
        raise ConfigError(
            f"paths.data_dir 的上级目录不存在：{data.parent}（请检查路径是否写错；"
            "确实要新建时，请先建好上级目录）"
        )
    if paths.roster.is_dir():
        raise ConfigError(
            f"paths.roster 是一个目录，应为单位名单文件（.xlsx 或 .csv）：{paths.roster}"
        )
    return paths


_N = TypeVar("_N", MailboxConfig, SmtpConfig)


def _network(section: _N, name: str) -> _N:
    """Timeouts above zero; a ``ca_file`` that is a readable certificate bundle, named as
    such (a bad file must not look like a server outage later)."""
    if section.timeout_seconds <= 0:
        raise ConfigError(f"{name}.timeout_seconds 必须大于 0（网络超时，单位秒）")
    ca = section.ca_file
    if ca is None:
        return section
    if not ca.exists():
        raise ConfigError(f"{name}.ca_file 指定的证书文件不存在：{ca}")
    if not ca.is_file():
        raise ConfigError(f"{name}.ca_file 应为证书文件，却是目录：{ca}")
    import ssl  # only with a ca_file: commands that never connect do not pay for it

    try:
        ssl.create_default_context(cafile=str(ca))
    except PermissionError:
        raise ConfigError(f"没有权限读取 {name}.ca_file 指定的证书文件：{ca}") from None
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigError(
            f"{name}.ca_file 不是有效的证书文件（应为 PEM 格式的 CA 证书）：{ca}"
        ) from None
    return section


def _web(web: WebConfig) -> WebConfig:
    """``listen`` is host:port; TLS needs both files, and they must exist."""
    host, sep, port = web.listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"web.listen 必须是“地址:端口”，例如 127.0.0.1:8080，而不是 {web.listen!r}"
        )
    if (web.tls_cert is None) != (web.tls_key is None):
        raise ConfigError("web.tls_cert 与 web.tls_key 必须同时设置（或都不设置）")
    for key, path in (("tls_cert", web.tls_cert), ("tls_key", web.tls_key)):
        if path is not None and not path.is_file():
            raise ConfigError(f"web.{key} 指定的文件不存在：{path}")
    return web


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] 必须是一个配置节")
    return value


def _required(raw: dict[str, Any], key: str, section: str) -> Any:
    if key not in raw:
        raise ConfigError(f"缺少配置项 {section}.{key}")
    return raw[key]


def _reject_unknown(raw: dict[str, Any], known: set[str], section: str) -> None:
    for key in raw:
        if key not in known:
            name = f"{section}.{key}" if section else key
            raise ConfigError(f"未知的配置项 {name}（可用：{'、'.join(sorted(known))}）")


def _path(value: Any, base: Path, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} 必须是非空路径字符串")
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _section(cls: type, raw: dict[str, Any], name: str, base: Path) -> Any:
    """Fill a flat dataclass from *raw*, checking each value's type."""
    specs = {f.name: f for f in fields(cls)}
    _reject_unknown(raw, set(specs), name)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        kind = str(specs[key].type)
        full = f"{name}.{key}"
        if "Path" in kind:
            kwargs[key] = _path(value, base, full) if value else None
        elif kind.startswith("bool"):
            kwargs[key] = _typed(value, bool, full, "true 或 false")
        elif kind.startswith("int"):
            kwargs[key] = _typed(value, int, full, "整数")
        elif kind.startswith("float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{full} 必须是数字")
            kwargs[key] = float(value)
        elif kind.startswith("tuple"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{full} 必须是字符串列表")
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = _typed(value, str, full, "字符串")
    obj = cls(**kwargs)
    for f in fields(cls):
        v = getattr(obj, f.name)
        if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
            raise ConfigError(f"{name}.{f.name} 不能为负数")
    return obj


def _typed(value: Any, kind: type, key: str, what: str) -> Any:
    if kind is int and isinstance(value, bool):
        raise ConfigError(f"{key} 必须是{what}")
    if not isinstance(value, kind):
        raise ConfigError(f"{key} 必须是{what}，而不是 {value!r}")
    return value


def _schedule(raw: dict[str, Any]) -> ScheduleConfig:
    _reject_unknown(raw, {"poll_every_minutes", "report_at", "report_formats"}, "schedule")
    every = raw.get("poll_every_minutes", 10)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError("schedule.poll_every_minutes 必须是不小于 1 的整数")
    at = raw.get("report_at", "08:00")
    try:
        report_at = at if isinstance(at, time) else time.fromisoformat(str(at))
    except ValueError:
        raise ConfigError(f"schedule.report_at 必须是 HH:MM 格式的时间，而不是 {at!r}") from None
    formats = tuple(raw.get("report_formats", REPORT_FORMATS))
    bad = [f for f in formats if f not in REPORT_FORMATS]
    if bad:
        raise ConfigError(f"schedule.report_formats 含有未知格式：{'、'.join(map(str, bad))}")
    return ScheduleConfig(poll_every_minutes=every, report_at=report_at, report_formats=formats)


def _synonyms(raw: dict[str, Any]) -> dict[int, dict[str, tuple[str, ...]]]:
    """``[synonyms.4] 任务名称 = ["重点任务"]`` extends annex 4's default synonyms."""
    out: dict[int, dict[str, tuple[str, ...]]] = {}
    for annex_key, table in raw.items():
        if not annex_key.isdigit() or not isinstance(table, dict):
            raise ConfigError(
                f"synonyms.{annex_key}：应写成 [synonyms.附件编号]，例如 [synonyms.4]"
            )
        per: dict[str, tuple[str, ...]] = {}
        for fname, values in table.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"synonyms.{annex_key}.{fname} 必须是字符串列表")
            per[fname] = tuple(values)
        out[int(annex_key)] = per
    return out

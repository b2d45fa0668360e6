"""The ``kaohe`` group, its context object and the CLI's error edge.

Each command parses its options, makes one library call and prints in Chinese.
Library errors become :class:`ClerkError` here, at the edge; :class:`KaoheGroup`
also turns click's usage errors into Chinese (:mod:`ingest.app.cli.usage`) and
expected machine failures (disk full, database locked, permissions, bad paths:
:mod:`ingest.core.failures`) into one line ``错误：…``. Nothing reaches the clerk
as a traceback: with ``--debug`` the traceback goes to
``data_dir/logs/kaohe-debug.log``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ingest.app.cli.usage import ChineseCommand, ChineseHelp, translate
from ingest.core.config import Config, ConfigError, load_config
from ingest.core.failures import describe_failure
from ingest.core.lock import AlreadyRunning
from ingest.mail.sources.base import MailboxError
from ingest.match.roster import RosterError
from parsers.schema import ANNEX_NUMBERS

log = logging.getLogger("kaohe")
DEBUG_LOG = "logs/kaohe-debug.log"  # under data_dir

ANNEX_SPAN = "N（以本次的附件定义为准）"


class AnnexNumber(click.ParamType):
    """``--annex N``: a number the loaded campaign defines (annexes.toml; built-in 2–6)."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            self.fail(f"“{value}”不是附件编号（应为数字，例如 4）", param, ctx)
        known = self.known(ctx)
        if number not in known:
            self.fail(f"没有附件{number}（本次的附件：{'、'.join(map(str, known))}）", param, ctx)
        return number

    @staticmethod
    def known(ctx: click.Context | None) -> tuple[int, ...]:
        obj = ctx.find_object(Ctx) if ctx is not None else None
        if obj is None or not obj.config_path:
            return ANNEX_NUMBERS
        return obj.cfg.annex_numbers


ANNEX_RANGE = AnnexNumber()


class ClerkError(click.ClickException):
    """An expected failure, shown as one Chinese line ("错误：…") and exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"错误：{self.format_message()}", file=file, err=file is None)


class Ctx:
    """Options of the top-level group; the config is loaded on first use, once."""

    def __init__(self, config_path: str | None, debug: bool = False) -> None:
        self.config_path = config_path or os.environ.get("KAOHE_CONFIG")
        self.debug = debug
        self.debug_log: Path | None = None
        self._cfg: Config | None = None

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            if not self.config_path:
                raise click.UsageError(
                    "请用 -c 指定配置文件，例如：kaohe -c /etc/kaohe/config.toml poll"
                    "（或设置环境变量 KAOHE_CONFIG）"
                )
            try:
                self._cfg = load_config(self.config_path)
            except ConfigError as e:
                raise ClerkError(str(e)) from None
            if self.debug:
                self.debug_log = _log_to_file(self._cfg.data_dir / DEBUG_LOG)
        return self._cfg

    def select(self, campaign: str | None) -> None:
        """Look at one campaign (``--campaign``); required only when several are configured."""
        try:
            self._cfg = self.cfg.select(campaign)
        except ConfigError as e:
            raise ClerkError(str(e)) from None


def _select_campaign(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    obj = ctx.find_object(Ctx)
    if obj is not None and (value is not None or obj.config_path):
        obj.select(value)


def campaign_option(command: Any) -> Any:
    """``--campaign NAME`` on commands that show one campaign (report, export, remind, status)."""
    return click.option(
        "--campaign",
        metavar="NAME",
        expose_value=False,
        callback=_select_campaign,
        help="配置了多个收集（[[campaigns]]）时，指定是哪一个（名称，或名称中的年份）。",
    )(command)


def _log_to_file(path: Path) -> Path | None:
    """Send every log record, tracebacks included, to *path* too (``--debug``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # data_dir/logs (data_dir may be new)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        log.warning("调试日志无法写入 %s，只输出到屏幕", path)
        return None
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for screen in root.handlers:  # the screen keeps to what -v asked for: no tracebacks there
        if screen.level == logging.NOTSET:
            screen.setLevel(min(root.level, logging.INFO))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return path


class KaoheGroup(ChineseHelp, click.Group):
    """The ``kaohe`` group: every failure leaves it as one Chinese line, never a traceback;
    its commands and sub-groups get Chinese help pages."""

    command_class = ChineseCommand
    group_class = type

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            raise translate(e) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            raise translate(e) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # the edge: nothing below may show a traceback
            raise _as_clerk_error(e, ctx.find_object(Ctx)) from None


def _as_clerk_error(exc: Exception, obj: Ctx | None) -> ClerkError:
    """An expected failure's own line; for a bug, a line that says where the details are."""
    expected = describe_failure(exc)
    debug_log = obj.debug_log if obj is not None else None
    # DEBUG level: the traceback reaches the --debug file (and stderr with -v), never the clerk
    log.debug("%s", expected or "程序内部错误", exc_info=exc)
    if expected:
        return ClerkError(expected)
    if debug_log is not None:
        return ClerkError(f"程序内部错误，详细信息已写入 {debug_log}，请发给维护人员")
    return ClerkError(
        "程序内部错误：请在命令前加 --debug 重新运行，详细信息会写入 data_dir 下的 " + DEBUG_LOG
    )


@contextmanager
def clerk_errors() -> Iterator[None]:
    """Turn the library's expected errors into one clear line, no traceback."""
    try:
        yield
    except (AlreadyRunning, RosterError, MailboxError, ConfigError) as e:
        raise ClerkError(str(e)) from None


@click.group(cls=KaoheGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="CONFIG",
    help="配置文件路径（TOML），也可用环境变量 KAOHE_CONFIG 指定。",
)
@click.option("-v", "--verbose", is_flag=True, help="输出更详细的日志。")
@click.option(
    "--debug", is_flag=True, help=f"出错时把详细信息（含调用栈）写入 data_dir 下的 {DEBUG_LOG}。"
)
@click.version_option(
    package_name="kaohe-inbox", message="%(prog)s 版本 %(version)s", help="显示版本并退出。"
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool, debug: bool) -> None:
    """kaohe —— 考核申报材料收件箱：收信、归档、识别单位和附件、解析表格、生成每日报送情况。

    \b
    常用命令：
      kaohe -c config.toml poll        收一次信
      kaohe -c config.toml report      查看今天的报送情况
      kaohe -c config.toml assign ID --unit 南郑区财政局 --annex 4
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # imaplib's protocol trace holds the repr of every fetched mail: -v and the --debug log
    # keep kaohe's own DEBUG lines without it (as the daemon does; and with it off, imaplib
    # does not build it: ingest.mail.sources.imap.quiet_imaplib).
    logging.getLogger("imapclient.imaplib").setLevel(logging.INFO)
    ctx.obj = Ctx(config_path, debug=debug)

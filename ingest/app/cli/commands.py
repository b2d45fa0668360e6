"""Mailbox and report commands: ``poll``, ``run``, ``report``, ``reparse``, ``inspect``,
``demo`` (the clerk's actions are in :mod:`ingest.app.cli.clerk`).

Each command parses its options, makes one library call and prints in Chinese.
Library modules are imported inside the commands so that ``kaohe --help`` and the
commands that do not need them stay fast to start; every such import runs down
the layers (app → store/match/mail/core, reports).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ingest.app.cli.base import ClerkError, Ctx, campaign_option, clerk_errors, cli
from ingest.app.cli.startup import first_import
from ingest.core.config import Config
from ingest.core.lock import refuse_if_held
from ingest.core.vocab import REPORT_FORMATS


@cli.command()
@click.pass_obj
def poll(obj: Ctx) -> None:
    """收一次信：取新邮件、原样归档、拆附件、识别、解析、入库。

    \b
    例：kaohe -c config.toml poll
    个别附件读不出时照常结束（原因记录在报告里）；邮箱无法访问时返回非零。
    在终端上运行时显示进度。
    """
    from ingest.mail.sources import open_source
    from ingest.match.sandbox import cycle_pool

    with clerk_errors():
        # Another poll (the daemon's) running: say so before logging in or forking.
        refuse_if_held(obj.cfg.data_dir, "poll")
        # The first parse worker imports its readers while this process logs in, imports
        # the pipeline and opens the database: a cold poll's first job does not wait for
        # it. It is forked from this process, which has one thread until the login's.
        limits = obj.cfg.limits
        pool = cycle_pool(limits, obj.cfg.data_dir, limits.parse_workers)
        pool.prestart(1)
        source = None
        try:
            # Its own imports (after the worker's fork), the first time in this process.
            with first_import("ingest.store.pipeline"):
                source = open_source(
                    obj.cfg.mailbox, connect_ahead=True, cursor=_cursor_hint(obj.cfg.db_path)
                )
                from ingest.app.logtime import log_in_timezone
                from ingest.app.progress import PollProgress
                from ingest.store.pipeline import poll as run_poll

            tz = obj.cfg.campaign.timezone
            log_in_timezone(tz)
            progress = PollProgress.for_terminal(sys.stderr, tz)
            try:
                summary = run_poll(
                    obj.cfg, source, on_item=progress.item if progress else None, pool=pool
                )
            finally:
                if progress is not None:
                    progress.done()
        finally:
            pool.close()  # the poll closed it already, unless it never began
            if source is not None:
                source.close()
    click.echo(summary.line())


def _cursor_hint(db_path: Path) -> Callable[[str, int], int | None]:
    """The database's cursor for the login thread's fetch ahead (read there, when needed)."""

    def peek(folder: str, uidvalidity: int) -> int | None:
        from ingest.store.db import peek_last_uid

        return peek_last_uid(db_path, folder, uidvalidity)

    return peek


@cli.command()
@click.pass_obj
def run(obj: Ctx) -> None:
    """守护进程：按 poll_every_minutes 定时收信，每天 report_at 生成报告。

    \b
    例：kaohe -c /etc/kaohe/config.toml run
    收到 SIGTERM / Ctrl-C 时处理完手头这封邮件后退出。
    """
    from ingest.app.daemon import run_daemon

    with clerk_errors():
        code = run_daemon(obj.cfg)
    sys.exit(code)


def _moment(value: str | None, obj: Ctx, end_of_day: bool = True) -> datetime:
    from ingest.core.dates import DateError, parse_time

    camp = obj.cfg.campaign
    if not value:
        return datetime.now(camp.timezone)
    try:  # 2020-03-23T08:00+08:00, 2020年3月23日 8:00, 3月23日 … (a day alone: its end)
        return parse_time(value, camp.timezone, year=camp.deadline.year, end_of_day=end_of_day)
    except DateError as e:
        raise click.BadParameter(str(e)) from None


def _formats(value: str | None) -> list[str]:
    if not value:
        return []
    out = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in out if f not in REPORT_FORMATS]
    if bad:
        raise click.BadParameter(f"未知格式：{'、'.join(bad)}（可用：{','.join(REPORT_FORMATS)}）")
    return out


@cli.command()
@click.option(
    "--as-of",
    "as_of",
    metavar="TIME",
    help="统计截至该时间收到的邮件（默认现在）；只写日期表示当天结束。",
)
@click.option(
    "--format",
    "fmt",
    metavar="FORMATS",
    help=f"{','.join(REPORT_FORMATS)} 中的一个或多个，逗号分隔。",
)
@click.option(
    "-o", "--output", metavar="OUT", help="输出文件或目录；“-”表示输出到屏幕（只限一种格式）。"
)
@campaign_option
@click.pass_obj
def report(obj: Ctx, as_of: str | None, fmt: str | None, output: str | None) -> None:
    """报送情况报告：谁交了哪个附件、谁逾期、哪些读不出或待认领。

    \b
    例：kaohe -c config.toml report
        kaohe -c config.toml report --as-of 2020-03-21 --format xlsx,html -o 报告目录
        kaohe -c config.toml report --format json -o -
        kaohe -c config.toml report -o 报告.xlsx        （按扩展名写 xlsx）
    """
    from reports.output import OutputError, build_report, plan_output, write_formats

    with clerk_errors():
        try:
            plan = plan_output(_formats(fmt), output, sys.stdout.isatty(), REPORT_FORMATS)
            data = build_report(obj.cfg, _moment(as_of, obj))
            for path in write_formats(obj.cfg, data, plan.formats, plan.output):
                click.echo(f"已生成：{path}")
        except OutputError as e:
            raise ClerkError(str(e)) from None


@cli.command()
@click.option("--all", "all_", is_flag=True, help="重新解析全部已归档邮件。")
@click.option(
    "--message", "messages", multiple=True, metavar="ID", help="只重新解析这封邮件（可多次）。"
)
@click.option("--since", metavar="DATE", help="重新解析该日期之后收到的邮件。")
@click.pass_obj
def reparse(obj: Ctx, all_: bool, messages: tuple[str, ...], since: str | None) -> None:
    """修改名单或模板后，对已归档的邮件重新识别和解析（人工认领保留不变）。

    \b
    例：kaohe -c config.toml reparse --all
        kaohe -c config.toml reparse --since 2020-03-15
    """
    from ingest.store.pipeline import reparse as run_reparse

    if sum(bool(x) for x in (all_, messages, since)) != 1:
        raise click.UsageError("请指定 --all、--message 或 --since 之一")
    with clerk_errors():
        ids = _resolve_messages(obj.cfg, messages) if messages else None
        since_dt = _moment(since, obj, end_of_day=False) if since else None

        def bar(items: Any) -> Any:
            return _progress(list(items))

        n = run_reparse(obj.cfg, ids, since_dt, progress=bar)
    click.echo(f"已重新解析 {n} 封邮件。")


def _progress(items: list[str]) -> Iterator[str]:
    with click.progressbar(items, label="重新解析", file=sys.stderr, show_pos=True) as bar:
        yield from bar


def _resolve_messages(cfg: Config, prefixes: tuple[str, ...]) -> list[str]:
    from ingest.store.db import open_db

    db = open_db(cfg.db_path)
    try:
        out = []
        for p in prefixes:
            rows = db.execute(
                "select id from messages where id like ?", [p.lower() + "%"]
            ).fetchall()
            if len(rows) != 1:
                raise click.BadParameter(f"邮件编号“{p}”{'不存在' if not rows else '不唯一'}")
            out.append(rows[0][0])
        return out
    finally:
        db.close()


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["txt", "json"]), default="txt", show_default=True
)
@click.pass_obj
def inspect(obj: Ctx, file: Path, fmt: str) -> None:
    """查看程序如何理解一封 .eml 邮件（不写入数据库）：为什么没认出单位或附件。

    \b
    例：kaohe inspect 来信.eml
        kaohe -c config.toml inspect 来信.eml --format json
    """
    from ingest.app.inspect import inspect_file, render_inspection

    with clerk_errors():
        cfg = obj.cfg if obj.config_path else None
        result = inspect_file(file, cfg)
    click.echo(render_inspection(result, fmt), nl=False)


@cli.command()
@click.option(
    "-o",
    "--output",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="演示目录（默认新建一个临时目录）。",
)
@click.option(
    "--campaign",
    type=click.Choice(["2021"]),
    help="演示另一次收集：先从它的空白表学出附件定义（campaign learn），再收信、出报告。",
)
def demo(output: Path | None, campaign: str | None) -> None:
    """演示：用自带的样例邮件和单位名单跑一遍完整流程（无需网络和配置）。

    \b
    例：kaohe demo
        kaohe demo -o /tmp/kaohe-demo
        kaohe demo --campaign 2021     明年怎么用：从新通知的空白表开始
    """
    from ingest.app.demo import DemoFolderError, run_demo
    from ingest.app.demo_campaign import run_campaign_demo

    with clerk_errors():
        try:
            if campaign is None:
                run_demo(output, echo=click.echo)
            else:
                out = output or Path(tempfile.mkdtemp(prefix=f"kaohe-demo-{campaign}-"))
                run_campaign_demo(campaign, out, echo=click.echo)
        except DemoFolderError as e:
            raise ClerkError(str(e)) from None

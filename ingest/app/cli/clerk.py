"""The clerk's commands: ``status``, ``units``, ``show``, ``assign``, ``dismiss``, ``add``, ``paper``.

Each parses its options, makes one call to :mod:`ingest.store.clerk` (the same
functions the web console calls) and prints the sentence it returns.
"""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.app.cli.base import (
    ANNEX_RANGE,
    ANNEX_SPAN,
    ClerkError,
    Ctx,
    campaign_option,
    clerk_errors,
    cli,
)

if TYPE_CHECKING:
    from ingest.match.roster import Unit


@contextmanager
def _errors() -> Iterator[None]:
    """The CLI's error translation plus the clerk actions' and the date parser's errors."""
    from ingest.core.dates import DateError
    from ingest.store.clerk_base import ClerkActionError

    with clerk_errors():
        try:
            yield
        except (ClerkActionError, DateError) as e:
            raise ClerkError(str(e)) from None


def _actor() -> str:
    """Who acts, for the audit log: the command line and the system user running it."""
    try:
        return f"命令行（{getpass.getuser()}）"
    except (KeyError, OSError):  # no user name in a bare container
        return "命令行"


def _day(obj: Ctx, text: str | None) -> date | None:
    from ingest.core.dates import parse_day

    if not text:
        return None
    camp = obj.cfg.campaign
    return parse_day(text, camp.timezone, year=camp.deadline.year)


def _moment(obj: Ctx, text: str | None) -> datetime | None:
    from ingest.core.dates import parse_time

    if not text:
        return None
    camp = obj.cfg.campaign
    return parse_time(text, camp.timezone, year=camp.deadline.year)


def _annexes(values: tuple[str, ...]) -> list[int]:
    """``--annex 2 --annex 4`` and ``--annex 2,4`` (or ``2、4``) alike."""
    out: list[int] = []
    for value in values:
        for token in re.split(r"[,，、;；\s]+", value.strip()):
            digits = token.removeprefix("附件")
            if not digits:
                continue
            if not digits.isdigit():  # the campaign's annexes are checked by the library
                raise click.BadParameter(f"“{token}”不是附件编号", param_hint="--annex")
            out.append(int(digits))
    return out


@cli.command()
@click.option(
    "--no-daemon", is_flag=True, help="本机不运行守护进程（手工收信）：只在上次收信失败时报错。"
)
@campaign_option
@click.pass_obj
def status(obj: Ctx, no_daemon: bool) -> None:
    """运行状态：上次收信的时间和结果、守护进程是否在运行、邮件和报告数量。

    \b
    例：kaohe -c config.toml status
    上次收信失败，或超过 3 个收信周期没有成功收信（守护进程应在运行）时返回 1，
    可用于监控脚本。
    """
    from ingest.app.status import read_status

    with _errors():
        view = read_status(obj.cfg, datetime.now(obj.cfg.campaign.timezone), not no_daemon)
    for line in view.lines:
        click.echo(line)
    if view.problem:
        sys.exit(1)


@cli.command()
@click.argument("text", required=False, default="")
@click.option(
    "--campaign",
    metavar="NAME",
    help="配置了多个收集时只看其中一个的名单（不指定则逐个列出各次收集的名单）。",
)
@click.pass_obj
def units(obj: Ctx, text: str, campaign: str | None) -> None:
    """列出名单中的单位（名称、别名、应报附件）；给出关键字时只列包含它的单位。

    \b
    例：kaohe -c config.toml units 财政
        kaohe -c config.toml units
    在 assign、paper、add 的 --unit 中，写出能唯一确定单位的简称即可。
    """
    from ingest.match.resolve import closest_units, match_units
    from ingest.store.clerk_base import load_units

    with _errors():
        several = len(obj.cfg.campaigns) > 1 and campaign is None
        names = [c.name for c in obj.cfg.campaigns] if several else [None]
        rosters = [(n, load_units(obj.cfg.select(n or campaign))) for n in names]
    shown = [(n, match_units(roster, text)) for n, roster in rosters]
    if not any(found for _, found in shown):
        near = "、".join(dict.fromkeys(u.name for _, r in rosters for u in closest_units(r, text)))
        hint = f"最接近的有：{near}" if near else "可不带关键字运行 kaohe units 查看全部"
        raise ClerkError(f"名单中没有与“{text}”匹配的单位；{hint}")
    for name, found in shown:
        if name is not None:
            click.echo(f"【{name}】")
        what = "与“" + text + "”匹配的" if text else "共有"
        click.echo(f"名单中{what} {len(found)} 个单位{'：' if found else '。'}")
        _list_units(found)


def _list_units(found: list[Unit]) -> None:
    for u in found:
        annexes = "、".join(map(str, sorted(u.required))) or "（无）"
        click.echo(f"  {u.name}  〔{u.category}〕  应报附件 {annexes}")
        extra = [f"别名：{'、'.join(u.aliases)}" if u.aliases else "", "；".join(u.emails)]
        if any(extra):
            click.echo("      " + "；".join(e for e in extra if e))


@cli.command()
@click.argument("attachment")
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    type=click.Path(path_type=Path),
    help="保存到的文件夹或文件名（默认当前文件夹；同名文件不会被覆盖）。",
)
@click.pass_obj
def show(obj: Ctx, attachment: str, output: Path | None) -> None:
    """把收到的附件按原文件名另存一份，便于打开查看（如看填表人、电话）。

    \b
    例：kaohe -c config.toml show ea6aa071944b
        kaohe -c config.toml show ea6a -o ~/桌面
    附件编号见报告“待认领”部分，写前几位即可。
    """
    from ingest.store.clerk import save_copy, stored_file

    with _errors():
        found = stored_file(obj.cfg, attachment)
        written = save_copy(obj.cfg, attachment, output)
    original = f"原文件名 {found.filename}，" if written.name != found.filename else ""
    click.echo(f"已保存：{written}（{original}{found.size} 字节）")


@cli.command()
@click.argument("attachment")
@click.option("--unit", metavar="NAME", help="单位名称、简称或别名（能在名单中唯一确定即可）。")
@click.option("--annex", type=ANNEX_RANGE, help=f"附件编号 {ANNEX_SPAN}（默认沿用程序识别的）。")
@click.option("--undo", is_flag=True, help="撤销对这个附件的人工认领。")
@click.pass_obj
def assign(obj: Ctx, attachment: str, unit: str | None, annex: int | None, undo: bool) -> None:
    """人工认领：指定某个附件属于哪个单位（和附件几）。重新解析后依然有效。

    \b
    例：kaohe -c config.toml assign a1b2c3d4e5f6 --unit 宣传部 --annex 4
        kaohe -c config.toml assign a1b2c3d4e5f6 --undo
    附件编号见报告“待认领”部分。再次认领会替换并说明原来的认领。
    """
    from ingest.store.clerk import assign_attachment, undo_assignment

    if undo == bool(unit):
        raise click.UsageError("请指定 --unit（认领）或 --undo（撤销认领）之一")
    with _errors():
        if undo:
            done = undo_assignment(obj.cfg, attachment, _actor())
        else:
            assert unit is not None
            done = assign_attachment(obj.cfg, attachment, unit, annex, _actor())
    click.echo(done)


@cli.command()
@click.argument("attachment")
@click.option("--reason", metavar="TEXT", help="排除的原因，如“说明材料，不是申报表”。")
@click.option("--undo", is_flag=True, help="撤销排除，让附件回到待认领。")
@click.pass_obj
def dismiss(obj: Ctx, attachment: str, reason: str | None, undo: bool) -> None:
    """排除：把不是申报表（或名单外单位）的附件移出待认领。重新解析后依然有效。

    \b
    例：kaohe -c config.toml dismiss ea6aa071944b --reason 说明材料，不是申报表
        kaohe -c config.toml dismiss ea6aa071944b --undo
    """
    from ingest.store.clerk import dismiss_attachment, undo_dismissal

    with _errors():
        if undo:
            done = undo_dismissal(obj.cfg, attachment, _actor())
        else:
            done = dismiss_attachment(obj.cfg, attachment, reason, _actor())
    click.echo(done)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", required=True, metavar="NAME", help="单位名称、简称或别名。")
@click.option("--annex", required=True, type=ANNEX_RANGE, help=f"附件编号 {ANNEX_SPAN}。")
@click.option(
    "--received",
    metavar="TIME",
    help="收到的时间（默认现在），如 2020年3月18日 14:30、2020-03-18、3月18日。",
)
@click.pass_obj
def add(obj: Ctx, file: Path, unit: str, annex: int, received: str | None) -> None:
    """手工添加：把通过 QQ 群、U 盘等方式收到的表格，按邮件收到的同样方式存档、解析、计入。

    \b
    例：kaohe -c config.toml add 财政局附件4.xlsx --unit 财政局 --annex 4
        kaohe -c config.toml add 附件6.docx --unit 大河坎 --annex 6 --received "2020年3月18日 15:00"
    收到时间决定是否逾期；同一文件已计入或在待认领中时不会重复添加。
    """
    from ingest.store.clerk import add_file

    with _errors():
        done = add_file(obj.cfg, file, unit, annex, _moment(obj, received), _actor())
    click.echo(done)


@cli.command()
@click.argument("unit")
@click.option(
    "--annex",
    "annexes",
    multiple=True,
    required=True,
    metavar="N",
    help=f"附件编号 {ANNEX_SPAN}；多个附件可写 --annex 2,4 或 --annex 2 --annex 4。",
)
@click.option(
    "--date",
    "day",
    metavar="DATE",
    help="收到纸质版的日期（默认今天），如 2020年3月18日、2020/3/18、3月18日。",
)
@click.option("--undo", is_flag=True, help="撤销这些纸质版记录（记错时用）。")
@click.pass_obj
def paper(obj: Ctx, unit: str, annexes: tuple[str, ...], day: str | None, undo: bool) -> None:
    """登记收到某单位纸质版（盖章件）的附件，可一次登记多个附件；报告中会显示。

    \b
    例：kaohe -c config.toml paper 发改局 --annex 2,4 --date 2020年3月18日
        kaohe -c config.toml paper 南郑区财政局 --annex 4
        kaohe -c config.toml paper 财政局 --annex 4 --undo
    单位可写全称、简称或别名（须能在名单中唯一确定）。
    """
    from ingest.store.clerk import record_paper

    wanted = _annexes(annexes)
    with _errors():
        done = record_paper(obj.cfg, unit, wanted, _day(obj, day), undo=undo, actor=_actor())
    click.echo(done)

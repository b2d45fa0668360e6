"""``kaohe campaign learn`` and ``kaohe campaign check``: a campaign's annexes as data.

``learn`` reads the office's blank forms and writes an editable annexes.toml;
``check`` validates the campaign the config selects (CONTRACT §11).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.app.cli.base import ClerkError, Ctx, clerk_errors, cli
from ingest.core.fsutil import atomic_write
from ingest.match.roster import check_annexes, load_roster
from parsers.errors import ParseError
from parsers.schema import AnnexFileError, AnnexSchema, schemas_from_toml

if TYPE_CHECKING:
    from parsers.learn import LearnedAnnex


@cli.group()
def campaign() -> None:
    """本次收集（campaign）的附件定义：从空白表学习、检查，退回有问题的表。

    \b
    例：kaohe campaign learn 附件2.docx 附件4.xlsx -o annexes.toml
        kaohe -c config.toml campaign check
        kaohe -c config.toml campaign returns --dry-run
    """


@campaign.command()
@click.argument("templates", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="OUT", help="写出的附件定义文件，例如 annexes.toml。")
def learn(templates: tuple[str, ...], output: str | None) -> None:
    """从通知所附的空白表（docx、xlsx、doc、xls、wps、et）学出附件定义。

    \b
    例：kaohe campaign learn 附件2.docx 附件3.docx 附件4.xlsx -o annexes.toml
    不写 -o 时只显示学到的内容，不写文件。
    """
    # Imported here, as in the other commands: the readers and the TOML writer cost
    # every kaohe command ~8 ms at start-up otherwise.
    from parsers.annexes_toml import describe_learned, render_toml
    from parsers.learn import learn_templates

    try:
        learned = learn_templates(_read(templates))
    except ParseError as e:
        raise ClerkError(f"无法读取空白表 {e}") from None
    click.echo(describe_learned(learned))
    text = render_toml(learned)
    _check_learned(learned, text)
    if output:
        atomic_write(Path(output).expanduser(), text.encode("utf-8"))
        click.echo(
            f'已写出：{output}（可直接修改；在配置 [campaign] 中写 annexes = "{Path(output).name}"）'
        )


def _check_learned(learned: list[LearnedAnnex], text: str) -> None:
    numbers = [a.number for a in learned if a.number is not None]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        raise ClerkError(
            f"附件{'、'.join(map(str, twice))} 出现了不止一张空白表，请只给每个附件一张"
        )
    try:
        schemas_from_toml(text)  # what we write must load back
    except AnnexFileError as e:
        click.echo(f"⚠ 写出的文件还需要手工补全后才能使用：{e}")


@campaign.command()
@click.pass_obj
def check(obj: Ctx) -> None:
    """检查配置中每次收集的附件定义（annexes.toml）和单位名单，并列出各附件。

    \b
    例：kaohe -c config.toml campaign check
    """
    with clerk_errors():
        cfg = obj.cfg
        for c in cfg.campaigns or (cfg.campaign,):
            roster = load_roster(c.roster or cfg.paths.roster)
            check_annexes(roster, c.annex_numbers)
            source = str(c.annexes) if c.annexes else "内置 2020 年附件定义"
            click.echo(f"{c.name}：{source}，名单 {len(roster.units)} 个单位，没有发现问题")
            for schema in c.schemas.values():
                click.echo(describe(schema))


@campaign.command()
@click.option(
    "--dry-run", is_flag=True, help="只生成 .eml 草稿（保存在 data_dir/outbox/returns/），不发送。"
)
@click.pass_obj
def returns(obj: Ctx, dry_run: bool) -> None:
    """给申报表有问题的单位发“退回修改”邮件，逐条写明要改什么。

    \b
    问题包括：使用了旧模板、表头改动、必填项为空、分值不是数字、合计不对等。
    例：kaohe -c config.toml campaign returns --dry-run   先生成草稿看看
        kaohe -c config.toml campaign returns             确认无误后发送
    """
    from ingest.app.outbox.returns import run_returns
    from ingest.app.outbox.smtp import SmtpError

    with clerk_errors():
        try:
            lines = run_returns(obj.cfg, datetime.now(obj.cfg.campaign.timezone), dry_run)
        except SmtpError as e:
            raise ClerkError(str(e)) from None
    for line in lines:
        click.echo(line)


@campaign.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    "templates",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="通知所附的空白表，可写多次（docx、xlsx、doc、xls、wps、et）。",
)
@click.option("--name", help="本次收集的名称（默认按表名中的年份，如“2021年度考核指标申报”）。")
def new(folder: Path, templates: tuple[str, ...], name: str | None) -> None:
    """新建一次收集：从空白表生成附件定义、单位名单模板和配置文件。

    \b
    例：kaohe campaign new /srv/kaohe/2021 --template 附件2.docx --template 附件4.xlsx
    生成：config.toml、annexes.toml、roster.xlsx（待填写）、空白表/。
    """
    from ingest.app.campaign_new import CampaignFolderError, new_campaign
    from parsers.annexes_toml import describe_learned

    try:
        learned = new_campaign(folder, _read(templates), name)
    except CampaignFolderError as e:
        raise ClerkError(str(e)) from None
    except ParseError as e:
        raise ClerkError(f"无法读取空白表 {e}") from None
    click.echo(describe_learned(learned))
    click.echo(f"已生成：{folder}（config.toml、annexes.toml、roster.xlsx、空白表/）")
    click.echo("下一步：填写 roster.xlsx 的单位名单，改好 config.toml 中标有“请改”的几行，然后运行")
    click.echo(f"  kaohe -c {folder / 'config.toml'} campaign check")


def _read(names: tuple[str, ...]) -> list[tuple[str, bytes]]:
    files = []
    for name in names:
        path = Path(name)
        if not path.is_file():
            raise ClerkError(f"找不到文件：{name}")
        files.append((path.name, path.read_bytes()))
    return files


def describe(schema: AnnexSchema) -> str:
    from parsers.annexes_toml import column_label

    cols = "  ".join(column_label(f) for f in schema.fields)
    rules = [f"{f.name}合计应为 {f.total:g}" for f in schema.fields if f.total is not None]
    extra = f"；{'；'.join(rules)}" if rules else ""
    return f"  附件{schema.number}  {schema.title}\n    列：{cols}{extra}"

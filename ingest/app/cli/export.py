"""``kaohe export``: the consolidated table (汇总表) of one annex or of all of them."""

from __future__ import annotations

import sys
from datetime import datetime

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
from reports.formats import EXPORT_FORMATS


@cli.command()
@click.option("--annex", type=ANNEX_RANGE, help=f"导出附件几（{ANNEX_SPAN}）。")
@click.option("--all", "all_", is_flag=True, help="导出全部附件：一个工作簿，每个附件一张工作表。")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(EXPORT_FORMATS)),
    help="默认 xlsx，或按 -o 文件的扩展名；csv 只能用于单个附件（UTF-8，Excel 可直接打开）；"
    "docx 为供考委会审阅的 Word 文档。",
)
@click.option("-o", "--output", metavar="OUT", help="输出文件或目录；“-”表示输出到屏幕。")
@campaign_option
@click.pass_obj
def export(obj: Ctx, annex: int | None, all_: bool, fmt: str | None, output: str | None) -> None:
    """汇总表：各单位最新一版的表格合并为一张表，按名单顺序，第一列为单位名称。

    \b
    例：kaohe -c config.toml export --annex 4
        kaohe -c config.toml export --all -o 汇总表.xlsx
        kaohe -c config.toml export --annex 6 --format csv -o 附件6汇总.csv
        kaohe -c config.toml export --all --format docx -o 汇总表.docx
    最后几列注明数据来自哪个文件（文件名、收到时间和版本）。
    """
    from reports.export import ExportError, write_export  # openpyxl, sqlite-utils: here only
    from reports.output import OutputError, format_of, plan_output

    if (annex is None) == (not all_):
        raise click.UsageError("请指定 --annex N 或 --all 之一")
    fmt = fmt or format_of(output, EXPORT_FORMATS) or "xlsx"
    with clerk_errors():
        try:
            plan_output([fmt], output, sys.stdout.isatty(), EXPORT_FORMATS)
            path = write_export(
                obj.cfg, annex, fmt, output, datetime.now(obj.cfg.campaign.timezone)
            )
        except ExportError as e:
            raise click.UsageError(str(e)) from None
        except OutputError as e:
            raise ClerkError(str(e)) from None
    if path is not None:
        click.echo(f"已导出：{path}")

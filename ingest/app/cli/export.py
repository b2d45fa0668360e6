"""``kaohe export``: the consolidated table (汇总表) of one annex or of all of them."""

from __future__ import annotations

from datetime import datetime

import click

from ingest.app.cli.base import ANNEX_RANGE, ANNEX_SPAN, Ctx, clerk_errors, cli
from reports.export import EXPORT_FORMATS, ExportError, write_export


@cli.command()
@click.option("--annex", type=ANNEX_RANGE, help=f"导出附件几（{ANNEX_SPAN}）。")
@click.option("--all", "all_", is_flag=True, help="导出全部附件：一个工作簿，每个附件一张工作表。")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(EXPORT_FORMATS)),
    default="xlsx",
    show_default=True,
    help="csv 只能用于单个附件（UTF-8，Excel 可直接打开）；docx 为供考委会审阅的 Word 文档。",
)
@click.option("-o", "--output", metavar="OUT", help="输出文件或目录；“-”表示输出到屏幕。")
@click.pass_obj
def export(obj: Ctx, annex: int | None, all_: bool, fmt: str, output: str | None) -> None:
    """汇总表：各单位最新一版的表格合并为一张表，按名单顺序，第一列为单位名称。

    \b
    例：kaohe -c config.toml export --annex 4
        kaohe -c config.toml export --all -o 汇总表.xlsx
        kaohe -c config.toml export --annex 6 --format csv -o 附件6汇总.csv
        kaohe -c config.toml export --all --format docx -o 汇总表.docx
    最后几列注明数据来自哪个附件（附件编号和文件名）。
    """
    if (annex is None) == (not all_):
        raise click.UsageError("请指定 --annex N 或 --all 之一")
    with clerk_errors():
        try:
            path = write_export(
                obj.cfg, annex, fmt, output, datetime.now(obj.cfg.campaign.timezone)
            )
        except ExportError as e:
            raise click.UsageError(str(e)) from None
    if path is not None:
        click.echo(f"已导出：{path}")

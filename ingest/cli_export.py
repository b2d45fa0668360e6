"""``kaohe export``: the consolidated tables (汇总表) per annex."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ingest.cli import Ctx, clerk_errors


@click.command()
@click.option("--annex", type=click.IntRange(2, 6), help="导出附件几（2–6）。")
@click.option("--all", "all_", is_flag=True, help="导出全部附件：一个工作簿，每个附件一张表。")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx",
              show_default=True)
@click.option("-o", "--output", metavar="OUT", help="输出文件（--all 且 csv 时为目录）。")
@click.pass_obj
def export(obj: Ctx, annex: int | None, all_: bool, fmt: str, output: str | None) -> None:
    """汇总表：每个单位最新一版的表格内容，按名单顺序，第一列为单位名称。

    \b
    例：kaohe -c config.toml export --annex 4 -o 附件4汇总.xlsx
        kaohe -c config.toml export --all
        kaohe -c config.toml export --annex 6 --format csv -o 附件6汇总.csv
    """
    if (annex is None) == (not all_):
        raise click.UsageError("请指定 --annex N 或 --all 之一")
    with clerk_errors():
        for path in write_export(obj, annex, fmt, output):
            if path != STDOUT:
                click.echo(f"已导出：{path}")


def write_export(obj: Ctx, annex: int | None, fmt: str, output: str | None) -> list[Path]:
    from ingest.db import open_db
    from ingest.roster import load_roster
    from reports.export import build_export, export_csv, export_xlsx

    cfg = obj.cfg
    db = open_db(cfg.db_path)
    try:
        tables = build_export(db, load_roster(cfg.paths.roster), annex)
    finally:
        db.close()
    tz = cfg.campaign.timezone
    stamp = datetime.now(tz).strftime("%Y%m%d-%H%M")
    default_dir = cfg.data_dir / "exports"
    if fmt == "xlsx" or len(tables) == 1:
        name = f"{'全部附件' if annex is None else f'附件{annex}'}汇总-{stamp}.{fmt}"
        path = Path(output).expanduser() if output else default_dir / name
        data = export_xlsx(tables, tz) if fmt == "xlsx" else export_csv(tables[0], tz)
        return [_write(path, data)]
    folder = Path(output).expanduser() if output else default_dir
    return [_write(folder / f"附件{t.annex}汇总-{stamp}.csv", export_csv(t, tz)) for t in tables]


STDOUT = Path("-")


def _write(path: Path, data: bytes) -> Path:
    if path == STDOUT:
        click.echo(data, nl=False)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def register(group: click.Group) -> None:
    group.add_command(export)

"""Clerk commands that record paper copies and send mail: ``paper``, ``remind``, ``receipts``.

Each command parses its
options, makes one library call and prints in Chinese.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import click

from ingest.app.cli.base import ClerkError, Ctx, clerk_errors, cli


@contextmanager
def _errors() -> Iterator[None]:
    """The CLI's error translation plus SMTP errors."""
    from ingest.app.outbox.smtp import SmtpError

    with clerk_errors():
        try:
            yield
        except SmtpError as e:
            raise ClerkError(str(e)) from None


def _now(obj: Ctx) -> datetime:
    return datetime.now(obj.cfg.campaign.timezone)


@cli.command()
@click.argument("unit")
@click.option("--annex", type=click.IntRange(2, 6), required=True, help="附件编号 2–6。")
@click.option(
    "--date",
    "on",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="收到纸质版的日期（默认今天）。",
)
@click.option("--undo", is_flag=True, help="撤销这条纸质版记录（记错时用）。")
@click.pass_obj
def paper(obj: Ctx, unit: str, annex: int, on: datetime | None, undo: bool) -> None:
    """登记收到某单位某附件的纸质版（盖章件）；报告中会显示。

    \b
    例：kaohe -c config.toml paper 南郑区财政局 --annex 4
        kaohe -c config.toml paper 财政局 --annex 4 --date 2020-03-18
        kaohe -c config.toml paper 财政局 --annex 4 --undo
    单位可写全称、简称或别名（须能在名单中唯一确定）。
    """
    from ingest.store.clerk import record_paper

    day: date | None = on.date() if on else None
    with _errors():
        click.echo(record_paper(obj.cfg, unit, annex, day, undo=undo))


@cli.command()
@click.option("--dry-run", is_flag=True, help="只生成 .eml 草稿供查看，不发送。")
@click.pass_obj
def remind(obj: Ctx, dry_run: bool) -> None:
    """给尚有附件未报、逾期或无法读取的单位发催报邮件（发往名单中的邮箱）。

    \b
    例：kaohe -c config.toml remind --dry-run   先生成草稿看看
        kaohe -c config.toml remind             确认无误后发送
    不加 --dry-run 才会真正发送；草稿保存在 data_dir/outbox/reminders/ 下。
    """
    from ingest.app.outbox.run import run_reminders

    with _errors():
        lines = run_reminders(obj.cfg, _now(obj), dry_run)
    for line in lines:
        click.echo(line)


@cli.command()
@click.option("--dry-run", is_flag=True, help="只生成 .eml 草稿供查看，不发送、不记录。")
@click.pass_obj
def receipts(obj: Ctx, dry_run: bool) -> None:
    """给已处理但尚未回复的来信发回执：收到了哪些附件、读出多少行、还差什么。

    \b
    例：kaohe -c config.toml receipts --dry-run
        kaohe -c config.toml receipts
    每封来信最多回一次；发送中断而状态不明的回执不会自动重发，会在这里列出。
    """
    from ingest.app.outbox.run import run_receipts

    with _errors():
        lines = run_receipts(obj.cfg, _now(obj), dry_run)
    for line in lines:
        click.echo(line)

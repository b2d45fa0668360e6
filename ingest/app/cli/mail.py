"""Clerk commands that send mail: ``remind``, ``receipts`` (``paper`` is in :mod:`ingest.app.cli.clerk`).

Each command parses its
options, makes one library call and prints in Chinese.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from ingest.app.cli.base import ClerkError, Ctx, campaign_option, clerk_errors, cli


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
@click.option("--dry-run", is_flag=True, help="只生成 .eml 草稿供查看，不发送。")
@campaign_option
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

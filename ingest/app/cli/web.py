"""The web console's commands: ``serve`` and the accounts, ``user add/list/remove``."""

from __future__ import annotations

import click

from ingest.app.cli.base import ClerkError, Ctx, clerk_errors, cli


@cli.command()
@click.pass_obj
def serve(obj: Ctx) -> None:
    """经办人网页：在 [web] listen（默认 127.0.0.1:8080）上提供网页，直到 Ctrl-C / SIGTERM。

    \b
    例：sudo -u kaohe kaohe -c /etc/kaohe/config.toml serve
    先用 kaohe user add 创建账号。kaohe run 在 [web] enabled = true 时也会提供网页。
    """
    from ingest.app.web.server import address, check_address
    from ingest.app.web.server import serve as run_server

    with clerk_errors():
        cfg = obj.cfg
    try:
        check_address(cfg)
        click.echo(f"经办人网页：{address(cfg)}（Ctrl-C 停止）")
        run_server(cfg)
    except (OSError, SystemExit) as e:
        raise ClerkError(f"无法在 {cfg.web.listen} 上提供网页：{e}") from None


@cli.group()
def user() -> None:
    """经办人网页的账号：add 添加、list 列出、remove 删除。

    \b
    角色：clerk（经办人，可认领、排除、登记纸质版）；viewer（只读，如领导查看）。
    例：sudo -u kaohe kaohe -c /etc/kaohe/config.toml user add 张三 --role clerk
    """


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["clerk", "viewer"]),
    default="clerk",
    show_default=True,
    help="clerk（经办人）或 viewer（只读）。",
)
@click.password_option(
    "--password",
    prompt="密码",
    confirmation_prompt="再输入一次密码",
    help="不写则提示输入（不显示，输入两次）。",
)
@click.pass_obj
def user_add(obj: Ctx, name: str, role: str, password: str) -> None:
    """添加账号；密码只以 scrypt 哈希保存在 data_dir/users.db。

    \b
    例：kaohe -c config.toml user add 张三 --role clerk
    """
    from ingest.store.users import AccountError, add_user, open_users

    conn = open_users(obj.cfg.data_dir)
    try:
        account = add_user(conn, name, role, password)
    except AccountError as e:
        raise ClerkError(str(e)) from None
    finally:
        conn.close()
    click.echo(f"已添加账号 {account.name}（{account.role.label}）。")


@user.command("list")
@click.pass_obj
def user_list(obj: Ctx) -> None:
    """列出账号。

    \b
    例：kaohe -c config.toml user list
    """
    from ingest.store.users import list_users, open_users

    conn = open_users(obj.cfg.data_dir)
    try:
        accounts = list_users(conn)
    finally:
        conn.close()
    if not accounts:
        click.echo("还没有账号。添加：kaohe -c 配置文件 user add 张三 --role clerk")
    tz = obj.cfg.campaign.timezone
    for a in accounts:
        click.echo(
            f"{a.name}\t{a.role.value}（{a.role.label}）\t创建于 {a.created_at.astimezone(tz):%Y-%m-%d %H:%M}"
        )


@user.command("remove")
@click.argument("name")
@click.pass_obj
def user_remove(obj: Ctx, name: str) -> None:
    """删除账号（其已登录的会话同时失效）。

    \b
    例：kaohe -c config.toml user remove 张三
    """
    from ingest.store.users import AccountError, open_users, remove_user

    conn = open_users(obj.cfg.data_dir)
    try:
        remove_user(conn, name)
    except AccountError as e:
        raise ClerkError(str(e)) from None
    finally:
        conn.close()
    click.echo(f"已删除账号 {name}。")

"""click's own words, in Chinese: usage errors and the help page.

click has no Chinese catalogue, so its messages ("No such option: -c", "Missing
argument 'ID'.", "7 is not in the range 2<=x<=6.") are rebuilt here from the
exception's fields where it has them and from the known message shapes where it
does not. :class:`ChineseUsageError` prints ``错误：…`` plus the command's usage line
and where to find its help; exit status 2, as click's own. :class:`ChineseContext`
gives the help pages Chinese headings ("用法：", "选项", "命令").
"""

from __future__ import annotations

import re
from typing import Any

import click
from click import exceptions as ce

GROUP_OPTIONS = ("-c", "--config", "-v", "--verbose", "--debug")  # belong before the command

# (message shape, Chinese) for the messages click builds from strings alone
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), zh)
    for p, zh in (
        (r"^No such command '(.+)'\.$", "没有“{0}”这个命令（kaohe -h 列出全部命令）"),
        (r"^Got unexpected extra arguments? \((.+)\)$", "多余的参数：{0}"),
        (r"^Option '(.+)' requires an argument\.$", "选项 {0} 后面要写一个值"),
        (r"^Option '(.+)' requires (\d+) arguments\.$", "选项 {0} 后面要写 {1} 个值"),
        (r"^Option '(.+)' does not take a value\.$", "选项 {0} 不带值"),
        (r"^Argument '(.+)' takes (\d+) values\.$", "参数 {0} 要写 {1} 个值"),
        (r"^Missing command\.$", "缺少命令（kaohe -h 列出全部命令）"),
        (r"^'?(.+?)'? is not in the range (.+)\.$", "{0} 不在允许的范围内（{1}）"),
        (r"^'(.*)' is not a valid integer\.$", "“{0}”不是整数"),
        (r"^'(.*)' is not a valid float\.$", "“{0}”不是数字"),
        (r"^'(.*)' is not a valid boolean\..*$", "“{0}”不是是/否值（可写 yes 或 no）"),
        (r"^'(.*)' is not a valid UUID\.$", "“{0}”格式不对"),
        (r"^'(.*)' is not (?:one of )?(.+)\.$", "“{0}”不是可选的值（可选：{1}）"),
        (r"^'(.*)' does not match the formats? (.+)\.$", "“{0}”的格式不对（应为 {1}）"),
        (r"^(?:File|Directory|Path) '(.+)' does not exist\.$", "“{0}”不存在"),
        (r"^(?:File|Directory|Path) '(.+)' is a file\.$", "“{0}”是文件，这里要写目录"),
        (r"^(?:File|Directory|Path) '(.+)' is a directory\.$", "“{0}”是目录，这里要写文件"),
        (r"^(?:File|Directory|Path) '(.+)' is not readable\.$", "“{0}”没有读权限"),
        (r"^(?:File|Directory|Path) '(.+)' is not writable\.$", "“{0}”没有写权限"),
        (r"^(?:File|Directory|Path) '(.+)' is not executable\.$", "“{0}”没有执行权限"),
        (r"^Could not open file '(.+)': (.+)$", "无法打开文件“{0}”"),
    )
)
_RANGE = re.compile(r"^(?:(-?[\d.]+)(<=?))?x(?:(<=?)(-?[\d.]+))?$|^x(>=?)(-?[\d.]+)$")


HELP_OPTION_TEXT = "显示本帮助并退出。"
_HEADINGS = {"Options": "选项", "Commands": "命令", "Arguments": "参数"}
_EXTRAS = (("[default: ", "[默认："), ("[required]", "[必填]"), ("[env var: ", "[环境变量："))


def chinese_usage(args: str) -> str:
    return args.replace("[OPTIONS]", "[选项]").replace("COMMAND [ARGS]...", "命令 …")


class ChineseHelpFormatter(click.HelpFormatter):
    """click's help layout with Chinese headings and notes."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, chinese_usage(args), prefix="用法：")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{_HEADINGS.get(heading, heading)}：\n")

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        out = []
        for term, text in rows:
            for english, chinese in _EXTRAS:
                text = text.replace(english, chinese)
            out.append((term, text))
        super().write_dl(out, col_max, col_spacing)


class ChineseContext(click.Context):
    formatter_class = ChineseHelpFormatter


class ChineseHelp:
    """Mixin for commands and groups: Chinese help page and help-option text."""

    context_class: type[click.Context] = ChineseContext

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option  # type: ignore[no-any-return]


class ChineseCommand(ChineseHelp, click.Command):
    """A ``kaohe`` command (help page in Chinese)."""


class ChineseUsageError(click.UsageError):
    """A usage error already in Chinese: ``错误：…``, the usage line, the help hint."""

    def show(self, file: Any = None) -> None:
        lines = [f"错误：{self.format_message()}"]
        if self.ctx is not None:
            usage = chinese_usage(self.ctx.get_usage().replace("Usage: ", "用法：", 1))
            lines += [usage, f"查看帮助：{self.ctx.command_path} -h"]
        click.echo("\n".join(lines), file=file, err=file is None)


def translate(error: click.UsageError) -> ChineseUsageError:
    """The same error, its message in Chinese."""
    if isinstance(error, ChineseUsageError):
        return error
    return ChineseUsageError(_message(error), ctx=error.ctx)


def _message(error: click.UsageError) -> str:
    if isinstance(error, ce.NoSuchOption):
        return _no_such_option(error)
    if isinstance(error, ce.MissingParameter):
        kind = {"argument": "参数", "option": "选项"}.get(_param_type(error), "参数")
        return f"缺少{kind} {_hint(error)}".rstrip()
    if isinstance(error, ce.BadParameter):
        hint = _hint(error)
        text = _shape(error.message)
        return f"{hint} 的值不对：{text}" if hint else f"值不对：{text}"
    return _shape(error.message)


def _no_such_option(error: ce.NoSuchOption) -> str:
    name = error.option_name
    text = f"没有 {name} 这个选项"
    if name in GROUP_OPTIONS and error.ctx is not None and error.ctx.parent is not None:
        return f"{text}：{name} 是总选项，要写在命令前面，例如 kaohe {name} … {error.ctx.info_name}"
    if error.possibilities:
        text += f"（是不是想写 {'、'.join(error.possibilities)}？）"
    return text


def _param_type(error: ce.MissingParameter) -> str:
    if error.param_type:
        return error.param_type
    return error.param.param_type_name if error.param is not None else "parameter"


def _hint(error: ce.BadParameter) -> str:
    if error.param_hint is not None:
        hint = error.param_hint
        return " / ".join(hint) if isinstance(hint, list | tuple) else str(hint)
    if error.param is None:
        return ""
    if isinstance(error.param, click.Option):
        return " / ".join(error.param.opts)
    return (error.param.human_readable_name or "").upper()


def _shape(message: str) -> str:
    """Chinese for one of click's known message shapes; messages already Chinese pass."""
    for pattern, zh in _SHAPES:
        found = pattern.match(message.strip())
        if found:
            return zh.format(*(_choices(_range(g)) for g in found.groups()))
    return message


def _range(text: str) -> str:
    """``2<=x<=6`` → ``2–6``, ``x>=1`` → ``不小于 1``; anything else unchanged."""
    found = _RANGE.match(text or "")
    if not found:
        return text
    low, low_op, high_op, high, ge_op, ge = found.groups()
    if ge is not None:
        return f"{'大于' if ge_op == '>' else '不小于'} {ge}"
    if low is not None and high is not None and low_op == high_op == "<=":
        return f"{low}–{high}"
    parts = []
    if low is not None:
        parts.append(f"{'大于' if low_op == '<' else '不小于'} {low}")
    if high is not None:
        parts.append(f"{'小于' if high_op == '<' else '不大于'} {high}")
    return "，".join(parts)


def _choices(text: str) -> str:
    """``'txt', 'json'`` or ``'txt' or 'json'`` → ``txt、json``."""
    if not re.fullmatch(r"'[^']*'(?:(?:, | or |, or )'[^']*')+", text or ""):
        return text
    return "、".join(re.findall(r"'([^']*)'", text))

"""Write annex definitions as an editable, commented ``annexes.toml``.

The inverse of :func:`parsers.schema.schemas_from_toml`: what ``kaohe campaign
learn`` writes, with a comment per annex saying where it came from and what was
guessed, so the clerk knows what to check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from parsers.learn import LearnedAnnex
from parsers.schema import FieldSpec

__all__ = ["column_label", "describe_learned", "render_toml"]

HEADER = """\
# 附件定义：kaohe 按这个文件识别每个附件（标题、文件名中的“附件N”、表头）、读取表格、检查内容。
# 由 `kaohe campaign learn` 根据空白表生成；可以直接修改，改完用 `kaohe -c 配置 campaign check` 检查。
#
# 每个 [[annex]]：
#   number    附件编号            title     表格标题（通知里的表名）
#   keywords  标题或文件名中出现这些词，就认定是这个附件（旧模板也能认出）
#   unit_line 表上写单位名称的那一行的开头，例如“填报单位”
# 每个 [[annex.field]]（按表格从左到右）：
#   name      规范列名            synonyms  表头的其他写法（单位改过的表头），可随时补充
#   numeric   应是数字            required  每行必填
#   total     各行之和应等于多少（例如 total = 100；不写则不检查）
"""


def _s(text: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_s(i) for i in items) + "]"


def render_toml(learned: Sequence[LearnedAnnex]) -> str:
    """The annexes as TOML text, in number order (an unnumbered one gets ``number = 0``
    and a comment: the file does not load until the clerk fills it in)."""
    parts = [HEADER]
    for annex in sorted(learned, key=lambda a: (a.number is None, a.number or 0)):
        parts.append(_annex(annex))
    return "\n".join(parts)


def _annex(annex: LearnedAnnex) -> str:
    lines = [f"# 来自：{annex.source}"]
    lines += [f"# 请核对：{w}" for w in annex.warnings]
    lines += [
        "[[annex]]",
        f"number = {annex.number if annex.number is not None else 0}"
        + ("    # 请改为正确的附件编号" if annex.number is None else ""),
        f"title = {_s(annex.title)}",
        f"keywords = {_list(annex.keywords)}",
        f"unit_line = {_s(annex.unit_line)}",
    ]
    for spec in annex.fields:
        lines += ["", "[[annex.field]]", f"name = {_s(spec.name)}", "synonyms = []"]
        if spec.numeric:
            lines.append("numeric = true")
        if spec.required:
            lines.append("required = true")
        if spec.numeric:
            lines.append("# total = 100    # 各行合计应为多少；需要检查时去掉开头的 #")
    return "\n".join(lines) + "\n"


def describe_learned(learned: Sequence[LearnedAnnex]) -> str:
    """What was learned, one block per annex, with the guesses to check (Chinese)."""
    lines = []
    for a in sorted(learned, key=lambda a: (a.number is None, a.number or 0)):
        head = f"附件{a.number}" if a.number is not None else "附件?"
        lines.append(f"{head}  {a.title or '（无标题）'}    ← {a.source}")
        cols = "  ".join(column_label(f) for f in a.fields)
        lines.append(f"    列（{len(a.fields)}）：{cols}")
        lines.append(f"    单位行：{a.unit_line}")
        lines += [f"    ⚠ {w}" for w in a.warnings]
    lines.append("（* 数字列，! 每行必填）")
    return "\n".join(lines)


def column_label(spec: FieldSpec) -> str:
    """``分值*`` (numeric), ``任务名称!`` (required)."""
    return spec.name + ("*" if spec.numeric else "") + ("!" if spec.required else "")

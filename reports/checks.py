"""Content checks the clerk sees next to a (unit, annex) in the report.

Pure functions of the rows: :func:`reports.status.build_status` reads the rows of
the version that counts (and of the one before) and hands them here.
Each check returns a short Chinese sentence; an empty result means nothing to
look at. Checks never change a status: a form with an empty task name is still
submitted, the clerk decides whether to call the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parsers.schema import AnnexSchema

SHOW_ROWS = 5  # list at most this many row numbers in one sentence


def checks_for(
    schema: AnnexSchema,
    rows: list[dict[str, Any]],
    previous: list[dict[str, Any]] | None = None,
    previous_version: int | None = None,
) -> list[str]:
    """Problems in the *rows* of the version that counts; *previous* are the rows of the
    parsed version before it (when there is one), to spot rows that went missing."""
    before = None if previous is None else as_form(schema, previous)
    return check_form(schema, as_form(schema, rows), before, previous_version)


Texts = list[tuple[str, ...]]  # per row, each field's value as text, in field order


@dataclass(frozen=True)
class Form:
    """A version's rows as the checks read them: row numbers and each value as text
    (:func:`cell_text`) in field order, made once (a 5,000-unit report checks ~140,000
    rows; :func:`reports.status.read_forms_text` reads them so from the database)."""

    numbers: list[int]
    texts: Texts


def as_form(schema: AnnexSchema, rows: list[dict[str, Any]]) -> Form:
    names = schema.field_names
    return Form(
        [r["row_no"] for r in rows], [tuple(map(cell_text, map(r.get, names))) for r in rows]
    )


def check_form(
    schema: AnnexSchema,
    form: Form,
    previous: Form | None = None,
    previous_version: int | None = None,
) -> list[str]:
    """:func:`checks_for` of rows already made text."""
    names = schema.field_names
    numbers, texts = form.numbers, form.texts
    at = {name: i for i, name in enumerate(names)}
    out = [
        *empty_names(schema, numbers, texts, at),
        *non_numeric(schema, numbers, texts, at),
        *duplicates(numbers, texts, [i for i, name in enumerate(names) if name != "序号"]),
        *totals(schema, texts, at),
    ]
    if previous is not None:
        out.extend(dropped_rows(previous.texts, texts, at[schema.name_field], previous_version))
    return out


def cell_text(value: Any) -> str:
    """A value as the checks compare it: text, stripped; nothing is ``""``."""
    return "" if value is None else str(value).strip()


def _row_list(numbers: list[int]) -> str:
    shown = "、".join(str(n) for n in numbers[:SHOW_ROWS])
    more = f"等 {len(numbers)} 行" if len(numbers) > SHOW_ROWS else "行"
    return f"第{shown}{more}"


def empty_names(
    schema: AnnexSchema, numbers: list[int], texts: Texts, at: dict[str, int]
) -> list[str]:
    """Rows leaving a ``required`` field blank (annexes.toml)."""
    out = []
    for spec in schema.fields:
        if not spec.required:
            continue
        i = at[spec.name]
        empty = [n for n, t in zip(numbers, texts, strict=True) if not t[i]]
        if empty:
            out.append(f"{_row_list(empty)}“{spec.name}”为空")
    return out


def as_number(value: Any) -> float | None:
    """A score as a number; ``5``, ``5.0``, ``5分`` are numbers, ``五分`` is not."""
    return _number(cell_text(value))


def _number(text: str) -> float | None:
    try:
        return float(text.removesuffix("分").strip())
    except ValueError:
        return None


def non_numeric(
    schema: AnnexSchema, numbers: list[int], texts: Texts, at: dict[str, int]
) -> list[str]:
    out = []
    for field in sorted(schema.numeric_fields):
        i = at[field]
        for n, t in zip(numbers, texts, strict=True):
            if t[i] and _number(t[i]) is None:
                out.append(f"第{n}行“{field}”不是数字：“{t[i]}”")
    return out


def totals(schema: AnnexSchema, texts: Texts, at: dict[str, int]) -> list[str]:
    """Columns whose ``total`` rule (annexes.toml) the rows do not add up to."""
    out = []
    for spec in schema.fields:
        if spec.total is None:
            continue
        i = at[spec.name]
        total = sum(n for t in texts if (n := _number(t[i])) is not None)
        if abs(total - spec.total) >= 1e-6:
            unit = " 分" if "分" in spec.name else ""
            out.append(f"{spec.name}合计 {total:g}{unit}，应为 {spec.total:g}{unit}")
    return out


def duplicates(numbers: list[int], texts: Texts, content: list[int]) -> list[str]:
    """Rows whose *content* fields (all but 序号: renumbered rows are still the same
    row) repeat an earlier row's."""
    first: dict[tuple[str, ...], int] = {}
    out = []
    for n, t in zip(numbers, texts, strict=True):
        key = tuple([t[i] for i in content])
        if not any(key):
            continue
        if key in first:
            out.append(f"第{n}行与第{first[key]}行内容重复")
        else:
            first[key] = n
    return out


def dropped_rows(
    previous: Texts, latest: Texts, name_at: int, previous_version: int | None
) -> list[str]:
    """Rows of the previous version missing from the one that counts (by the name
    field, at *name_at*).

    Only the latest version counts; when a unit sends "just the additions" as a
    new version, the earlier rows would silently drop out of the consolidated
    table. The clerk sees which names went missing and can ask.
    """
    now = {t[name_at] for t in latest}
    gone = [t[name_at] for t in previous if t[name_at] not in now]
    gone = [g for g in gone if g]
    if not gone:
        return []
    which = f"第{previous_version}版" if previous_version else "上一版"
    names = "、".join(f"“{g}”" for g in gone[:SHOW_ROWS]) + ("等" if len(gone) > SHOW_ROWS else "")
    return [f"最新版比{which}少了 {len(gone)} 行（{names}），只按最新版统计，请确认是否为补充报送"]

"""render_json writes exactly what ``json.dumps(..., ensure_ascii=False, indent=2)`` writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reports.render_json import dumps_indented, render_json, report_dict
from tests.support.report_samples import TZ, sample_report

ODD: dict[str, Any] = {
    "text": 'quote " backslash \\ tab \t newline \n nul \x00 中文 \u2028 😀',
    "numbers": [0, -1, 10**20, 2.5, 1e-7, 1e300, 0.1 + 0.2],
    "flags": [True, False, None],
    "empty": {"dict": {}, "list": [], "string": ""},
    "nested": [[[]], [{}], [{"a": [1, {"b": None}]}]],
    "": "empty key",
}


def test_same_text_as_json_dumps() -> None:
    assert dumps_indented(ODD) == json.dumps(ODD, ensure_ascii=False, indent=2)
    scalars: list[Any] = ["x", 1, 1.5, True, None, [], {}]
    for scalar in scalars:
        assert dumps_indented(scalar) == json.dumps(scalar, ensure_ascii=False, indent=2)


@pytest.mark.parametrize(
    "unusual", [{1: "int key"}, {"nan": float("nan")}, [float("inf")], {"t": (1, 2)}]
)
def test_what_it_does_not_encode_is_left_to_json(unusual: Any) -> None:
    assert dumps_indented(unusual) == json.dumps(unusual, ensure_ascii=False, indent=2)


def test_the_report_as_json_dumps_would_write_it() -> None:
    report = sample_report()
    expected = json.dumps(report_dict(report, TZ), ensure_ascii=False, indent=2) + "\n"
    assert render_json(report, TZ) == expected

"""The html report: self-contained, escaped, with the SVG charts."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from reports.render_html import render_html
from tests.support.report_samples import SCRIPT, sample_report


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.by_id: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.stack.append(dict(attrs).get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for ident in self.stack:
            if ident:
                self.by_id.setdefault(ident, []).append(data)


def parse(html: str) -> Collect:
    p = Collect()
    p.feed(html)
    return p


def test_values_from_mail_are_text_not_markup() -> None:
    html = render_html(sample_report())
    p = parse(html)
    assert [t for t, _ in p.tags if t == "script"] == []
    text = "".join(p.text)
    assert f"考核任务申报 {SCRIPT}" in text  # the subject, shown as text
    assert f"任务 {SCRIPT}" in text  # a task name inside a content check
    assert "&lt;script&gt;" in html


def test_self_contained_no_network() -> None:
    html = render_html(sample_report())
    p = parse(html)
    for tag, attrs in p.tags:
        assert tag not in ("link", "img", "iframe", "object")
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http:", "https:", "//")), (tag, value)
    assert '<meta name="viewport"' in html


def test_charts_by_category_and_by_annex() -> None:
    p = parse(render_html(sample_report()))
    svgs = [a for t, a in p.tags if t == "svg"]
    assert [a.get("aria-label") for a in svgs] == ["按单位类别的报送进度", "按附件的报送进度"]
    bars = [
        (a["data-done"], a["data-total"]) for t, a in p.tags if t == "g" and a.get("class") == "bar"
    ]
    # 区直部门 4/6, 镇（街道办） 2/3; annexes 2: 2/2, 4: 2/2, 5: 0/1, 6: 2/4
    assert bars == [("4", "6"), ("2", "3"), ("2", "2"), ("2", "2"), ("0", "1"), ("2", "4")]
    segments = [a for t, a in p.tags if t == "rect" and (a.get("fill") or "").startswith("#")]
    assert any(a["fill"] == "#FFC7CE" for a in segments)  # overdue segment drawn


def test_progress_counts_and_detail() -> None:
    p = parse(render_html(sample_report()))
    progress = "".join(p.by_id["progress"])
    assert progress.startswith("6/9") and "67%" in progress
    counts = "".join(p.by_id["counts"])
    assert "逾期未报 2" in counts and "无法读取 1" in counts
    follow = "".join(p.by_id["follow-up"])
    assert "王会计" in follow and "13800000001" in follow and "大河坎镇" not in follow
    detail = "".join(p.by_id["detail"])
    assert "纸质版 2020-03-13" in detail and "已报送（非必报）" in detail
    hrefs = [a.get("href") for t, a in p.tags if t == "a"]
    assert "tel:13800000001" in hrefs


def test_roster_values_in_the_long_lists_are_text_not_markup() -> None:
    """Detail rows, checks and paper rows are made in Python: escaped all the same."""
    report = sample_report()
    evil = dataclasses.replace(
        report.units[1],
        unit=f"局{SCRIPT}",
        category=f"类{SCRIPT}",
        contact=f"人{SCRIPT}",
        phone='1" onclick="x',
    )
    html = render_html(dataclasses.replace(report, units=[evil, *report.units[2:]]))
    p = parse(html)
    assert [t for t, _ in p.tags if t == "script"] == []
    assert not any("onclick" in attrs for _, attrs in p.tags)
    for section in ("detail", "checks", "paper"):
        assert f"局{SCRIPT}" in "".join(p.by_id[section]), section
    assert f"类{SCRIPT}" in "".join(p.by_id["detail"])
    assert f"人{SCRIPT}" in "".join(p.by_id["paper"])
    assert 'href="tel:1&#34; onclick=&#34;x"' in html

"""Where ``report`` and ``export`` write: the extension names the format, several
formats need a folder, a binary format never goes to a terminal."""

from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from ingest.app.cli import cli
from ingest.core.config import Config
from ingest.core.vocab import REPORT_FORMATS
from reports.output import OutputError, plan_output
from tests.support.paths import REPO
from tests.support.report_samples import make_demo
from tests.support.terminal import run_on_tty

AS_OF = ["--as-of", "2020-03-23 08:00"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return make_demo(tmp_path_factory.mktemp("demo"))


def kaohe(cfg: Config, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(cfg.path), *args])


def test_extension_implies_the_format(demo: Config, tmp_path: Path) -> None:
    out = tmp_path / "报告.xlsx"
    res = kaohe(demo, "report", *AS_OF, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:2] == b"PK"  # a workbook, not text
    assert "总览" in load_workbook(BytesIO(out.read_bytes())).sheetnames
    html = tmp_path / "报告.html"
    assert kaohe(demo, "report", *AS_OF, "-o", str(html)).exit_code == 0
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_several_formats_need_a_folder(demo: Config, tmp_path: Path) -> None:
    named = tmp_path / "新报告.xlsx"
    res = kaohe(demo, "report", *AS_OF, "--format", "xlsx,html", "-o", str(named))
    assert res.exit_code == 1 and res.output.startswith("错误：") and "目录" in res.output
    assert not named.exists()  # no folder named like a file
    named.write_bytes(b"old")
    res = kaohe(demo, "report", *AS_OF, "--format", "xlsx,html", "-o", str(named))
    assert res.exit_code == 1 and "已有的文件" in res.output and "Traceback" not in res.output
    assert named.read_bytes() == b"old"
    folder = tmp_path / "报告目录"
    res = kaohe(demo, "report", *AS_OF, "--format", "xlsx,html", "-o", str(folder))
    assert res.exit_code == 0, res.output
    assert sorted(p.suffix for p in folder.iterdir()) == [".html", ".xlsx"]


def test_a_path_under_a_missing_folder_is_refused_and_nothing_is_created(
    demo: Config, tmp_path: Path
) -> None:
    for args in (
        ("report", *AS_OF, "-o", str(tmp_path / "无此目录" / "报告.xlsx")),
        ("report", *AS_OF, "--format", "xlsx,html", "-o", str(tmp_path / "无此目录" / "报告")),
        ("export", "--all", "-o", str(tmp_path / "无此目录" / "汇总表.xlsx")),
    ):
        res = kaohe(demo, *args)
        assert res.exit_code != 0 and "上级目录" in res.output and "不存在" in res.output
    assert not (tmp_path / "无此目录").exists()
    # a new folder directly under an existing one is still fine
    res = kaohe(demo, "report", *AS_OF, "--format", "txt,json", "-o", str(tmp_path / "新目录"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "新目录").iterdir())) == 2


def test_extension_and_format_must_agree(demo: Config, tmp_path: Path) -> None:
    res = kaohe(demo, "report", *AS_OF, "--format", "xlsx", "-o", str(tmp_path / "报告.txt"))
    assert res.exit_code == 1 and "扩展名" in res.output and not (tmp_path / "报告.txt").exists()


def test_export_extension_implies_docx(demo: Config, tmp_path: Path) -> None:
    out = tmp_path / "汇总表.docx"
    res = kaohe(demo, "export", "--all", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:2] == b"PK" and b"word/document.xml" in out.read_bytes()


def test_plan_output_refuses_binary_to_a_terminal() -> None:
    with pytest.raises(OutputError, match="二进制"):
        plan_output(["xlsx"], "-", True, REPORT_FORMATS)
    assert plan_output(["xlsx"], "-", False, REPORT_FORMATS).output == "-"  # a pipe is fine
    assert plan_output(["json"], "-", True, REPORT_FORMATS).formats == ["json"]
    assert plan_output([], None, True, REPORT_FORMATS) == plan_output(
        ["txt"], "-", True, REPORT_FORMATS
    )


@pytest.mark.integration
def test_export_to_a_real_terminal_is_refused(demo: Config) -> None:
    """The installed ``kaohe`` with stdout on a pseudo-terminal: one Chinese line, no bytes."""
    done, shown = run_on_tty(
        [str(Path(sys.executable).with_name("kaohe")), "-c", str(demo.path)]
        + ["export", "--annex", "4", "-o", "-"],
        "stdout",
        cwd=REPO,
        timeout=60,
    )
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert err.startswith("错误：xlsx 是二进制文件") and "Traceback" not in err
    assert b"PK" not in shown

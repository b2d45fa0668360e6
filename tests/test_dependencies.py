"""The declared dependencies tell the truth: each is imported by runtime code, or a
library kaohe imports uses it (shown here), and nothing imported is undeclared."""

from __future__ import annotations

import ast
import os
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Distribution name -> the module it is imported as, where the two differ.
MODULE_OF = {
    "python-docx": "docx",
    "sqlite-utils": "sqlite_utils",
    "python-calamine": "python_calamine",
    "msoffcrypto-tool": "msoffcrypto",
}
# Declared for a library kaohe imports, which uses them on its own (proved below).
USED_BY_A_LIBRARY = {"defusedxml", "python-multipart"}


def declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["optional-dependencies"][group] if group else project["dependencies"]
    return {re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0].lower() for spec in specs}


def imported_top_levels() -> set[str]:
    found = set()
    for top in ("ingest", "parsers", "reports"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found


def test_every_runtime_dependency_is_imported() -> None:
    imported = imported_top_levels()
    unused = [
        d
        for d in sorted(declared() - USED_BY_A_LIBRARY)
        if MODULE_OF.get(d, d.replace("-", "_")) not in imported
    ]
    assert not unused, f"declared but never imported: {unused}"


def test_every_third_party_import_is_declared() -> None:
    modules = {MODULE_OF.get(d, d.replace("-", "_")) for d in declared()}
    own = {"ingest", "parsers", "reports", "tests"}
    foreign = imported_top_levels() - own - set(sys.stdlib_module_names) - {"__future__"}
    assert foreign <= modules, f"imported but not declared: {sorted(foreign - modules)}"


def test_pandas_is_an_extra_and_never_imported() -> None:
    assert "pandas" not in declared() and "pandas" in declared("analysis")
    assert not {"pandas", "numpy"} & imported_top_levels()


def test_openpyxl_parses_with_defusedxml() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True


def test_starlette_parses_forms_with_python_multipart() -> None:
    import starlette.requests

    assert starlette.requests.parse_options_header is not None


def test_the_version_kaohe_names_is_the_packages() -> None:
    """``ingest.VERSION`` (sent in IMAP's ID command) is pyproject's version, installed."""
    from importlib import metadata

    import ingest

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert ingest.VERSION == project["version"] == metadata.version("kaohe-inbox")


def test_sqlite_utils_and_openpyxl_do_not_import_an_installed_pandas(tmp_path: Path) -> None:
    """ingest/__init__ hides pandas and numpy while sqlite-utils and openpyxl import (they
    would pay ~0.5 s for them); afterwards both import as usual."""
    import subprocess

    for name in ("pandas", "numpy"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"NAME = {name!r}\n", encoding="utf-8")
    code = (
        "import sys, ingest, sqlite_utils, openpyxl\n"
        "print(sorted({'pandas', 'numpy'} & set(sys.modules)))\n"
        "import pandas, numpy\n"
        "print(pandas.NAME, numpy.NAME)\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "PATH": os.environ.get("PATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["[]", "pandas numpy"]

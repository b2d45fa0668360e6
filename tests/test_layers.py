"""The import layers: data flows one way, and so do imports.

    parsers → ingest.core → ingest.mail → ingest.match → ingest.store → reports → ingest.app

A module may import from its own layer and the layers to its left, never to its
right — at the top of the file or inside a function alike. The wiring is static:
no ``importlib``/``__import__`` and no ``except ImportError`` in project code, so
a rename is a type error, not a runtime "功能不可用".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (
    "parsers",
    "ingest.core",
    "ingest.mail",
    "ingest.match",
    "ingest.store",
    "reports",
    "ingest.app",
)


def layer_of(module: str) -> int | None:
    """Index of the layer *module* belongs to; None for modules outside the project."""
    best: tuple[int, int] | None = None
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > best[1]:
                best = (i, len(prefix))
    if best is not None:
        return best[0]
    if module == "ingest":  # the package itself: no project imports, shared by all
        return 1
    return None


def project_modules() -> dict[str, Path]:
    out = {}
    for top in ("parsers", "ingest", "reports"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            # ``from ingest.store import pipeline`` imports the submodule too
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return found


def back_arrows(modules: dict[str, Path]) -> list[str]:
    bad = []
    for module, path in sorted(modules.items()):
        own = layer_of(module)
        assert own is not None, f"{module} is in no layer: add it to LAYERS"
        for line, target in imports_of(module, path):
            other = layer_of(target)
            if other is not None and other > own and (target in modules or "." not in target):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                bad.append(
                    f"{where}:{line}: {module} ({LAYERS[own]}) imports {target} ({LAYERS[other]})"
                )
    return bad


def test_no_import_runs_back_against_the_flow() -> None:
    bad = back_arrows(project_modules())
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def test_the_check_sees_a_back_arrow(tmp_path: Path) -> None:
    # The check itself must be able to fail: a parser importing the store is caught,
    # at the top and inside a function.
    fake = tmp_path / "bad.py"
    fake.write_text("import os\n\ndef f():\n    from ingest.store.db import open_db\n")
    modules = {"parsers.bad": fake, "ingest.store.db": ROOT / "ingest/store/db.py"}
    bad = back_arrows(modules)
    assert len(bad) == 1 and "parsers.bad (parsers) imports ingest.store.db" in bad[0]


def test_layer_of_prefers_the_longest_prefix() -> None:
    assert layer_of("ingest.app.cli.base") == LAYERS.index("ingest.app")
    assert layer_of("ingest.store.db") == LAYERS.index("ingest.store")
    assert layer_of("reports.status") == LAYERS.index("reports")
    assert layer_of("openpyxl") is None


@pytest.mark.parametrize("needle", ["importlib.import_module", "__import__("])
def test_wiring_is_static(needle: str) -> None:
    hits = [
        f"{p.relative_to(ROOT)}"
        for p in project_modules().values()
        if needle in p.read_text(encoding="utf-8")
    ]
    assert not hits, f"{needle} in {hits}"


def test_no_import_error_guard_around_project_modules() -> None:
    hits = []
    for module, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                if names & {"ImportError", "ModuleNotFoundError"}:
                    hits.append(f"{module}:{node.lineno}")
    assert not hits, f"except ImportError in {hits}"

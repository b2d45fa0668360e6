"""kaohe-inbox: mailbox → raw archive → unpack → classify/identify → parse → database.

kaohe never imports pandas or numpy, and neither is a dependency (pandas is the
optional ``analysis`` extra). But when they are installed — the extra, or a
Python shared with other tools — sqlite-utils and openpyxl import them at import
time only to recognise their types in values. kaohe never hands them such values,
and the two imports cost about 0.5 s and 45 MB of memory, so whenever sqlite-utils
or openpyxl is first imported (by the commands that need them, not at start-up:
``kaohe --help`` pays neither), pandas and numpy are hidden for the duration of
that import; importing pandas or numpy afterwards works as usual. Without them
installed this changes nothing.
"""

from __future__ import annotations

import importlib.machinery
import sys
from types import ModuleType
from typing import Any

VERSION = "0.1.0"  # pyproject.toml's [project] version (tests/test_dependencies.py checks)

_HIDE_DURING = frozenset({"sqlite_utils", "openpyxl"})
_HIDDEN = ("pandas", "numpy")


class _HidingLoader:
    """Runs the real loader with pandas and numpy made unimportable.

    A loader and a finder by protocol (``create_module``/``exec_module``,
    ``find_spec``), not by subclassing ``importlib.abc``: importing that costs
    every command ~9 ms before it does anything."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        hidden = [m for m in _HIDDEN if m not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # the import raises ImportError
        try:
            self._loader.exec_module(module)
        finally:
            for name in hidden:
                sys.modules.pop(name, None)


class _HidePandas:
    """Wraps the loader of sqlite_utils and openpyxl (the packages) in :class:`_HidingLoader`."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _HIDE_DURING:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _HidingLoader(spec.loader)  # type: ignore[assignment]  # by protocol
        return spec


if not any(isinstance(f, _HidePandas) for f in sys.meta_path):
    sys.meta_path.insert(0, _HidePandas())

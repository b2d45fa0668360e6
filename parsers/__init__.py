"""Parsers: bytes in, plain data out (see docs/DESIGN.md).

``read_document`` turns a file's bytes into a :class:`~parsers.model.Document`;
``classify`` picks the annex; ``extract_form`` reads its rows.
"""

from __future__ import annotations

import importlib
from typing import Any

from parsers.classify import classify
from parsers.errors import ParseError, UnsupportedFormat
from parsers.model import AnnexGuess, Document, FormResult, Table
from parsers.schema import AnnexSchema, FieldSpec, build_schemas, normalise_header
from parsers.table import extract_form, find_unit_line

__all__ = [
    "AnnexGuess",
    "AnnexSchema",
    "Document",
    "FieldSpec",
    "FormResult",
    "ParseError",
    "Table",
    "build_schemas",
    "classify",
    "extract_form",
    "find_unit_line",
    "normalise_header",
    "read_document",
]


def read_document(data: bytes, kind: str, converter: Any = None) -> Document:
    """Read ``data`` of detected type ``kind`` into a Document.

    docx, xlsx and xls/et are read here; pdf, html (".xls" that are HTML tables)
    and the legacy formats (doc, wps, rtf, …) go to ``parsers.pdf``,
    ``parsers.html`` / ``parsers.legacy`` when those are present.
    ``converter`` is handed to the legacy converter (LibreOffice runner).
    Raises :class:`ParseError` (or a subclass) with a Chinese reason.
    """
    if kind == "docx":
        from parsers.word import read_docx

        return read_docx(data)
    if kind == "xlsx":
        from parsers.excel import read_xlsx

        return read_xlsx(data)
    if kind in ("xls", "et"):
        from parsers.excel import read_xls

        return read_xls(data)
    if kind in ("pdf", "html"):
        reader = _optional(f"parsers.{kind}", f"read_{kind}")
        if reader is not None:
            result: Document = reader(data)
            return result
    else:
        legacy = _optional("parsers.legacy", "convert")
        if legacy is not None:
            converted: Document = legacy(data, kind, converter)
            return converted
    raise UnsupportedFormat(f"不支持的文件类型：{kind}")


def _optional(module: str, name: str) -> Any:
    """``module.name`` if another engineer's module is installed, else None."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None
    return getattr(found, name, None)

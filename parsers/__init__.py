"""Parsers: bytes in, plain data out (see docs/DESIGN.md).

``read_document`` turns a file's bytes into a :class:`~parsers.model.Document`;
``classify`` picks the annex; ``extract_form`` reads its rows.

A docx/xlsx/xlsb is opened as a zip once: ``detect_type(data)`` keeps the package
it opened, ``read_document(data, kind)`` on the very same bytes object reuses it
for the XML guard and the reader (with the parts both parse inflated once) and
drops it when the read finishes — see :mod:`parsers.ooxml`. Nothing to do for
callers; passing a copy of the bytes only costs the sharing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# eager: the function shares its module's name (a lazy name would be the module)
from parsers.classify import classify
from parsers.errors import ParseError, UnsupportedFormat
from parsers.model import AnnexGuess, Document, FormResult, Table

if TYPE_CHECKING:
    from parsers.schema import AnnexSchema, FieldSpec, build_schemas, normalise_header
    from parsers.table import extract_form, find_unit_line

# Imported on first use (PEP 562): ``kaohe --help`` and the reports need no reader,
# and the parse workers import the readers themselves (ingest.match.sandbox_worker).
_SCHEMA_NAMES = frozenset({"AnnexSchema", "FieldSpec", "build_schemas", "normalise_header"})
_TABLE_NAMES = frozenset({"extract_form", "find_unit_line"})


def __getattr__(name: str) -> Any:
    from types import ModuleType

    module: ModuleType
    if name in _SCHEMA_NAMES:
        from parsers import schema

        module = schema
    elif name in _TABLE_NAMES:
        from parsers import table

        module = table
    else:
        raise AttributeError(f"module 'parsers' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


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
    "read_converted",
    "read_document",
    "conversion_target",
]

# Kinds only LibreOffice reads: they are converted (docx/xlsx) before reading.
CONVERTED_KINDS = ("doc", "wps", "rtf", "odt")


def conversion_target(kind: str) -> str | None:
    """ "docx"/"xlsx" when *kind* is read by converting it with LibreOffice first, else None."""
    from parsers.legacy import target_of

    return target_of(kind) if kind in CONVERTED_KINDS else None


def read_converted(data: bytes, target: str, kind: str) -> Document:
    """Read LibreOffice's *target* (docx/xlsx) output of a *kind* file; the kind is kept."""
    import dataclasses

    from parsers.excel import read_xlsx
    from parsers.word import read_docx

    doc = read_docx(data) if target == "docx" else read_xlsx(data)
    return dataclasses.replace(doc, kind=kind)


KIND_WORDS = {  # the clerk's words for the kinds that are not forms
    "text": "文本文件",
    "other": "无法识别的文件类型",
    "zip": "zip 压缩包",
    "rar": "rar 压缩包",
    "7z": "7z 压缩包",
    "eml": "邮件",
}


def read_document(data: bytes, kind: str, converter: Any = None) -> Document:
    """Read ``data`` of detected type ``kind`` into a Document.

    docx/xlsx/xlsb are first checked for XML entity tricks (billion laughs, XXE)
    and bomb-sized parts; xls/et, ods and csv are read directly; pdf and HTML
    ".xls" have their own readers; everything else (doc, wps, rtf, odt …) goes
    through LibreOffice (``converter`` is the cycle's :class:`parsers.legacy.Converter`).
    Raises :class:`ParseError` (or a subclass) with a Chinese reason.
    """
    from parsers import csv, excel, html, ooxml, pdf, word
    from parsers.detect import check_ooxml
    from parsers.legacy import convert

    if kind in ("docx", "xlsx", "xlsb"):
        # One zip directory and one inflation of each shared part for detect_type
        # (when it saw this very bytes object), the guard and the reader; dropped
        # here whatever the outcome (see parsers.ooxml).
        ooxml.hold(data)
        try:
            check_ooxml(data)
            readers = {"docx": word.read_docx, "xlsx": excel.read_xlsx, "xlsb": excel.read_xlsb}
            return readers[kind](data)
        finally:
            ooxml.release(data)
    if kind in ("xls", "et"):
        return excel.read_xls(data)
    if kind == "ods":
        return excel.read_ods(data)
    if kind == "csv":
        return csv.read_csv(data)
    if kind == "pdf":
        return pdf.read_pdf(data)
    if kind == "html":
        return html.read_html(data)
    if kind in ("text", "other", "zip", "rar", "7z", "eml"):
        raise UnsupportedFormat(
            f"不是表格文件（{KIND_WORDS.get(kind, '无法识别的文件类型')}），无法读取"
        )
    return convert(data, kind, converter)

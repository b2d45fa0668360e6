"""Parsers: bytes in, plain data out (see docs/DESIGN.md).

``read_document`` turns a file's bytes into a :class:`~parsers.model.Document`;
``classify`` picks the annex; ``extract_form`` reads its rows.
"""

from __future__ import annotations

from typing import Any

from parsers.classify import classify
from parsers.csv import read_csv
from parsers.detect import check_ooxml
from parsers.errors import ParseError, UnsupportedFormat
from parsers.excel import read_ods, read_xls, read_xlsb, read_xlsx
from parsers.html import read_html
from parsers.legacy import convert, target_of
from parsers.model import AnnexGuess, Document, FormResult, Table
from parsers.pdf import read_pdf
from parsers.schema import AnnexSchema, FieldSpec, build_schemas, normalise_header
from parsers.table import extract_form, find_unit_line
from parsers.word import read_docx

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
    return target_of(kind) if kind in CONVERTED_KINDS else None


def read_converted(data: bytes, target: str, kind: str) -> Document:
    """Read LibreOffice's *target* (docx/xlsx) output of a *kind* file; the kind is kept."""
    import dataclasses

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
    if kind in ("docx", "xlsx", "xlsb"):
        check_ooxml(data)
        readers = {"docx": read_docx, "xlsx": read_xlsx, "xlsb": read_xlsb}
        return readers[kind](data)
    if kind in ("xls", "et"):
        return read_xls(data)
    if kind == "ods":
        return read_ods(data)
    if kind == "csv":
        return read_csv(data)
    if kind == "pdf":
        return read_pdf(data)
    if kind == "html":
        return read_html(data)
    if kind in ("text", "other", "zip", "rar", "7z", "eml"):
        raise UnsupportedFormat(
            f"不是表格文件（{KIND_WORDS.get(kind, '无法识别的文件类型')}），无法读取"
        )
    return convert(data, kind, converter)

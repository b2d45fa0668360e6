"""The three reads of an attachment's bytes, each run in the parse sandbox.

:func:`detect_kind`, :func:`expand_archive` and :func:`read_document` are what
:mod:`ingest.match.analyse` calls; each sends one job to a
:class:`~ingest.match.sandbox.ParsePool` (the caller's, or the process-wide
default) and turns a stopped worker into an answer the analysis already knows:

- detection → the kind :data:`ABORTED`, which reads as :data:`STOPPED`;
- an archive → an :class:`~ingest.mail.containers.Expansion` whose one refusal
  is :data:`STOPPED`;
- a document → :class:`~ingest.match.sandbox.ParseAborted` (a ParseError).

LibreOffice conversions run in the calling process, as a capped process group
(:class:`parsers.legacy.Converter`), so their batches survive; only reading
the converted docx/xlsx goes to the worker. The ``_job_*`` functions run in
the worker.

The bytes of a file may be given as bytes or as a
:class:`~ingest.match.sandbox.PayloadFile` (a file already under data_dir,
e.g. an archived raw mail): either reaches the worker's function as bytes, and
bytes of 1 MiB or more travel as a scratch file, not through the pipe.
"""

from __future__ import annotations

import logging
from typing import Any

import parsers
from ingest.core.config import LimitsConfig
from ingest.mail.containers import Expansion, Refusal, clean_path
from ingest.match.sandbox import (
    STOPPED,
    ParseAborted,
    ParsePool,
    Payload,
    PayloadFile,
    default_pool,
    read_payloads,
)
from parsers.detect import detect_type
from parsers.errors import ParseError
from parsers.model import Document

log = logging.getLogger(__name__)

ABORTED = "aborted"  # kind of a file whose detection was stopped by the sandbox
_OOXML_SUFFIXES = {"docx": "docx", "xlsx": "xlsx", "xlsm": "xlsx"}
# kinds read in the detection job itself (no LibreOffice, not containers)
READ_AHEAD = frozenset({"docx", "xlsx", "xlsb", "xls", "et", "ods", "csv", "pdf", "html"})


def detect_kind(data: Payload, filename: str, pool: ParsePool | None = None) -> str:
    """The detected type of *data* (see :func:`kind_in_process`), or :data:`ABORTED`."""
    if _empty(data):
        return "empty"
    try:
        return str(_pool(pool).call(kind_in_process, data, filename))
    except ParseAborted:
        log.warning("type detection of %r stopped by the sandbox", filename)
        return ABORTED


def detect_and_read(
    data: Payload, filename: str, max_bytes: int, pool: ParsePool | None = None
) -> tuple[str, Document | ParseError | None]:
    """Detect *data*'s type and, for a form read without LibreOffice, read it too.

    One job and one copy of the bytes to the worker instead of two. The second
    item is the Document (or the ParseError reading it raised), None when the
    kind is not read ahead. A worker stopped while reading: the detection is
    asked again alone and the read is :class:`ParseAborted`.
    """
    if _empty(data):
        return "empty", None
    try:
        kind, doc = _pool(pool).call(kind_and_document, data, filename, max_bytes)
    except ParseAborted as e:
        kind = detect_kind(data, filename, pool)
        return kind, (e if kind in READ_AHEAD else None)
    return str(kind), doc


def kind_and_document(
    data: bytes, filename: str, max_bytes: int
) -> tuple[str, Document | ParseError | None]:
    """Runs in the worker: :func:`kind_in_process`, then the read of a form kind."""
    kind = kind_in_process(data, filename)
    if kind not in READ_AHEAD or len(data) > max_bytes:
        return kind, None
    try:
        return kind, parsers.read_document(data, kind)
    except ParseError as e:
        return kind, e


def expand_archive(
    data: Payload, kind: str, name: str, limits: LimitsConfig, depth: int, pool: ParsePool | None
) -> Expansion:
    """Members of an archive (see :func:`ingest.mail.containers.expand`), expanded in the sandbox."""
    from ingest.mail.containers import expand

    try:
        result = _pool(pool).call(expand, data, kind, name, limits, depth)
    except ParseAborted as e:
        return Expansion(refusals=(Refusal(clean_path(name), e.reason),))
    assert isinstance(result, Expansion)
    return result


def read_document(
    data: Payload, kind: str, converter: Any = None, pool: ParsePool | None = None
) -> Document:
    """Read an attachment in the sandbox; raises ParseError (ParseAborted when stopped)."""
    if kind == ABORTED:
        raise ParseAborted(STOPPED)
    target = parsers.conversion_target(kind)
    if target is None:
        doc = _pool(pool).call(parsers.read_document, data, kind)
    else:
        converted = _convert(read_payloads((data,))[0], kind, converter)
        doc = _pool(pool).call(parsers.read_converted, converted, target, kind)
    assert isinstance(doc, Document)
    return doc


def _convert(data: bytes, kind: str, converter: Any) -> bytes:
    """LibreOffice's docx/xlsx of *data* (the cycle's converter, or a private one)."""
    if converter is not None:
        return bytes(converter.convert(data, kind))
    from parsers.legacy import Converter

    limits = default_pool().limits
    with Converter(memory_mb=limits.memory_mb) as own:
        return own.convert(data, kind)


def kind_in_process(data: bytes, filename: str) -> str:
    """The detected type; an OOXML file whose parts cannot be listed keeps its name's type.

    Runs in the worker. A truncated or damaged docx/xlsx is still the form its
    name says, and its reader explains the damage.
    """
    try:
        kind = detect_type(data, filename)
    except Exception:  # detection must never fail the attachment
        log.exception("type detection failed for %r", filename)
        return "other"
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind == "zip" and suffix in _OOXML_SUFFIXES:
        return _OOXML_SUFFIXES[suffix]
    return kind


def _empty(data: Payload) -> bool:
    return data.size == 0 if isinstance(data, PayloadFile) else not data


def _pool(pool: ParsePool | None) -> ParsePool:
    return pool if pool is not None else default_pool()

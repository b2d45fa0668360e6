"""One open zip package per OOXML file: detection, the XML guard and the reader share it.

A docx/xlsx used to be opened three times (``detect_type``, ``check_ooxml``, the
reader): three reads of the central directory, and the parts the guard checks
opened and inflated again by the reader. Here one :class:`Package` (a
``zipfile.ZipFile`` over the bytes) serves all three, and the few parts a Python
reader parses whole are inflated once and kept.

How the sharing stays transparent to callers (``ingest.match.untrusted`` calls
``detect_type(data)`` then ``read_document(data, kind)`` on the same object):

- a one-entry, per-thread cache keyed by the very bytes object: ``cached is data``
  (a strong reference, never ``id()`` alone, so a recycled address cannot match);
- :func:`hold` opens the window: ``detect_type`` holds a zip it finds to be
  docx/xlsx/xlsb (and releases any other zip), ``read_document`` holds its
  OOXML input; :func:`package` returns the held package or opens a new one
  (kept only while its bytes are held);
- :func:`release` closes it: ``read_document`` releases when the read finishes,
  whatever the outcome. A form detected but never read (an archive member, a
  file over the read-ahead cap) stays held until the next :func:`hold` in that
  thread, so ``detect_type`` holds only small packages (:data:`DETECT_HOLD_BYTES`,
  :data:`DETECT_HOLD_MEMBERS`): what may linger in a parse worker after its job
  is one package of a few MB, not a 25 MB attachment or a directory of 100,000
  members. Bigger forms are opened by each step as before (the open is then a
  small part of their cost).

Kept parts (:meth:`Package.whole`): only the parts the Python readers parse
whole (``[Content_Types].xml``, ``_rels/.rels``, ``word/document.xml``,
``xl/workbook.xml`` and its rels, worksheets — see :data:`SHARED_PARTS`), each
at most :data:`PART_MAX` bytes and :data:`KEPT_MAX` in all; larger parts are
streamed as before. A part is kept only when it is the member a lookup by name
resolves to (a zip may repeat a name), and only when it inflated without error
(otherwise the caller streams it and meets the same error as before).
"""

from __future__ import annotations

import re
import threading
import zipfile
from io import BytesIO
from typing import IO, Any

__all__ = ["Package", "held_members", "hold", "package", "release"]

DETECT_HOLD_BYTES = 8 << 20  # detect_type holds no bigger file ...
DETECT_HOLD_MEMBERS = 1000  # ... nor one with more members (a form has 10–40)
PART_MAX = 4 << 20  # a filled form's document.xml or sheet is well under 1 MB
KEPT_MAX = 16 << 20
# Parts read whole by detect_type, word.read_docx or sheet_guard.xlsx_extents.
SHARED_PARTS = re.compile(
    r"^(\[Content_Types\]\.xml|_rels/\.rels|word/document\.xml|xl/workbook\.xml"
    r"|xl/_rels/workbook\.xml\.rels|xl/worksheets/[^/]+\.xml)$"
)


class Package(zipfile.ZipFile):
    """A read-only zip over *data* whose kept parts are served from memory."""

    def __init__(self, data: bytes) -> None:
        super().__init__(BytesIO(data))
        self.data = data
        self._parts: dict[str, bytes] = {}
        self._kept = 0

    def whole(self, info: zipfile.ZipInfo) -> bytes | None:
        """The whole part *info*, inflated once and kept; None when it is not to be
        kept (not a shared part, too big, shadowed by a later member of the same
        name) or does not inflate cleanly — the caller then reads it as before."""
        name = info.filename
        kept = self._parts.get(name)
        if kept is not None and self.NameToInfo.get(name) is info:
            return kept
        if (
            self.NameToInfo.get(name) is not info
            or not SHARED_PARTS.match(name)
            or info.file_size > PART_MAX
            or self._kept + info.file_size > KEPT_MAX
        ):
            return None
        try:
            part = super().read(info)
        except Exception:  # the caller's own read raises it again, as it always did
            return None
        self._parts[name] = part
        self._kept += len(part)
        return part

    def _kept_part(self, name: str | zipfile.ZipInfo) -> bytes | None:
        if isinstance(name, zipfile.ZipInfo):
            if self.NameToInfo.get(name.filename) is not name:
                return None
            name = name.filename
        return self._parts.get(name)

    def read(self, name: str | zipfile.ZipInfo, pwd: bytes | None = None) -> bytes:
        kept = self._kept_part(name) if pwd is None else None
        return kept if kept is not None else super().read(name, pwd)

    def open(  # type: ignore[override]
        self,
        name: str | zipfile.ZipInfo,
        mode: str = "r",
        pwd: bytes | None = None,
        *,
        force_zip64: bool = False,
    ) -> IO[bytes]:
        kept = self._kept_part(name) if mode == "r" and pwd is None else None
        if kept is not None:
            return BytesIO(kept)
        return super().open(name, mode, pwd, force_zip64=force_zip64)  # type: ignore[arg-type]


_local = threading.local()


def _held() -> Any:
    return getattr(_local, "data", None)


def hold(data: bytes) -> None:
    """Keep the package opened for this very *data* object until :func:`release`."""
    if _held() is not data:
        _local.data = data
        _local.package = None


def release(data: bytes) -> None:
    """Drop the held package (and the reference to its bytes) if it is *data*'s."""
    if _held() is data:
        _local.data = None
        _local.package = None


def held_members(data: bytes) -> int | None:
    """The member count of *data*'s held package; None when none is held for it."""
    cached = getattr(_local, "package", None)
    if cached is None or cached.data is not data:
        return None
    return len(cached.filelist)


def package(data: bytes) -> Package:
    """*data*'s held package, else a newly opened one (kept if *data* is held).

    Raises what ``zipfile.ZipFile`` raises on bytes that are not a readable zip;
    a failed open is never kept, so every caller meets the same error.
    """
    cached = getattr(_local, "package", None)
    if cached is not None and cached.data is data:
        assert isinstance(cached, Package)
        return cached
    opened = Package(data)
    if _held() is data:
        _local.package = opened
    return opened

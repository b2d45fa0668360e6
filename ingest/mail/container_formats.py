"""One reader per archive format, all with the same shape for :mod:`ingest.mail.containers`.

``iter_zip/iter_rar/iter_7z(data, admit)`` yield an :class:`Entry` per file
member (directories skipped). Before reading a payload they call
``admit(entry)``, which returns the byte cap to read or the reason to refuse;
a member that yields more than its cap is refused, never truncated silently.
Links (zip/RAR symlinks, RAR hard links and junctions) are never followed or
read: they come back refused as :data:`LINK`. A 7z compressed with a method
py7zr lacks (BCJ2, zstd, brotli) is refused as :data:`UNSUPPORTED`.
Whole-archive problems raise :class:`ArchiveEncrypted` / :class:`ArchiveBroken`.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ENCRYPTED = "压缩包已加密，无法解压"
BOMB = "压缩比异常，疑似压缩炸弹，未解压"
MEMBER_BROKEN = "文件已损坏，无法解压"
MEMBER_LIED = "文件实际大小超过声明，疑似压缩炸弹，未解压"
NEED_UNAR = "需要安装 unar 才能解压此RAR文件：apt-get install unar"
UNSUPPORTED = "压缩方式不受支持，无法解压（请报送单位改用 zip 格式重新压缩）"
LINK = "链接文件（快捷方式），不是文件本身，已跳过"
_S_IFMT, _S_IFLNK = 0o170000, 0o120000

Admit = Callable[["Entry"], Any]  # -> int (byte cap) | str (reason)


class ArchiveEncrypted(Exception):
    """Raised when the archive's directory itself needs a password."""


class ArchiveBroken(Exception):
    """Raised when the archive cannot be opened at all."""


class ArchiveRefused(Exception):
    """Raised when the whole archive is refused by a limit; ``reason`` is Chinese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    name: str  # decoded (repaired) name inside the archive
    size: int  # declared uncompressed size
    packed: int  # compressed size (7z solid blocks: a proportional share)
    encrypted: bool = False
    payload: bytes = b""
    refused: str = ""  # reason when not read


def _read(entry: Entry, admit: Admit, reader: Callable[[int], Any]) -> Entry:
    verdict = admit(entry)
    if isinstance(verdict, str):
        return dataclasses.replace(entry, refused=verdict)
    try:
        payload = reader(verdict + 1)  # one byte more than allowed reveals a lying header
    except ArchiveEncrypted:
        return dataclasses.replace(entry, refused=ENCRYPTED)
    except Exception as e:  # each library has its own zoo of CRC/format errors
        logger.info("member %r unreadable: %s", entry.name, e)
        return dataclasses.replace(entry, refused=MEMBER_BROKEN)
    if len(payload) > verdict:
        return dataclasses.replace(entry, refused=MEMBER_LIED)
    return dataclasses.replace(entry, payload=payload)


# --------------------------------------------------------------------------- zip


def iter_zip(data: bytes, admit: Admit) -> Iterator[Entry]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ArchiveBroken(str(e)) from e
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            entry = Entry(
                name=zip_member_name(info), size=info.file_size, packed=info.compress_size,
                encrypted=bool(info.flag_bits & 0x1),
            )  # fmt: skip
            if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
                yield dataclasses.replace(entry, refused=LINK)
                continue
            yield _read(entry, admit, functools.partial(_read_zip, zf, info))


def _read_zip(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    with zf.open(info) as f:
        return f.read(cap)


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """Repair a zip member name as the sender's system meant it.

    Order: Info-ZIP Unicode Path extra field; the UTF-8 flag (zipfile already
    decoded it); otherwise zipfile read cp437, so recover the raw bytes and try
    strict UTF-8 (zips from Linux/macOS tools without the flag), then GB18030
    (Chinese Windows), per member, so mixed archives come out right.
    """
    unicode_path = _unicode_path_extra(info.extra)
    if unicode_path:
        return unicode_path
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unicode_path_extra(extra: bytes) -> str:
    """The UTF-8 name of an Info-ZIP Unicode Path extra field (0x7075), if any."""
    pos = 0
    while pos + 4 <= len(extra):
        tag = int.from_bytes(extra[pos : pos + 2], "little")
        size = int.from_bytes(extra[pos + 2 : pos + 4], "little")
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if tag == 0x7075 and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return ""
    return ""


# --------------------------------------------------------------------------- rar


def iter_rar(data: bytes, admit: Admit) -> Iterator[Entry]:
    """RAR via rarfile: stored members read directly, compressed ones through ``unar``.

    The archive is copied into a private temp dir (unar needs a path), removed after.
    """
    import rarfile

    # unrar is non-free (absent from Debian main); bsdtar fails with rarfile and
    # Debian's 7zip has no RAR codec, so unar is the only tool we let rarfile use.
    rarfile.tool_setup(unrar=True, unar=True, bsdtar=False, sevenzip=False, sevenzip2=False)
    workdir = Path(tempfile.mkdtemp(prefix="kaohe-rar-"))
    try:
        path = workdir / "archive.rar"
        path.write_bytes(data)
        try:
            rf = rarfile.RarFile(str(path), errors="strict")  # a torn header is an error
        except (rarfile.PasswordRequired, rarfile.RarWrongPassword) as e:
            raise ArchiveEncrypted(str(e)) from e
        except rarfile.Error as e:
            raise ArchiveBroken(str(e)) from e
        with rf:
            for info in rf.infolist():
                if info.is_dir():
                    continue
                entry = Entry(
                    name=info.filename or "", size=info.file_size or 0,
                    packed=info.compress_size or 0, encrypted=info.needs_password(),
                )  # fmt: skip
                if info.is_symlink() or info.file_redir:  # symlink, hard link, junction
                    yield dataclasses.replace(entry, refused=LINK)
                    continue
                yield _read(entry, admit, functools.partial(_read_rar, rf, info))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _read_rar(rf: object, info: object, cap: int) -> bytes:
    import rarfile

    assert isinstance(rf, rarfile.RarFile) and isinstance(info, rarfile.RarInfo)
    try:
        with rf.open(info) as f:
            return f.read(cap)
    except rarfile.RarCannotExec as e:
        raise RuntimeError(NEED_UNAR) from e


# --------------------------------------------------------------------------- 7z


class _CappedIO(io.RawIOBase):
    """A py7zr writer that keeps at most *cap* bytes and notes any overflow."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buffer = bytearray()

    def write(self, s: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        room = self.cap - len(self.buffer)
        if room > 0:
            self.buffer += bytes(s[:room])
        return len(s)  # keep py7zr going; the overflow shows as len(buffer) == cap

    def read(self, size: int | None = -1) -> bytes:
        return bytes(self.buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return len(self.buffer)

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.buffer)


def iter_7z(data: bytes, admit: Admit) -> Iterator[Entry]:
    """7z via py7zr into capped in-memory writers.

    Solid blocks decompress everything before a wanted member, so the whole
    archive is refused (as a bomb) when its declared total is over the caps of
    what we admitted: the work done is bounded by what we are willing to keep.
    """
    import py7zr

    try:
        sz = py7zr.SevenZipFile(io.BytesIO(data))
    except py7zr.PasswordRequired as e:
        raise ArchiveEncrypted(str(e)) from e
    except py7zr.UnsupportedCompressionMethodError as e:  # BCJ2, zstd, brotli …
        raise ArchiveRefused(UNSUPPORTED) from e
    except (py7zr.Bad7zFile, EOFError, OSError, ValueError, KeyError) as e:
        raise ArchiveBroken(str(e)) from e
    with sz:
        if sz.needs_password():
            raise ArchiveEncrypted("7z needs a password")
        files = [f for f in sz.list() if not f.is_directory]
        total = sum(f.uncompressed or 0 for f in files) or 1
        entries = [
            Entry(name=f.filename, size=f.uncompressed or 0,
                  packed=f.compressed or max(1, len(data) * (f.uncompressed or 0) // total))
            for f in files
        ]  # fmt: skip
        verdicts = [admit(e) for e in entries]
        caps = {e.name: v for e, v in zip(entries, verdicts, strict=True) if isinstance(v, int)}
        payloads = _extract_7z(sz, caps, total) if caps else {}
    for entry, verdict in zip(entries, verdicts, strict=True):
        payload = payloads.get(entry.name, b"")
        yield _read(entry, functools.partial(_fixed, verdict), functools.partial(_fixed, payload))


def _fixed(value: object, _arg: object) -> object:
    return value


def _extract_7z(sz: object, caps: dict[str, int], declared_total: int) -> dict[str, bytes]:
    import py7zr

    assert isinstance(sz, py7zr.SevenZipFile)
    if declared_total > sum(caps.values()) + (64 << 20):
        # Refused members share solid blocks with wanted ones: decompressing
        # them would cost what the limits are there to avoid.
        raise ArchiveRefused(BOMB)
    writers = {name: _CappedIO(cap + 1) for name, cap in caps.items()}

    class Factory(py7zr.WriterFactory):
        def create(self, filename: str) -> py7zr.Py7zIO:
            return writers.get(filename) or _CappedIO(0)  # type: ignore[return-value]

    try:
        sz.extract(targets=list(caps), factory=Factory())
    except py7zr.PasswordRequired as e:
        raise ArchiveEncrypted(str(e)) from e
    except py7zr.UnsupportedCompressionMethodError as e:
        raise ArchiveRefused(UNSUPPORTED) from e
    except Exception as e:  # py7zr raises many kinds on corrupt data
        raise ArchiveBroken(str(e)) from e
    return {name: bytes(w.buffer) for name, w in writers.items()}

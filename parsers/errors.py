"""Parser errors. Each carries a reason a clerk can read (Chinese)."""

from __future__ import annotations


class ParseError(Exception):
    """Raised when a file cannot be turned into rows; ``reason`` is shown to the clerk."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EncryptedFile(ParseError):
    """Raised for password-protected Office files."""

    def __init__(self, reason: str = "加密文件，无法读取") -> None:
        super().__init__(reason)


class UnsupportedFormat(ParseError):
    """Raised when no reader handles the detected type."""


class ScanOnly(ParseError):
    """Raised for PDFs/images without a usable text layer."""

    def __init__(self, reason: str = "仅扫描件") -> None:
        super().__init__(reason)


class NoFormTable(ParseError):
    """Raised when the document holds no table matching an annex header."""

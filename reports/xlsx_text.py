"""Cell text and print measures shared by both xlsx writers (no xlsx library imported).

The status report is written with XlsxWriter (:mod:`reports.xlsx_book`), the
consolidated export with openpyxl (:mod:`reports.xlsx_util`); both clean text
the same way and size rows and print scales by the same rules.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MAX_CELL_TEXT = 32767  # Excel's limit; longer text makes it "repair" the file
# Control characters XML 1.0 cannot carry (openpyxl's ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
LINE_HEIGHT = 16.5  # points per wrapped line at 11 pt (CJK fonts' line gap in LibreOffice)
DEFAULT_WIDTH = 8.43  # a column without a width set
A4_LANDSCAPE_UNITS = 99  # column units across A4 landscape at 100 % (0.4" margins, LibreOffice)
MIN_SCALE = 76  # 11 pt cells never print below ~8.4 pt


def clean_text(text: str) -> str:
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text[:MAX_CELL_TEXT]


def text_width(text: str) -> int:
    """Display width in column units: CJK and full-width characters count two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@lru_cache(maxsize=65536)  # a report repeats its labels, names and notes many times
def line_count(text: str, width: float) -> int:
    """Lines *text* takes when wrapped in a column *width* units wide."""
    usable = max(1.0, width - 1.0)
    return sum(max(1, math.ceil(text_width(part) / usable)) for part in text.split("\n"))


def row_height(lines: int) -> float | None:
    """The height to write for a row whose tallest cell wraps to *lines* (None: default).

    Excel grows a wrapped row when it opens the file; LibreOffice keeps the
    default height and prints only the first line — so the height is written.
    """
    return lines * LINE_HEIGHT + 3 if lines > 1 else None


def fit_width(texts: Iterable[str], least: float, most: float) -> float:
    """A column width that shows the longest of *texts* on one line, within bounds."""
    return max(least, min(most, max((text_width(t) for t in texts), default=0) + 2))


def block_scale(page_width: float) -> int:
    """The print scale (%) at which *page_width* column units fit one A4 landscape width."""
    return max(MIN_SCALE, min(100, int(A4_LANDSCAPE_UNITS * 100 / page_width)))

"""Print a workbook as the clerk would: LibreOffice → PDF, then read the PDF back.

``pdftotext`` (poppler-utils) gives the text; pypdf's text visitor the printed
font size of every piece of text. PNGs of the pages go to ``test-artifacts/``
for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def tool(name: str, package: str) -> str:
    """The path of a system tool; missing fails under CI (with the apt command), else skips."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} 未安装：apt-get install -y {package}")
        pytest.skip(f"{name} not installed")
    return found


def xlsx_to_pdf(xlsx: Path, outdir: Path) -> Path:
    """Convert with LibreOffice in an isolated profile; returns the PDF path."""
    exe = shutil.which("soffice") or shutil.which("libreoffice") or ""
    if not exe:
        exe = tool("soffice", "libreoffice-calc-nogui")
    profile = (outdir / "lo-profile").as_uri()
    done = subprocess.run(
        [exe, f"-env:UserInstallation={profile}", "--headless", "--norestore"]
        + ["--convert-to", "pdf", "--outdir", str(outdir), str(xlsx)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    pdf = outdir / (xlsx.stem + ".pdf")
    assert done.returncode == 0 and pdf.exists(), done.stdout + done.stderr
    return pdf


def pdf_text(pdf: Path) -> str:
    exe = tool("pdftotext", "poppler-utils")
    return subprocess.run([exe, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def font_sizes(pdf: Path) -> list[tuple[int, float, str]]:
    """(page, printed size in points, text) of every piece of text: the font size
    times the text and page matrices' scale (a page scaled to fit shrinks it)."""
    out: list[tuple[int, float, str]] = []
    for number, page in enumerate(PdfReader(pdf).pages, start=1):

        def visit(text: str, cm: Any, tm: Any, font: Any, size: float, n: int = number) -> None:
            if not text.strip():
                return
            a, b = tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]
            c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
            out.append((n, size * abs(a * d - b * c) ** 0.5, text))

        page.extract_text(visitor_text=visit)
    return out


def save_pngs(pdf: Path, name: str) -> list[Path]:
    """The printed pages as PNGs (60 dpi) under test-artifacts/<name>/."""
    exe = tool("pdftoppm", "poppler-utils")
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([exe, "-png", "-r", "60", str(pdf), str(folder / "page")], check=True)
    return sorted(folder.glob("page*.png"))


def squeeze(text: str) -> str:
    """Text without whitespace: a wrapped cell's lines join back into its phrase."""
    return re.sub(r"\s+", "", text)


def printed_in_order(phrase: str, text: str) -> bool:
    """Whether *phrase*'s characters appear in order within a short stretch of *text*:
    a wrapped cell's lines come out of pdftotext interleaved with the next column's."""
    want = squeeze(phrase)
    start = text.find(want[:6])
    while start != -1:
        pos, ok = start, True
        for ch in want:
            pos = text.find(ch, pos)
            if pos == -1 or pos - start > 3 * len(want):
                ok = False
                break
            pos += 1
        if ok:
            return True
        start = text.find(want[:6], start + 1)
    return False

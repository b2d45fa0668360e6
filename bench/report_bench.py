"""A reusable harness for ``kaohe report`` speed (issue 14): fill once, time often.

    .venv/bin/python -m bench.report_bench fill 100 500 5000   # once (5,000 is slow)
    .venv/bin/python -m bench.report_bench time 500 --runs 3   # CLI wall, median
    .venv/bin/python -m bench.report_bench ref 500 /tmp/ref    # outputs to compare later
    .venv/bin/python -m bench.report_bench compare /tmp/ref /tmp/new

Databases are made as ``bench.run``'s ``report`` step makes them (same roster,
seeds and submissions per unit), under ``/tmp/kaohe-report-bench/<units>/``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import generate as gen
from bench.run import Sizes, fill_report_db, kaohe

ROOT = Path("/tmp/kaohe-report-bench")
FORMATS = "xlsx,html,txt,json"
MAILBOX: dict[str, object] = {
    "source": "imap",
    "host": "127.0.0.1",
    "port": 993,
    "ssl": True,
    "username": "bench",
    "password_env": "KAOHE_BENCH_PASSWORD",
}


def config_path(n_units: int) -> Path:
    return ROOT / str(n_units) / "config.toml"


def fill(n_units: int) -> None:
    units = [gen.BenchUnit(u.name, u.email, gen.ANNEXES) for u in gen.roster(n_units, seed=9)]
    folder = ROOT / str(n_units)
    if folder.exists():
        print(f"{folder} exists; remove it to refill", file=sys.stderr)
        return
    cfg = gen.write_config(folder, gen.roster_csv(units, all_annexes=True), MAILBOX)
    secs, subs, mails = fill_report_db(cfg, units, n_units * Sizes().report_subs_per_unit)
    print(f"{n_units} units: {subs} submissions from {mails} mails in {secs:.1f} s")


def command(n_units: int, out: Path, tree: Path | None = None) -> list[str]:
    """``kaohe report`` in all four formats; *tree*: run another source tree's kaohe
    (e.g. ``git archive HEAD~3 | tar -x -C /tmp/before``) with this venv."""
    exe = kaohe() if tree is None else [sys.executable, "-c", RUN_CLI]
    return [
        *exe,
        "-c",
        str(config_path(n_units)),
        "report",
        "--as-of",
        "2020-03-25",
        "--format",
        FORMATS,
        "-o",
        str(out),
    ]


RUN_CLI = "import sys; from ingest.app.cli import main; sys.argv[0] = 'kaohe'; sys.exit(main())"


def time_cli(n_units: int, runs: int, tree: Path | None = None) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each run; CPU (user + sys) scatters less on a busy machine."""
    out = ROOT / f"out-{n_units}"
    out.mkdir(exist_ok=True)
    secs = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command(n_units, out, tree), check=True, capture_output=True, cwd=tree)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        secs.append((wall, cpu))
    return secs


def ref(n_units: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    subprocess.run(command(n_units, out), check=True, capture_output=True)


def _one(folder: Path, ext: str) -> Path:
    (path,) = folder.glob(f"*.{ext}")
    return path


def _xlsx_values(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def _xlsx_layout(path: Path) -> dict[str, Any]:
    """What prints: merged cells, widths, heights, print setup, fonts/fills per cell."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    wb = load_workbook(path)
    out: dict[str, Any] = {}
    for ws in wb.worksheets:
        fit = ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.has_style:
                    cells[c.coordinate] = (
                        c.number_format,
                        bool(c.font.b),
                        _rgb(c.font.color),
                        c.font.sz or 11.0,
                        _rgb(c.fill.fgColor) if c.fill.fill_type else None,
                        c.alignment.wrap_text,
                        c.alignment.horizontal,
                        c.alignment.vertical,
                        c.border.left.style,
                    )
        out[ws.title] = {
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "widths": {
                get_column_letter(i): d.width
                for d in ws.column_dimensions.values()
                if d.width and d.min
                for i in range(d.min, (d.max or d.min) + 1)
            },
            "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
            "titles": (ws.print_title_rows, ws.print_title_cols),
            "setup": (
                ws.page_setup.orientation,
                ws.page_setup.paperSize,
                bool(fit) and (ws.page_setup.fitToWidth or 1),  # OOXML defaults: 1 page
                bool(fit)
                and (ws.page_setup.fitToHeight if ws.page_setup.fitToHeight is not None else 1),
                None if fit else ws.page_setup.scale,
                bool(fit),
                ws.print_options.horizontalCentered,
                ws.page_margins.left,
                ws.page_margins.right,
            ),
            "col_breaks": [b.id for b in ws.col_breaks.brk],
            "cells": cells,
        }
    return out


def _rgb(colour: Any) -> str | None:
    """A colour as RRGGBB (the alpha byte differs by writer); theme/default as None."""
    rgb = getattr(colour, "rgb", None) if colour is not None else None
    return rgb[-6:] if isinstance(rgb, str) and rgb[-6:] not in ("000000",) else None


def _html_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", text)


def _json(path: Path) -> Any:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("health", None)
    return data


def compare(a: Path, b: Path, layout: bool) -> bool:
    same = True
    checks = [
        ("json", _json(_one(a, "json")) == _json(_one(b, "json"))),
        ("txt", _one(a, "txt").read_bytes() == _one(b, "txt").read_bytes()),
        ("html", _html_text(_one(a, "html")) == _html_text(_one(b, "html"))),
        ("xlsx values", _xlsx_values(_one(a, "xlsx")) == _xlsx_values(_one(b, "xlsx"))),
    ]
    if layout:
        la, lb = _xlsx_layout(_one(a, "xlsx")), _xlsx_layout(_one(b, "xlsx"))
        for sheet in la:
            for key in la[sheet]:
                ok = la[sheet][key] == lb.get(sheet, {}).get(key)
                if not ok and key == "cells":
                    diff = [
                        (k, v, lb[sheet][key].get(k))
                        for k, v in la[sheet][key].items()
                        if lb[sheet][key].get(k) != v
                    ]
                    extra = set(lb[sheet][key]) - set(la[sheet][key])
                    print(f"  {sheet} cells differ: {diff[:5]} extra {sorted(extra)[:5]}")
                elif not ok:
                    print(f"  {sheet} {key}: {la[sheet][key]!r} != {lb.get(sheet, {}).get(key)!r}")
                checks.append((f"xlsx {sheet} {key}", ok))
    for name, ok in checks:
        print(f"{'same' if ok else 'DIFFERENT'}: {name}")
        same &= ok
    return same


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fill")
    f.add_argument("units", type=int, nargs="+")
    t = sub.add_parser("time")
    t.add_argument("units", type=int, nargs="+")
    t.add_argument("--runs", type=int, default=3)
    t.add_argument("--tree", type=Path, help="another source tree to run (before/after)")
    r = sub.add_parser("ref")
    r.add_argument("units", type=int)
    r.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    c.add_argument("--layout", action="store_true", help="also fonts, fills, print setup")
    args = p.parse_args()
    if args.cmd == "fill":
        for n in args.units:
            fill(n)
    elif args.cmd == "time":
        for n in args.units:
            secs = time_cli(n, args.runs, args.tree)
            wall = statistics.median(w for w, _ in secs)
            cpu = statistics.median(c for _, c in secs)
            runs = " ".join(f"{w:.2f}/{c:.2f}" for w, c in secs)
            print(f"{n} units: median wall {wall:.2f} s, CPU {cpu:.2f} s  (wall/CPU: {runs})")
    elif args.cmd == "ref":
        ref(args.units, args.out)
    else:
        sys.exit(0 if compare(args.a, args.b, args.layout) else 1)


if __name__ == "__main__":
    main()

"""Run every benchmark side by side with its floor and write ``bench/RESULTS.md``.

    .venv/bin/python -m bench.run --out bench/RESULTS.md

starts a throwaway Dovecot (``tests/dovecot.py``) on 127.0.0.1, loads the
synthetic mailboxes (``bench/generate.py``) and measures, each figure the
median of ``--runs`` runs:

1. cold ingest (``kaohe poll`` in a subprocess) vs. the bare floor script
   (``bench/floor.py``, same readers / openpyxl + python-docx);
2. warm poll with nothing new at 100 / 1,000 / 10,000 mails;
3. incremental poll of 10 new mails into the 10,000-mail mailbox vs. a cold
   poll of the same 10 into an empty one;
4. peak RSS of ``kaohe poll`` (``os.wait4`` rusage of that one child);
5. ``kaohe report`` in all four formats at 100 and 500 units;
6. LibreOffice conversions per second: the pipeline's path, the Converter's
   batch, one ``soffice --convert-to`` process per file.

``--smoke`` shrinks every size so the whole thing runs in well under a minute
(used by ``tests/test_bench_smoke.py``); ``--json`` also writes the raw figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import generate as gen

ROOT = Path(__file__).resolve().parent.parent
DOVECOT_MISSING = "Dovecot missing: apt-get install -y dovecot-imapd"
COMMAND = ".venv/bin/python -m bench.run --out bench/RESULTS.md"


@dataclass(frozen=True)
class Sizes:
    cold_sizes: tuple[int, ...] = (300, 1000)
    units: int = 200
    warm: tuple[int, ...] = (100, 1000, 10000)
    incremental: int = 10
    big_mb: float = 25.0
    report_units: tuple[int, ...] = (100, 500, 5000)
    report_subs_per_unit: int = 4  # 2,000 submissions at 500 units
    lo_files: int = 6
    runs: int = 3
    warm_runs: int = 7


FLOORS = ("issue", "same", "named", "quiet")  # bench/floor.py --readers (quiet: issue
# readers with --quiet-imaplib)
FULL = Sizes()
SMOKE = Sizes(
    cold_sizes=(12,),
    units=10,
    warm=(5, 40),
    incremental=2,
    big_mb=1.0,
    report_units=(10, 20),
    lo_files=0,
    runs=1,
    warm_runs=2,
)


# ---------------------------------------------------------------- helpers


def kaohe() -> list[str]:
    exe = Path(sys.executable).with_name("kaohe")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ingest.app.cli.commands"]


@dataclass(frozen=True)
class Proc:
    seconds: float
    max_rss_mb: float  # the child alone (wait4)
    stdout: str
    tree_rss_mb: float = 0.0  # peak of the child and all its descendants (sampled)
    cpu_seconds: float = 0.0  # user + system of the child and the descendants it reaped


# Linux carries the high-water RSS of the forked copy of this (large) process over
# execve into the child's ru_maxrss, so the child is started from a small Python
# wrapper: its own fork is tiny and wait4 there reports the child's true peak.
# Asked to (*sample*), the wrapper also samples the RSS of the child's whole process
# tree (parse workers, LibreOffice) from /proc every 10 ms: the peak of the sum is the
# tree's figure (tests/support/proctree.py: it walks down the tree, ~0.25 ms of CPU per
# sample, and reading a process's memory figures takes its memory-map lock). A poll that
# keeps both cores busy pays for the sampler and a one-process floor does not (paired,
# 24 rounds, 300 mails: the poll +0.025 s median, +0.033 mean; the floor +0.000), so the
# timed runs are not sampled and the RSS figures come from runs of their own.
WRAPPER = """\
import os, subprocess, sys, time
sys.path.insert(0, sys.argv.pop(1))
sample = sys.argv.pop(1) == "sample"
from tests.support.proctree import TreeSampler
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:])
sampler = TreeSampler(p.pid)
if sample:
    sampler.start()
_, status, usage = os.wait4(p.pid, 0)
seconds = time.perf_counter() - t
if sample:
    sampler.stop()
cpu = usage.ru_utime + usage.ru_stime
sys.stderr.write(f"\\n@@BENCH {usage.ru_maxrss} {seconds} {sampler.peak // 1024} {cpu}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(
    cmd: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    sample: bool = True,
) -> Proc:
    """Run *cmd*; wall time and the peak RSS of that child alone (``wait4`` in a wrapper),
    and with *sample* the peak RSS of its process tree (else ``tree_rss_mb`` is 0)."""
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(ROOT), "sample" if sample else "-", *cmd],
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    err = proc.stderr.decode(errors="replace")
    if (check and proc.returncode != 0) or "@@BENCH" not in err:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}): {err[-2000:]}")
    rss_kb, seconds, tree_kb, cpu = err.rsplit("@@BENCH", 1)[1].split()
    return Proc(
        float(seconds), int(rss_kb) / 1024, proc.stdout.decode(), int(tree_kb) / 1024, float(cpu)
    )


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    dovecot = subprocess.run(
        ["dovecot", "--version"], capture_output=True, text=True
    ).stdout.strip()
    soffice = shutil.which("soffice")
    lo = (
        subprocess.run([soffice, "--version"], capture_output=True, text=True).stdout.strip()
        if soffice
        else "not installed"
    )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "dovecot": dovecot,
        "libreoffice": lo,
        **{
            d: version(d)
            for d in (
                "imapclient",
                "python-calamine",
                "openpyxl",
                "python-docx",
                "lxml",
                "sqlite-utils",
            )
        },
        "sqlite": __import__("sqlite3").sqlite_version,
        "load_start": load_average(),
    }


def load_average() -> str:
    """1/5/15-minute load averages: other work on the machine skews the figures."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ---------------------------------------------------------------- the bench


class Bench:
    def __init__(self, server: Any, work: Path, sizes: Sizes) -> None:
        self.server = server
        self.work = work
        self.sizes = sizes
        self.units = gen.roster(sizes.units)
        self.roster_text = gen.roster_csv(self.units)
        self.results: dict[str, Any] = {}
        self.report_configs: dict[int, Path] = {}
        self._n = 0

    # -- config / mailbox

    def mailbox(self, folder: str) -> dict[str, object]:
        from tests.support.dovecot import PASSWORD_ENV, USER

        s = self.server
        return {
            "source": "imap",
            "host": s.host,
            "port": s.imaps_port,
            "ssl": True,
            "username": USER,
            "password_env": PASSWORD_ENV,
            "folder": folder,
            "ca_file": str(s.ca_file),
            "timeout_seconds": 60.0,
        }

    def config(self, folder: str, roster_text: str | None = None, extra: str = "") -> Path:
        self._n += 1
        path = gen.write_config(
            self.work / f"c{self._n:03d}-{folder}",
            roster_text or self.roster_text,
            self.mailbox(folder),
        )
        if extra:
            path.write_text(path.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
        return path

    def load(self, folder: str, mails: Any) -> int:
        with self.server.admin() as client:
            return gen.append_all(client, folder, mails)

    def poll_cli(self, config: Path, sample: bool = True) -> Proc:
        return run_child([*kaohe(), "-c", str(config), "poll"], sample=sample)

    @staticmethod
    def poll_inproc(config: Path) -> tuple[float, Any]:
        from ingest.core.config import load_config
        from ingest.store.pipeline import poll

        cfg = load_config(config)
        start = time.perf_counter()
        summary = poll(cfg)
        return time.perf_counter() - start, summary

    def floor(self, folder: str, readers: str, sample: bool = True) -> tuple[Proc, dict[str, Any]]:
        from tests.support.dovecot import PASSWORD, USER

        s = self.server
        quiet = ["--quiet-imaplib"] if readers == "quiet" else []
        readers = "issue" if readers == "quiet" else readers
        proc = run_child(
            [
                sys.executable,
                "-m",
                "bench.floor",
                s.host,
                str(s.imaps_port),
                str(s.ca_file),
                USER,
                folder,
                "--readers",
                readers,
                *quiet,
            ],
            env={"KAOHE_BENCH_PASSWORD": PASSWORD},
            cwd=ROOT,
            sample=sample,
        )
        return proc, json.loads(proc.stdout)

    # -- 1 + 4b: cold ingest

    def cold(self) -> None:
        """Cold ingest at each size: `kaohe poll` (default and one parse worker) vs. floors."""
        self.results["cold"] = {str(n): self.cold_one(n) for n in self.sizes.cold_sizes}

    def cold_one(self, n: int) -> dict[str, Any]:
        sz = self.sizes
        t = time.perf_counter()
        mails = gen.campaign_mails(n, self.units)
        gen_s = time.perf_counter() - t
        folder = f"Campaign{n}"
        self.load(folder, [(m.raw, m.when) for m in mails])
        runs: dict[str, list[float]] = {k: [] for k in ("poll", "poll1", *FLOORS)}
        rss: dict[str, list[float]] = {"poll": [], "poll1": [], "floor": []}
        cpu: dict[str, list[float]] = {"poll": [], "poll1": [], "floor": []}
        # the same runs with the tree's RSS sampled (see WRAPPER): their RSS, and their
        # times for the record
        sampled: dict[str, list[float]] = {"poll": [], "poll1": [], "floor": []}
        summary = ""
        floor_info: dict[str, Any] = {}
        polls = (("poll", ""), ("poll1", "[limits]\nparse_workers = 1\n"))
        self.floor(folder, "issue")  # warm-up: Dovecot builds its index and cache here
        for _ in range(sz.runs):
            for key, extra in polls:
                cfg = self.config(folder, extra=extra)
                p = self.poll_cli(cfg, sample=False)
                runs[key].append(p.seconds)
                cpu[key].append(p.cpu_seconds)
                summary = p.stdout.strip()
            for readers in FLOORS:
                f, info = self.floor(folder, readers, sample=False)
                runs[readers].append(f.seconds)
                if readers == "issue":
                    floor_info = info
                    cpu["floor"].append(f.cpu_seconds)
            for key, extra in polls:
                p = self.poll_cli(self.config(folder, extra=extra))
                rss[key].append(p.tree_rss_mb)
                sampled[key].append(p.seconds)
            f, _ = self.floor(folder, "issue")
            rss["floor"].append(f.tree_rss_mb)
            sampled["floor"].append(f.seconds)
        self.cold_config = cfg
        floor = med(runs["issue"])
        return {
            "mails": n,
            "forms": sum(len(m.forms) for m in mails),
            "workers": os.cpu_count(),
            "generate_seconds": gen_s,
            "mailbox_mb": sum(len(m.raw) for m in mails) / 1e6,
            "seconds": runs,
            "ratio": med(runs["poll"]) / floor,
            "ratio_one_worker": med(runs["poll1"]) / floor,
            "ratio_same": med(runs["poll"]) / med(runs["same"]),
            "ratio_named": med(runs["poll"]) / med(runs["named"]),
            "ratio_quiet": med(runs["poll"]) / med(runs["quiet"]),
            "ratio_quiet_one_worker": med(runs["poll1"]) / med(runs["quiet"]),
            "calamine_gain": med(runs["named"]) / med(runs["same"]),
            "poll_summary": summary,
            "floor_files": floor_info.get("files"),
            "floor_cells": floor_info.get("cells"),
            "tree_rss_mb": rss,
            "cpu_seconds": cpu,  # poller + parse workers (reaped), floor: one process
            "sampled_seconds": sampled,
            "ratio_sampled": med(sampled["poll"]) / med(sampled["floor"]),
        }

    # -- 2: warm polls

    def warm(self) -> None:
        """Ingest each history mailbox once, then poll them round-robin (drift hits all sizes)."""
        sz = self.sizes
        out: dict[str, Any] = {}
        self.warm_configs: dict[int, Path] = {}
        for n in sz.warm:
            folder = f"Hist{n}"
            load_s = timed(partial(self.load, folder, gen.small_mails(n)))
            cfg = self.config(folder)
            ingest_s, summary = self.poll_inproc(cfg)
            assert summary.stored == n, (summary, n)
            self.poll_inproc(cfg)  # settle: first poll after a big ingest checkpoints the WAL
            out[str(n)] = {
                "load_seconds": load_s,
                "cold_ingest_seconds": ingest_s,
                "warm_seconds": [],
                "bare_seconds": [],
            }
            self.warm_configs[n] = cfg
        for _ in range(sz.warm_runs):
            for n, cfg in self.warm_configs.items():
                seconds, summary = self.poll_inproc(cfg)
                assert summary.fetched == 0, summary
                out[str(n)]["warm_seconds"].append(seconds)
                out[str(n)]["bare_seconds"].append(self.bare_check(f"Hist{n}"))
        for n, cfg in self.warm_configs.items():
            out[str(n)]["warm_cli_seconds"] = self.poll_cli(cfg, sample=False).seconds
        if hasattr(self, "cold_config"):  # the campaign mailbox, after its last cold ingest
            out["campaign"] = {
                "warm_seconds": [self.poll_inproc(self.cold_config)[0] for _ in range(sz.warm_runs)]
            }
        lo, hi = str(min(sz.warm)), str(max(sz.warm))
        out["ratio"] = med(out[hi]["warm_seconds"]) / med(out[lo]["warm_seconds"])
        out["bare_ratio"] = med(out[hi]["bare_seconds"]) / med(out[lo]["bare_seconds"])
        self.results["warm"] = out

    def bare_check(self, folder: str) -> float:
        """The floor of a warm poll: TLS login, ID, EXAMINE, UID SEARCH past the end."""
        from imapclient import IMAPClient

        from tests.support.dovecot import PASSWORD, USER

        s = self.server
        start = time.perf_counter()
        client = IMAPClient(s.host, s.imaps_port, ssl=True, ssl_context=s.ssl_context())
        client.login(USER, PASSWORD)
        client.id_({"name": "bench"})
        client.select_folder(folder, readonly=True)
        client.search(["UID", "4000000000:*"])
        client.logout()
        return time.perf_counter() - start

    # -- 3: incremental

    def incremental(self) -> None:
        sz = self.sizes
        big_n = max(sz.warm)
        big = self.warm_configs[big_n]
        inc, cold = [], []
        for r in range(sz.runs):
            mails = gen.campaign_mails(
                sz.incremental,
                self.units,
                seed=100 + r,
                start=gen.DEADLINE - timedelta(days=2),
                tag=f"-{r}",
            )
            pairs = [(m.raw, m.when) for m in mails]
            self.load(f"Hist{big_n}", pairs)
            seconds, summary = self.poll_inproc(big)
            assert summary.fetched == sz.incremental, summary
            inc.append(seconds)
            self.load(f"Fresh{r}", pairs)
            seconds, summary = self.poll_inproc(self.config(f"Fresh{r}"))
            assert summary.fetched == sz.incremental, summary
            cold.append(seconds)
        self.results["incremental"] = {
            "mailbox": big_n,
            "new": sz.incremental,
            "incremental_seconds": inc,
            "cold_seconds": cold,
            "ratio": med(inc) / med(cold),
        }

    # -- 4a: one big attachment

    def big(self) -> None:
        raw = gen.big_attachment_mail(self.sizes.big_mb, self.units[0])
        self.load("Big", [(raw, gen.START)])
        p = self.poll_cli(self.config("Big"))
        self.results["big"] = {
            "attachment_mb": self.sizes.big_mb,
            "message_mb": len(raw) / 1e6,
            "rss_mb": p.max_rss_mb,
            "tree_rss_mb": p.tree_rss_mb,
            "seconds": p.seconds,
            "summary": p.stdout.strip(),
        }

    # -- 5: report

    def report(self) -> None:
        sz = self.sizes
        out: dict[str, Any] = {}
        for n_units in sz.report_units:
            units = [
                gen.BenchUnit(u.name, u.email, gen.ANNEXES) for u in gen.roster(n_units, seed=9)
            ]
            cfg_path = self.config(f"Report{n_units}", gen.roster_csv(units, all_annexes=True))
            build_s, subs, mails = fill_report_db(
                cfg_path, units, n_units * sz.report_subs_per_unit
            )
            inproc, cli = [], []
            outdir = cfg_path.parent / "out"
            for _ in range(sz.runs):
                inproc.append(timed(partial(report_inproc, cfg_path, outdir)))
                cli.append(
                    run_child(
                        [
                            *kaohe(),
                            "-c",
                            str(cfg_path),
                            "report",
                            "--as-of",
                            "2020-03-25",
                            "--format",
                            "xlsx,html,txt,json",
                            "-o",
                            str(outdir),
                        ],
                        sample=False,
                    ).seconds
                )
            self.report_configs[n_units] = cfg_path
            out[str(n_units)] = {
                "submissions": subs,
                "mails": mails,
                "build_seconds": build_s,
                "inproc_seconds": inproc,
                "cli_seconds": cli,
            }
        self.results["report"] = out

    # -- 7: start-up

    def startup(self) -> None:
        """Wall time of commands that do little: what their imports cost (median of 5)."""
        cfg = self.report_configs.get(min(self.report_configs, default=0))
        commands: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "kaohe --help": [*kaohe(), "--help"],
        }
        if cfg is not None:
            commands["kaohe status"] = [*kaohe(), "-c", str(cfg), "status"]
            commands["kaohe report --format txt"] = [
                *kaohe(), "-c", str(cfg), "report", "--as-of", "2020-03-25", "--format", "txt",
                "-o", str(cfg.parent / "startup.txt"),
            ]  # fmt: skip
        out = {}
        for name, cmd in commands.items():
            # status exits 1 when something needs the clerk (here: no poll yet)
            out[name] = [
                run_child(cmd, check=name != "kaohe status", sample=False).seconds for _ in range(5)
            ]
        self.results["startup"] = out

    # -- 6: LibreOffice

    def libreoffice(self) -> None:
        n = self.sizes.lo_files
        soffice = shutil.which("soffice")
        if not n or soffice is None:
            self.results["libreoffice"] = {"skipped": "smoke run" if not n else "no soffice"}
            return
        docs = make_docs(self.work / "lo", n, self.units)
        per_file, batch, pipeline = [], [], []
        for r in range(self.sizes.runs):
            per_file.append(soffice_per_file(soffice, docs, self.work / f"lo-pf{r}"))
            batch.append(converter_batch(docs))
            pipeline.append(converter_pipeline(docs, self.work / f"lo-poll{r}", self.roster_text))
        self.results["libreoffice"] = {
            "files": n,
            "per_file_seconds": per_file,
            "batch_seconds": batch,
            "pipeline_seconds": pipeline,
            "per_file_fps": n / med(per_file),
            "batch_fps": n / med(batch),
            "pipeline_fps": n / med(pipeline),
        }


# ---------------------------------------------------------------- report DB


def fill_report_db(
    cfg_path: Path, units: Sequence[gen.BenchUnit], n_subs: int
) -> tuple[float, int, int]:
    """Ingest generated mail through the real pipeline (``ingest_item``), without IMAP.

    Each mail sends all five annexes of one unit, so *n_subs* submissions are
    ``n_subs / 5`` mails; units are taken in roster order, with resubmissions
    once every unit has sent.
    """
    from ingest.core.config import load_config
    from ingest.mail.sources.base import SourceItem
    from ingest.store import db as dbm
    from ingest.store.pipeline import PollSummary, close_context, ingest_item, make_context

    cfg = load_config(cfg_path)
    n_mails = max(1, n_subs // len(gen.ANNEXES))
    mails = gen.campaign_mails(n_mails, units, seed=11)
    start = time.perf_counter()
    db = dbm.open_db(cfg.db_path)
    ctx = make_context(cfg)
    summary = PollSummary()
    try:
        for i, m in enumerate(mails):
            ingest_item(
                db,
                cfg,
                ctx,
                SourceItem(key=f"bench:{i}", received=m.when, raw=m.raw, size=len(m.raw)),
                summary,
            )
        subs = int(db.execute("select count(*) from submissions").fetchone()[0])
    finally:
        close_context(ctx)
        db.close()
    return time.perf_counter() - start, subs, len(mails)


def report_inproc(cfg_path: Path, outdir: Path) -> None:
    from ingest.core.config import load_config
    from reports.output import build_report, write_formats

    cfg = load_config(cfg_path)
    as_of = datetime(2020, 3, 25, 23, 59, tzinfo=cfg.campaign.timezone)
    list(write_formats(cfg, build_report(cfg, as_of), ["xlsx", "html", "txt", "json"], str(outdir)))


# ---------------------------------------------------------------- LibreOffice


def make_docs(folder: Path, n: int, units: Sequence[gen.BenchUnit]) -> list[Path]:
    """*n* distinct Word 97 .doc forms, made from generated .docx by one soffice call."""
    src = folder / "docx"
    src.mkdir(parents=True, exist_ok=True)
    inputs = []
    for i in range(n):
        path = src / f"form{i:02d}.docx"
        path.write_bytes(gen.form(2 + i % 5, "docx", units[i % len(units)].name, 10 + i, 8))
        inputs.append(str(path))
    out = folder / "doc"
    soffice = shutil.which("soffice") or "soffice"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "doc",
            "--outdir",
            str(out),
            *inputs,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    docs = sorted(out.glob("*.doc"))
    assert len(docs) == n, docs
    return docs


def soffice_per_file(soffice: str, docs: Sequence[Path], folder: Path) -> float:
    """One ``soffice --convert-to docx`` process per file, sharing one (warmed) profile."""
    folder.mkdir(parents=True, exist_ok=True)
    profile = f"-env:UserInstallation={(folder / 'profile').as_uri()}"
    base = [soffice, profile, "--headless", "--norestore", "--convert-to", "docx", "--outdir"]
    warm = folder / "warm"
    subprocess.run([*base, str(warm), str(docs[0])], check=True, capture_output=True, timeout=300)
    start = time.perf_counter()
    for doc in docs:
        subprocess.run(
            [*base, str(folder / "out"), str(doc)], check=True, capture_output=True, timeout=300
        )
    seconds = time.perf_counter() - start
    assert len(list((folder / "out").glob("*.docx"))) == len(docs)
    return seconds


def converter_batch(docs: Sequence[Path]) -> float:
    """``Converter.convert_many`` over all files (fresh Converter: profile creation included)."""
    from parsers.legacy import Converter

    items = [(p.read_bytes(), "doc") for p in docs]
    start = time.perf_counter()
    with Converter() as conv:
        results = conv.convert_many(items)
    seconds = time.perf_counter() - start
    assert all(isinstance(r, bytes) for r in results), results
    return seconds


def converter_pipeline(docs: Sequence[Path], folder: Path, roster_text: str) -> float:
    """What a poll does: one mail per .doc in a maildir, ``pipeline.poll`` in-process.

    The poll holds mails whose old Office files wait and converts them in one
    LibreOffice run (``ingest.store.pipeline._worth_waiting``).
    """
    from ingest.core.config import load_config
    from ingest.store.pipeline import poll

    inbox = folder / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(docs):
        (inbox / f"{i:03d}.eml").write_bytes(
            gen.make_mail(
                sender=f"unit{i}@163.com",
                subject=f"附件（{i}）",
                attachments=[(f"附件{2 + i % 5}.doc", doc.read_bytes())],
            )
        )
    cfg = load_config(gen.write_config(folder, roster_text, {"source": "maildir", "path": "inbox"}))
    start = time.perf_counter()
    summary = poll(cfg)
    seconds = time.perf_counter() - start
    assert summary.stored == len(docs), summary.line()
    return seconds


# ---------------------------------------------------------------- RESULTS.md


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**MISS**"


def _cpu_row(c: dict[str, Any], fmt: Callable[[float], str]) -> list[str]:
    """CPU seconds (user + system, parse workers included) beside the floor's: how much
    work the poll does, apart from how well it spreads it over the cores."""
    cpu = c.get("cpu_seconds")
    if not cpu or not cpu["floor"]:
        return []
    floor = med(cpu["floor"])
    return [
        f"| 1d | CPU seconds (user + system, workers included): `kaohe poll` "
        f"{fmt(med(cpu['poll']))}, with one worker {fmt(med(cpu['poll1']))}, floor "
        f"{fmt(floor)} | {fmt(med(cpu['poll']) / floor)} × | (report) | – |"
    ]


def _sampled_row(c: dict[str, Any], fmt: Callable[[float], str]) -> list[str]:
    """The same poll and floor timed while the tree's RSS is sampled (see WRAPPER; older
    results timed only such runs)."""
    if "ratio_sampled" not in c:
        return []
    s = c["sampled_seconds"]
    return [
        f"| 1f | same, timed in the runs that sample the tree's RSS every 10 ms (the "
        f"sampler's cost falls on the two-core poll, not on the one-core floor): "
        f"{fmt(med(s['poll']))} s ÷ {fmt(med(s['floor']))} s | {fmt(c['ratio_sampled'])} | "
        f"(report) | – |"
    ]


def _quiet_row(c: dict[str, Any], fmt: Callable[[float], str]) -> list[str]:
    """The issue's floor with imaplib's trace off, as kaohe runs imapclient (older
    results have no such floor)."""
    if "ratio_quiet" not in c:
        return []
    return [
        f"| 1e | same ÷ the issue's floor with imaplib's trace off (`--quiet-imaplib`, as "
        f"kaohe) {fmt(med(c['seconds']['quiet']))} s: {c['workers']} workers "
        f"{fmt(c['ratio_quiet'])}, one worker {fmt(c['ratio_quiet_one_worker'])} | "
        f"{fmt(c['ratio_quiet'])} | (report) | – |"
    ]


def render(results: dict[str, Any], sizes: Sizes, total: float, smoke: bool) -> str:
    m = results["machine"]
    cold, w, inc, big, rep, lo = (
        results[k] for k in ("cold", "warm", "incremental", "big", "report", "libreoffice")
    )
    fmt = "{:.2f}".format
    lines = [
        "# kaohe-inbox benchmarks",
        "",
        f"Reproduce: `{COMMAND}` (whole run {total / 60:.1f} min"
        f"{', SMOKE SIZES' if smoke else ''}; median of {sizes.runs} runs, warm polls of "
        f"{sizes.warm_runs}).",
        "",
        "## Machine",
        "",
        f"- {m['nproc']} × {m['cpu']}, RAM {m['ram']}, {m['os']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}, {m['dovecot'] and 'Dovecot ' + m['dovecot']},"
        f" {m['libreoffice']}",
        f"- load average (1/5/15 min) at start {m['load_start']}, at end {m.get('load_end', '?')}"
        " — other sessions share this machine",
        f"- imapclient {m['imapclient']}, python-calamine {m['python-calamine']}, openpyxl "
        f"{m['openpyxl']}, python-docx {m['python-docx']}, lxml {m['lxml']}, sqlite-utils "
        f"{m['sqlite-utils']}",
        "",
        "## Figures",
        "",
        "| # | measure | figure | target | result |",
        "|---|---|---|---|---|",
    ]
    for n, c in cold.items():
        secs = c["seconds"]
        lines += [
            f"| 1 | cold ingest, {n} mails / {c['forms']} forms: `kaohe poll` with {c['workers']} "
            f"parse workers {fmt(med(secs['poll']))} s ÷ floor (issue 14: imapclient + email + "
            f"calamine + lxml, one process) {fmt(med(secs['issue']))} s | {fmt(c['ratio'])} | "
            f"≤ 1.0 | {verdict(c['ratio'] <= 1.0)} |",
            f"| 1a | same, `[limits] parse_workers = 1`: {fmt(med(secs['poll1']))} s ÷ floor | "
            f"{fmt(c['ratio_one_worker'])} | ≤ 1.3 | {verdict(c['ratio_one_worker'] <= 1.3)} |",
            f"| 1b | same ({c['workers']} workers) ÷ earlier floor (calamine + lxml cells, email "
            f"default policy) {fmt(med(secs['same']))} s | {fmt(c['ratio_same'])} | (report) | – |",
            f"| 1c | same ÷ floor with openpyxl + python-docx {fmt(med(secs['named']))} s | "
            f"{fmt(c['ratio_named'])} | (report) | – |",
            *_quiet_row(c, fmt),
            *_sampled_row(c, fmt),
            *_cpu_row(c, fmt),
            f"| 4b | peak RSS of the `kaohe poll` process tree (workers included), {n} mails "
            f"(max of runs) | {max(c['tree_rss_mb']['poll']):.0f} MB | ≤ 150 MB | "
            f"{verdict(max(c['tree_rss_mb']['poll']) <= 150)} |",
        ]
    lo_n, hi_n = str(min(sizes.warm)), str(max(sizes.warm))
    warm_cells = ", ".join(
        f"{k}: {med(v['warm_seconds']) * 1000:.0f} ms" for k, v in w.items() if isinstance(v, dict)
    )
    lines += [
        f"| 2 | warm poll, nothing new ({warm_cells}); time({hi_n}) ÷ time({lo_n}) | "
        f"{fmt(w['ratio'])} | ≤ 1.5 | {verdict(w['ratio'] <= 1.5)} |",
        f"| 2b | floor of a warm poll (TLS login + ID + EXAMINE + UID SEARCH, bare imapclient): "
        f"{med(w[lo_n]['bare_seconds']) * 1000:.0f} ms at {lo_n}, "
        f"{med(w[hi_n]['bare_seconds']) * 1000:.0f} ms at {hi_n} | {fmt(w['bare_ratio'])} | "
        f"(report) | – |",
        f"| 3 | {inc['new']} new mails: into the {inc['mailbox']}-mail mailbox "
        f"{fmt(med(inc['incremental_seconds']))} s ÷ into an empty one "
        f"{fmt(med(inc['cold_seconds']))} s | {fmt(inc['ratio'])} | ≤ 1.5 | "
        f"{verdict(inc['ratio'] <= 1.5)} |",
        f"| 4a | peak RSS of the `kaohe poll` process tree (workers included), one "
        f"{big['attachment_mb']:.0f} MB attachment ({big['message_mb']:.1f} MB message; main "
        f"process alone {big['rss_mb']:.0f} MB) | {big['tree_rss_mb']:.0f} MB | ≤ 150 MB | "
        f"{verdict(big['tree_rss_mb'] <= 150)} |",
    ]
    for n_units, r in rep.items():
        cli = med(r["cli_seconds"])
        target = {"500": 1.0, "5000": 3.0}.get(n_units)
        lines.append(
            f"| 5 | `kaohe report` xlsx+html+txt+json, {n_units} units × 5 annexes, "
            f"{r['submissions']} submissions (in-process {fmt(med(r['inproc_seconds']))} s) | "
            f"{fmt(cli)} s | {f'≤ {target:g} s' if target else '(report)'} | "
            f"{verdict(cli <= target) if target else '–'} |"
        )
    if "skipped" in lo:
        lines.append(f"| 6 | LibreOffice conversion | skipped ({lo['skipped']}) | – | – |")
    else:
        lines.append(
            f"| 6 | LibreOffice .doc→docx, {lo['files']} files, files/s: pipeline (a poll, one mail per file) "
            f"{fmt(lo['pipeline_fps'])}, `Converter.convert_many` batch {fmt(lo['batch_fps'])}, "
            f"one `soffice` per file {fmt(lo['per_file_fps'])} | pipeline ÷ per-file "
            f"{fmt(lo['pipeline_fps'] / lo['per_file_fps'])}× | (report) | – |"
        )
    for name, secs in results.get("startup", {}).items():
        ok = name != "kaohe --help" or med(secs) <= 0.25
        lines.append(
            f"| 7 | start-up: `{name}` | {med(secs):.2f} s | "
            f"{'≤ 0.25 s' if name == 'kaohe --help' else '(report)'} | "
            f"{verdict(ok) if name == 'kaohe --help' else '–'} |"
        )
    lines += [
        "",
        "## Raw figures (seconds unless stated)",
        "",
        "```json",
        json.dumps(
            {k: v for k, v in results.items() if k != "machine"},
            indent=1,
            ensure_ascii=False,
            default=str,
        ),
        "```",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    p.add_argument("--json", type=Path, help="also write the raw figures as JSON")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (the CI smoke test)")
    p.add_argument("--runs", type=int, help="runs per figure (median)")
    p.add_argument("--cold-mails", type=int, help="mails in the cold-ingest mailbox")
    p.add_argument(
        "--only", help="comma-separated steps to run (cold,warm,incremental,big,report,libreoffice)"
    )
    p.add_argument(
        "--notes",
        type=Path,
        default=ROOT / "bench" / "NOTES.md",
        help="markdown appended to RESULTS.md (how to run, profile findings)",
    )
    a = p.parse_args(argv)
    sizes = SMOKE if a.smoke else FULL
    if a.runs:
        sizes = Sizes(**{**sizes.__dict__, "runs": a.runs})
    if a.cold_mails:
        sizes = Sizes(**{**sizes.__dict__, "cold_sizes": (a.cold_mails,)})
    only = set(a.only.split(",")) if a.only else None
    if not (shutil.which("dovecot") or os.path.exists("/usr/sbin/dovecot")):
        print(DOVECOT_MISSING, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(ROOT))
    from tests.support.dovecot import running_dovecot

    started = time.perf_counter()
    gen.warm_templates()
    work = Path(tempfile.mkdtemp(prefix="kaohe-bench-"))
    # Children use .pyc files, as an installed kaohe does (PYTHONDONTWRITEBYTECODE would
    # recompile ~150 modules per command: +0.1 s); __pycache__ is git-ignored.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "ingest", "parsers", "reports"], cwd=ROOT
    )
    try:
        with running_dovecot() as server:
            bench = Bench(server, work, sizes)
            bench.results["machine"] = machine()
            bench.results["sizes"] = sizes.__dict__
            for step in (
                bench.cold,
                bench.warm,
                bench.incremental,
                bench.big,
                bench.report,
                bench.libreoffice,
                bench.startup,
            ):
                if only is not None and step.__name__ not in only:
                    continue
                t = time.perf_counter()
                step()
                print(
                    f"{step.__name__}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    bench.results["total_seconds"] = total
    bench.results["machine"]["load_end"] = load_average()
    if only is not None:
        print(json.dumps(bench.results, indent=1, ensure_ascii=False, default=str))
        return 0
    text = render(bench.results, sizes, total, a.smoke)
    if a.notes and a.notes.exists() and not a.smoke:
        text += "\n" + a.notes.read_text(encoding="utf-8")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text, encoding="utf-8")
    if a.json:
        a.json.write_text(
            json.dumps(bench.results, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
        )
    print(f"wrote {a.out} in {total:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

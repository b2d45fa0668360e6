"""Load check of the web console (run on demand, not in the suite).

    .venv/bin/python -m bench.web_load [--units 500] [--clients 20] [--seconds 30]

Builds a 500-unit campaign (``bench/generate.py``) as a local Maildir under
``bench/out/web/``, polls most of it, then starts ``kaohe serve`` (its own
process, as in production) and lets 20 signed-in clients browse the overview
and random unit pages for 30 s on loopback — while ``kaohe poll`` processes the
rest of the mail in another process, new mail arriving in rounds. Prints the
median and p95 latency per page and overall, and errors; ``--out`` appends them
to ``bench/RESULTS.md``. Target: p95 < 300 ms, no errors.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import generate as gen
from tests.support.console import free_port

ROOT = Path(__file__).resolve().parent.parent
KAOHE = str(Path(sys.executable).parent / "kaohe")
USER, PASSWORD = "bench", "bench-password"
ROUNDS = 6  # batches of new mail the poller takes during the load


@dataclass
class Tally:
    """Latencies (seconds) per page kind, and what went wrong."""

    times: dict[str, list[float]] = field(default_factory=lambda: {"overview": [], "unit": []})
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if error:
                self.errors.append(error)


def build(folder: Path, n_units: int, n_mails: int) -> tuple[Path, list[str], list[gen.Mail]]:
    """The campaign folder; returns the config, the unit names and the mail kept for later."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "inbox").mkdir(parents=True)
    units = gen.roster(n_units)
    (folder / "roster.csv").write_text(gen.roster_csv(units), encoding="utf-8")
    (folder / "config.toml").write_text(
        '[mailbox]\nsource = "maildir"\npath = "inbox"\n\n[campaign]\n'
        'name = "压力测试"\ndeadline = "2020-03-20T23:59:59+08:00"\n'
        'timezone = "Asia/Shanghai"\n\n[paths]\ndata_dir = "data"\nroster = "roster.csv"\n',
        encoding="utf-8",
    )
    mails = gen.campaign_mails(n_mails, units, seed=5)
    first = int(len(mails) * 0.7)
    deliver(folder, mails[:first], 0)
    return folder / "config.toml", [u.name for u in units], mails[first:]


def deliver(folder: Path, mails: list[gen.Mail], start: int) -> None:
    for i, m in enumerate(mails, start=start):
        path = folder / "inbox" / f"{i:05d}.eml"
        path.write_bytes(m.raw)
        os.utime(path, (m.when.timestamp(), m.when.timestamp()))


def kaohe(config: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([KAOHE, "-c", str(config), *args], check=True, capture_output=True, **kw)  # type: ignore[call-overload, no-any-return]


def client_loop(
    base: str, units: list[str], stop: threading.Event, tally: Tally, seed: int, think: float
) -> None:
    """One clerk: signs in, then opens pages, reading each for 0–2×*think* seconds."""
    rnd = random.Random(seed)
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/login", data={"username": USER, "password": PASSWORD})
        if r.status_code != 303:
            tally.add("overview", 0.0, f"login {r.status_code}")
            return
        while not stop.is_set():
            kind = "overview" if rnd.random() < 0.4 else "unit"
            path = "/" if kind == "overview" else "/units/" + urllib.parse.quote(rnd.choice(units))
            start = time.perf_counter()
            try:
                resp = http.get(path)
                error = None if resp.status_code == 200 else f"{path} {resp.status_code}"
            except httpx.HTTPError as e:
                error = f"{path} {type(e).__name__}"
            tally.add(kind, time.perf_counter() - start, error)
            if think:
                stop.wait(rnd.uniform(0, 2 * think))


def poller(
    folder: Path, config: Path, later: list[gen.Mail], stop: threading.Event, log: list[str]
) -> None:
    """Polls in a row, a batch of new mail arriving before each, until the load ends."""
    size = max(1, len(later) // ROUNDS)
    for n in range(ROUNDS):
        if stop.is_set():
            break
        batch = later[n * size : (n + 1) * size]
        deliver(folder, batch, 100000 + n * size)
        start = time.perf_counter()
        kaohe(config, "poll")
        log.append(f"{len(batch)} 封 {time.perf_counter() - start:.1f} s")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0
    )


def run(n_units: int, n_mails: int, clients: int, seconds: float, think: float) -> tuple[str, bool]:
    folder = ROOT / "bench" / "out" / "web"
    t0 = time.perf_counter()
    config, units, later = build(folder, n_units, n_mails)
    kaohe(config, "poll")
    kaohe(config, "user", "add", USER, "--role", "viewer", "--password", PASSWORD)
    setup = time.perf_counter() - t0
    port = free_port()
    (folder / "web.toml").write_text(
        config.read_text(encoding="utf-8") + f'\n[web]\nlisten = "127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    server = subprocess.Popen(
        [KAOHE, "-c", str(folder / "web.toml"), "serve"], stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        tally, stop, polls = Tally(), threading.Event(), []  # type: ignore[var-annotated]
        threads = [
            threading.Thread(target=client_loop, args=(base, units, stop, tally, i, think))
            for i in range(clients)
        ]
        poll_thread = threading.Thread(target=poller, args=(folder, config, later, stop, polls))
        poll_thread.start()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        poll_thread.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return _summary(tally, n_units, n_mails, clients, seconds, setup, polls, think)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("kaohe serve did not start")


def _summary(
    tally: Tally,
    n_units: int,
    n_mails: int,
    clients: int,
    seconds: float,
    setup: float,
    polls: list[str],
    think: float,
) -> tuple[str, bool]:
    every = tally.times["overview"] + tally.times["unit"]
    p95 = pct(every, 95)
    ok = p95 < 0.3 and not tally.errors
    pause = f"each reading a page 0–{2 * think:g} s" if think else "no pause between pages"
    lines = [
        f"## Web console load — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`.venv/bin/python -m bench.web_load --units {n_units} --clients {clients} "
        f"--seconds {seconds:g} --think {think:g}`: "
        f"{n_units} units, {n_mails} mails (70% polled before, the rest in {ROUNDS} rounds by "
        f"`kaohe poll` during the load), {clients} signed-in clients on loopback "
        f"({pause}), `kaohe serve` in its own process; set-up {setup:.0f} s. {os.cpu_count()} CPUs, load average at the end: {os.getloadavg()[0]:.2f}.",
        "",
        "| page | requests | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, values in (
        ("总览 /", tally.times["overview"]),
        ("单位 /units/…", tally.times["unit"]),
        ("all", every),
    ):
        if values:
            lines.append(
                f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
                f"{pct(values, 95) * 1000:.0f} | {max(values) * 1000:.0f} |"
            )
    lines += [
        "",
        f"Throughput {len(every) / seconds:.0f} requests/s; errors: {len(tally.errors)}"
        + (f" (first: {tally.errors[0]})" if tally.errors else "")
        + f"; polls during the load: {', '.join(polls) or 'none finished'}.",
        f"Target p95 < 300 ms, no errors: **{'met' if ok else 'missed'}**.",
        "",
    ]
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--mails", type=int, default=900)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--think", type=float, default=0.0, help="mean seconds a client reads a page")
    ap.add_argument("--out", type=Path, help="append the result to this Markdown file")
    args = ap.parse_args(argv)
    text, ok = run(args.units, args.mails, args.clients, args.seconds, args.think)
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

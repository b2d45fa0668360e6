"""Kill ``kaohe poll`` with SIGKILL at random moments; nothing may be lost or doubled.

A few hundred small declaration mails (real xlsx forms, several units, some
late, some from unknown senders) go into a real Dovecot. ``kaohe -c C poll``
runs as a subprocess and is killed at a random moment, again and again; each
time a poll completes before its kill, a fresh batch of mails is appended, so
every trial kills a poll with work left. At the end one poll runs to
completion and the database must hold every mail exactly once, and the JSON
report must equal that of one clean poll into a fresh ``data_dir``.

The test suite runs a short version (tests/test_crash.py). The long one:

    .venv/bin/python tests/support/crash_trials.py --trials 200 --mails 300
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from tests.support.dovecot import (  # noqa: E402
    PASSWORD,
    PASSWORD_ENV,
    ROSTER_CSV,
    DovecotServer,
    running_dovecot,
    write_config,
)
from tests.support.forms import make_xlsx_form, sample_rows  # noqa: E402
from tests.support.mails import make_mail  # noqa: E402

KAOHE = str(Path(sys.executable).parent / "kaohe")
AS_OF = "2020-03-26T08:00:00+08:00"
UNITS = [line.split(",")[0:4:3] for line in ROSTER_CSV.splitlines()[1:]]  # (name, address)
START = datetime(2020, 3, 1, 1, 0, tzinfo=UTC)


@dataclass
class TrialResult:
    trials: int = 0
    kills: int = 0
    completed_polls: int = 0
    mails: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------------ mails


@functools.cache
def _form(unit: str, annex: int, rows: int) -> bytes:
    return make_xlsx_form(annex, sample_rows(annex, rows), unit_line=f"填报单位（盖章）：{unit}")


def form_mail(n: int) -> tuple[bytes, datetime]:
    """Mail number *n*: mostly forms from roster units, every 7th from an unknown sender."""
    unit, address = UNITS[n % len(UNITS)]
    annex = (4, 6, 2, 5)[(n // len(UNITS)) % 4]  # each unit sends each annex, in turn
    received = START + timedelta(hours=2 * n)  # spans the 20 March deadline for n >= ~230
    if n % 7 == 6:
        unit, address = "某某单位", f"stranger{n}@qq.com"
    raw = make_mail(
        sender=address,
        sender_name=unit,
        subject=f"{unit}附件{annex}申报（第{n}封）",
        attachments=[(f"附件{annex}-{unit}.xlsx", _form(unit, annex, 1 + n % 3))],
        message_id=f"<crash-{n}@kaohe.test>",
        date=received,
    )
    return raw, received


def append_batch(server: DovecotServer, start: int, count: int) -> list[str]:
    """Append mails start … start+count-1; their Message-IDs."""
    items = [form_mail(n) for n in range(start, start + count)]
    server.append_many(items)
    return [f"<crash-{n}@kaohe.test>" for n in range(start, start + count)]


# ---------------------------------------------------------------------- running


def kaohe_env() -> dict[str, str]:
    return {**os.environ, PASSWORD_ENV: PASSWORD}


def start_poll(config: Path) -> subprocess.Popen[bytes]:
    """``kaohe poll`` in its own process group; stderr goes to poll.err beside the config."""
    with open(config.parent / "poll.err", "wb") as err:
        return subprocess.Popen(
            [KAOHE, "-c", str(config), "poll"],
            env=kaohe_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def poll_to_completion(config: Path, timeout: float = 600) -> None:
    run = subprocess.run(
        [KAOHE, "-c", str(config), "poll"], env=kaohe_env(), capture_output=True, timeout=timeout
    )
    if run.returncode != 0:
        raise RuntimeError(f"kaohe poll failed: {run.stderr.decode(errors='replace')}")


def report_json(config: Path) -> dict[str, object]:
    run = subprocess.run(
        [KAOHE, "-c", str(config), "report", "--as-of", AS_OF, "--format", "json", "-o", "-"],
        env=kaohe_env(),
        capture_output=True,
        timeout=300,
    )
    if run.returncode != 0:
        raise RuntimeError(f"kaohe report failed: {run.stderr.decode(errors='replace')}")
    data: dict[str, object] = json.loads(run.stdout)
    # The health block says when this data_dir was last polled: it differs between any two
    # runs by design; the trials compare what was collected, not when.
    data.pop("health", None)
    return data


# ----------------------------------------------------------------------- checks


def check_database(data_dir: Path, expected_ids: list[str]) -> list[str]:
    """Every expected Message-ID exactly once; every stored item points at an archived raw mail."""
    problems = []
    con = sqlite3.connect(f"file:{data_dir / 'kaohe.db'}?mode=ro", uri=True)
    try:
        ids = [r[0] for r in con.execute("select message_id from messages")]
        items = con.execute("select status, count(*) from source_items group by status").fetchall()
        raws = [r[0] for r in con.execute("select raw_path from messages")]
        errors = con.execute(
            "select error, count(*) from messages where error is not null group by error"
        ).fetchall()
    finally:
        con.close()
    for error, n in errors:
        problems.append(f"{n} message(s) recorded with error: {error}")
    doubled = sorted({i for i in ids if ids.count(i) > 1})
    missing = sorted(set(expected_ids) - set(ids))
    extra = sorted(set(ids) - set(expected_ids))
    if doubled:
        problems.append(f"{len(doubled)} message(s) stored twice, e.g. {doubled[:3]}")
    if missing:
        problems.append(f"{len(missing)} message(s) missing, e.g. {missing[:3]}")
    if extra:
        problems.append(f"unexpected messages: {extra[:3]}")
    if dict(items) != {"stored": len(expected_ids)}:
        problems.append(
            f"source_items by status {dict(items)}, expected {len(expected_ids)} stored"
        )
    lost = [p for p in raws if not (data_dir / p).is_file()]
    if lost:
        problems.append(f"{len(lost)} raw file(s) missing from the archive")
    return problems


def stored_count(data_dir: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{data_dir / 'kaohe.db'}?mode=ro", uri=True, timeout=30)
    except sqlite3.OperationalError:  # no database yet
        return 0
    try:
        return int(con.execute("select count(*) from messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def derived_rows(data_dir: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{data_dir / 'kaohe.db'}?mode=ro", uri=True)
    try:
        return sorted(
            con.execute(
                "select message, unit, annex, version, rows, status from submissions"
            ).fetchall()
        )
    finally:
        con.close()


# ----------------------------------------------------------------------- trials


def run_trials(
    trials: int,
    mails: int,
    seed: int,
    workdir: Path,
    say: Callable[[str], None] = print,
    workers: int | None = None,
) -> TrialResult:
    """*trials* SIGKILLs of a working poll, then the final checks (see the module docstring).

    *workers*: the killed polls' ``[limits] parse_workers`` (default: one per core). With
    one, the poller writes the attachments' files; with more, the parse workers do."""
    rng = random.Random(seed)
    result = TrialResult()
    started = time.monotonic()
    with running_dovecot() as server:
        expected = append_batch(server, 0, mails)
        config = write_config(server, workdir / "crashed")
        if workers is not None:
            with config.open("a", encoding="utf-8") as f:
                f.write(f"\n[limits]\nparse_workers = {workers}\n")
        data = config.parent / "data"
        while result.kills < trials:
            result.trials += 1
            stored = stored_count(data)
            if len(expected) - stored < max(10, mails // 10):  # keep work in hand to be killed in
                expected += append_batch(server, len(expected), max(10, mails // 4))
            proc = start_poll(config)
            if kill_at_random_moment(proc, data, stored, len(expected) - stored, rng):
                result.kills += 1
                continue
            if proc.returncode != 0:
                err = (config.parent / "poll.err").read_text(errors="replace")
                result.problems.append(f"poll exited {proc.returncode}: {err[-500:]}")
                break
            result.completed_polls += 1
        say(f"{result.kills} kills done; final poll and a clean run of {len(expected)} mails")
        poll_to_completion(config)
        result.mails = len(expected)
        result.problems += check_database(data, expected)
        clean = write_config(server, workdir / "clean")
        poll_to_completion(clean)
        result.problems += _compare(config, clean)
    result.seconds = time.monotonic() - started
    return result


def kill_at_random_moment(
    proc: subprocess.Popen[bytes], data: Path, stored: int, pending: int, rng: random.Random
) -> bool:
    """SIGKILL *proc* at a random moment with work in hand; False if it finished first.

    One kill in five lands at a random time in the first 1.5 s (start-up,
    connect, login, search, first message); the others once a random number
    (at least one) of new messages were committed, plus a random part of the
    next message's work.
    """
    if rng.random() < 0.2:
        deadline = time.monotonic() + rng.uniform(0.0, 1.5)
        target = None
    else:
        deadline = time.monotonic() + 300
        target = stored + 1 + rng.randrange(max(pending, 1))
    while proc.poll() is None:
        if time.monotonic() >= deadline or (target is not None and stored_count(data) >= target):
            time.sleep(rng.uniform(0.0, 0.03) if target is not None else 0)
            kill_group(proc)
            return True
        time.sleep(0.01)
    return False


def _compare(crashed: Path, clean: Path) -> list[str]:
    problems = []
    if report_json(crashed) != report_json(clean):
        problems.append("JSON report differs from the clean run's")
    if derived_rows(crashed.parent / "data") != derived_rows(clean.parent / "data"):
        problems.append("submissions differ from the clean run's")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--trials", type=int, default=50, help="number of SIGKILLs (default 50)")
    ap.add_argument("--mails", type=int, default=300, help="mails in the first batch (default 300)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="work in DIR and keep it (databases, logs) instead of a temp folder",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="parse workers of the killed polls (default: one per core)",
    )
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        res = run_trials(args.trials, args.mails, seed, args.keep, workers=args.workers)
    else:
        with tempfile.TemporaryDirectory(prefix="kaohe-crash-") as tmp:
            res = run_trials(args.trials, args.mails, seed, Path(tmp), workers=args.workers)
    print(
        f"seed {seed}: {res.kills} kills in {res.trials} polls ({res.completed_polls} "
        f"completed before their kill), {res.mails} mails, {res.seconds:.0f} s"
    )
    for p in res.problems:
        print("PROBLEM:", p)
    print("OK: every mail exactly once, report equals a clean run" if res.ok else "FAILED")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""A parse pool started the way ``kaohe poll`` starts one, in a fresh interpreter.

Run by tests/ingest/match/test_sandbox.py as ``python -m tests.support.fork_probe
SCRATCH HELD MODE``: before the pool starts, this process holds the file HELD open (as a
poll holds its lock file and database), has a log handler, a signal handler and the
fault handler on; its environment carries the
test's secret. MODE: ``plain``; ``thread`` (another thread is running when the pool starts);
``two`` (two workers, the second forked from the first); ``hang`` (print, then wait to be
killed); ``broken`` (the forked worker's set-up fails). Prints one JSON line: what the workers saw.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ingest.match.sandbox import ParseAborted, ParsePool, SandboxLimits
from tests.support import sandbox_jobs as jobs


def main() -> None:
    scratch, held_path, mode = sys.argv[1:4]
    held = open(held_path, "w")  # noqa: SIM115  (held to the end, like a poll's lock file)
    logging.getLogger().addHandler(logging.StreamHandler())
    faulthandler.enable()  # as a test runner has it
    signal.signal(signal.SIGUSR1, lambda *_: None)  # as a daemon has its own
    stop = threading.Event()
    if mode == "thread":
        threading.Thread(target=stop.wait, daemon=True).start()
    if mode == "broken":  # the fork's set-up fails in the child (what it inherits of this)
        import ingest.match.sandbox_worker as worker_side

        def broken() -> None:
            raise RuntimeError("set-up broken on purpose")

        worker_side._own_stdio = broken
    limits = SandboxLimits(memory_mb=512, seconds=20)
    out: dict[str, object] = {"parent": os.getpid()}
    with ParsePool(2 if mode == "two" else 1, limits, scratch_parent=Path(scratch)) as pool:
        if mode == "two":  # two jobs at once: one in each worker
            first = pool.submit(jobs.echo_after, "a", 0.5)
            second = pool.submit(jobs.worker_facts)
            out["first_pid"], out["second"] = first.result()[1], second.result()
        facts = pool.call(jobs.worker_facts)
        out["facts"] = facts
        out["environ"] = Path(f"/proc/{facts['pid']}/environ").read_bytes().decode(errors="replace")
        try:
            pool.call(int, "x")
        except ValueError as e:
            out["error"] = str(e)
        if mode == "plain":
            try:
                pool.call(jobs.allocate, 2048)
            except ParseAborted as e:
                out["capped"] = e.reason
            after = pool.call(jobs.worker_facts)
            out["after_cap"] = {"pid": after["pid"], "as": after["as"]}
        out["stderr"] = "".join(
            p.read_text(encoding="utf-8", errors="replace") for p in pool.scratch.glob("*.stderr")
        )
        print(json.dumps(out), flush=True)
        if mode == "hang":
            time.sleep(60)
    held.close()


if __name__ == "__main__":
    main()

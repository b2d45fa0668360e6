"""Peak resident memory of a process and all its descendants, sampled from /proc."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _rss(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(total RSS in bytes, number of processes) of *root* and its descendants now."""
    kids = _children_map()
    todo, total, count = [root], 0, 0
    while todo:
        pid = todo.pop()
        total += _rss(pid)
        count += 1
        todo.extend(kids.get(pid, []))
    return total, count


class TreeSampler(threading.Thread):
    """Samples ``tree_rss(pid)`` every *interval* seconds until :meth:`stop`; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.most_processes = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            total, count = tree_rss(self.pid)
            self.peak = max(self.peak, total)
            self.most_processes = max(self.most_processes, count)

    def stop(self) -> None:
        self._done.set()
        self.join()

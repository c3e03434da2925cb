"""Peak resident memory of a process and everything it starts, sampled from /proc.

`optout run` starts dbt (and dbt may start more), so the process's own peak would miss
most of the memory a run needs: the sampler sums VmRSS over the whole tree. Pages shared
between processes (Python libraries mapped by both) are counted once per process, so the
sum leans high, which is the safe side for a memory target.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")
SAMPLE_SECONDS = 0.1


def _parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process visible now.

    /proc/<pid>/task/<tid>/children would be cheaper, but kernels built without
    CONFIG_PROC_CHILDREN lack it, so walk /proc and read each parent from `stat`.
    """
    parents = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # the command name (field 2) is in parentheses and may hold spaces or ")"
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(root: int) -> list[int]:
    """The root pid and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parent_pids().items():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def resident_bytes(pid: int) -> int:
    """VmRSS of one process; 0 once it has ended (a zombie has no VmRSS line)."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_resident_bytes(root: int) -> int:
    return sum(resident_bytes(pid) for pid in process_tree(root))


class PeakTreeMemory:
    """Samples the summed RSS of a process tree in a thread until stopped; keeps the maximum.

    with PeakTreeMemory(process.pid) as memory:
        process.wait()
    memory.peak_bytes
    """

    def __init__(self, root: int, interval: float = SAMPLE_SECONDS):
        self.root = root
        self.interval = interval
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name=f"rss-{root}", daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, tree_resident_bytes(self.root))
            self.samples += 1
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

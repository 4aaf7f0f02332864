"""Peak resident memory of a process tree, sampled from /proc while a builder runs."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.1


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        children[int(fields[1])].append(int(entry.name))
    return children


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants now (0 if it has ended)."""
    children = _children_map()
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident_pages * PAGE_SIZE
        stack.extend(children.get(pid, ()))
    return total


@dataclass
class PeakSampler:
    """Samples the RSS of the trees under `roots` until stopped; `peak` is the highest sum seen."""

    roots: list[int] = field(default_factory=list)
    baseline: int = 0
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        self.peak = max(self.peak, sum(tree_rss(pid) for pid in self.roots))

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    @property
    def peak_delta(self) -> int:
        return max(0, self.peak - self.baseline)


@contextmanager
def sampling(sampler: PeakSampler) -> Iterator[PeakSampler]:
    """Run the sampler in a thread for the duration of the block (roots may be added inside it)."""
    thread = threading.Thread(target=sampler._loop, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield sampler
    finally:
        sampler._stop.set()
        thread.join()

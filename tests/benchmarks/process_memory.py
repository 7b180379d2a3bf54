"""Resident memory and CPU time of a process and all its children over time, sampled in a thread (`make bench`).

`ru_maxrss` gives only the peak of the largest single process; a `cx run` is the Dagster process plus dbt and
notebook kernels beside it, and its stages run one after another, so the figure that matters for "peak < 8 GB"
is the tree's total at each moment, and each stage's peak is the largest total while that stage ran. CPU
seconds say what a stage costs when the machine is shared: wall time then mostly measures the other jobs.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field

import psutil

SAMPLE_SECONDS = 0.5


def ended_children_cpu_seconds() -> float:
    """User + system seconds of this process's children that have ended and been waited for, with everything they
    waited for in turn: exact where sampling misses a process's last moments."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Sample:
    at: float  # unix time
    rss: int  # resident bytes of the tree
    cpu_seconds: float  # user + system seconds of the tree so far, ended children included


def tree_sample(process: psutil.Process) -> Sample | None:
    """The tree's memory and CPU time now (None once the process has ended)."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    rss, cpu = 0, 0.0
    for member in members:
        try:
            rss += member.memory_info().rss
            times = member.cpu_times()
        except psutil.NoSuchProcess:  # a child that ended between listing and reading
            continue
        # children_* hold the children already waited for, which are no longer listed
        cpu += times.user + times.system + times.children_user + times.children_system
    return Sample(time.time(), rss, cpu)


@dataclass
class TreeMemorySampler:
    """Samples `tree_sample` of `pid` every SAMPLE_SECONDS until stopped."""

    pid: int
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._process = psutil.Process(self.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            sample = tree_sample(self._process)
            if sample:
                self.samples.append(sample)
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> "TreeMemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _between(self, start: float | None, end: float | None) -> list[Sample]:
        return [s for s in self.samples if (start is None or s.at >= start) and (end is None or s.at <= end)]

    def peak_gb(self, start: float | None = None, end: float | None = None) -> float:
        """The largest sampled total between two unix times (the whole run by default); 0 without a sample."""
        return max((s.rss for s in self._between(start, end)), default=0) / 1024**3

    def cpu_seconds(self, start: float, end: float) -> float:
        """CPU seconds the tree spent between two unix times (as far as the samples show)."""
        inside = self._between(start, end)
        return inside[-1].cpu_seconds - inside[0].cpu_seconds if len(inside) > 1 else 0.0

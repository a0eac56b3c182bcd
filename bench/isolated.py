"""Running a step in a fresh process, so that its peak RSS is its own.

A spawned process (not forked: a fork would start with the parent's pages) imports what
the step needs, runs it and reports its VmHWM, the kernel's high-water mark of its
resident set. That includes the interpreter and the imported libraries (pandas, numpy,
SQLAlchemy: about 100 MB), as an operator would see it for ``ftpbridge import``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def _peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MiB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    import resource  # not Linux: ru_maxrss is KiB on Linux, bytes on macOS

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _measured(function: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    outcome = function(**kwargs)
    outcome["peak_rss_mb"] = _peak_rss_mb()
    return outcome


def run_isolated(function: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """Run ``function(**kwargs)`` in a fresh (spawned) process; add its peak RSS."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measured, function, kwargs).result()

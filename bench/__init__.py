"""Benchmarks (``make bench`` runs ``python -m bench``); never part of the timed test suite.

Each benchmark is a module ``bench/<name>.py`` exposing ``run() -> list[dict]``: one dict per
measured row (flat, JSON-serialisable values).  The runner in :mod:`bench.__main__` finds the
modules itself, so adding a benchmark means adding a module, nothing else.

:func:`timeit` is the shared timer: warm-up calls, then the best (minimum) and the median of
several ``time.perf_counter`` repeats.  The minimum is the headline number because it is
the least disturbed by other processes on a shared machine.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

__all__ = ["timeit", "time_pair"]


def timeit(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> dict:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones.

    Returns ``{"best_ms", "median_ms", "repeats"}``.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"best_ms": 1e3 * min(times), "median_ms": 1e3 * statistics.median(times), "repeats": repeats}


def time_pair(ours: Callable[[], object], ref: Callable[[], object], repeats: int = 7,
              warmup: int = 1) -> tuple[dict, dict]:
    """Time two functions interleaved (ours, ref, ours, ref, ...) so that both see the same
    machine load; returns ``(timing_ours, timing_ref)`` as :func:`timeit`."""
    for _ in range(warmup):
        ours()
        ref()
    t_o, t_r = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        ref()
        t2 = time.perf_counter()
        t_o.append(t1 - t0)
        t_r.append(t2 - t1)

    def summary(ts):
        return {"best_ms": 1e3 * min(ts), "median_ms": 1e3 * statistics.median(ts), "repeats": repeats}

    return summary(t_o), summary(t_r)

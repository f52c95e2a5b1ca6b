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
              warmup: int = 1, block: int = 3, settle: float = 0.25) -> tuple[dict, dict]:
    """Time two functions in alternating blocks: ``repeats`` rounds of ``block`` timed calls of
    ``ours``, then ``block`` of ``ref``; returns ``(timing_ours, timing_ref)`` as :func:`timeit`
    (over all ``repeats * block`` calls of each).

    Each block starts after ``settle`` seconds of sleep.  NumPy's BLAS (OpenBLAS) and PyTorch
    (OpenMP) each keep worker threads that spin for a while after a call; on a 2-core machine
    the other library's spinning threads slowed whichever ran next by 1.5-2x, and calling the two
    one after the other (our first version) made both times, and their ratio, swing between runs.
    A user runs one library at a time, so each is timed once the other's threads have gone idle.
    Alternating rounds still spread a change in machine load over both.
    """
    for _ in range(warmup):
        ours()
        ref()
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(repeats):
        for k, fn in enumerate((ours, ref)):
            time.sleep(settle)
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)

    def summary(ts):
        return {"best_ms": 1e3 * min(ts), "median_ms": 1e3 * statistics.median(ts), "repeats": len(ts)}

    return summary(times[0]), summary(times[1])

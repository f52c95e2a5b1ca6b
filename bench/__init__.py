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
from collections.abc import Callable

__all__ = ["timeit", "time_pair"]


def _times(fn: Callable[[], object], calls: int) -> list[float]:
    """Seconds taken by each of ``calls`` calls of ``fn()``."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _summary(times: list[float]) -> dict:
    return {"best_ms": 1e3 * min(times), "median_ms": 1e3 * statistics.median(times), "repeats": len(times)}


def timeit(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> dict:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones.

    Returns ``{"best_ms", "median_ms", "repeats"}``.
    """
    for _ in range(warmup):
        fn()
    return _summary(_times(fn, repeats))


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
    t_ours: list[float] = []
    t_ref: list[float] = []
    for _ in range(repeats):
        for fn, times in ((ours, t_ours), (ref, t_ref)):
            time.sleep(settle)
            times += _times(fn, block)
    return _summary(t_ours), _summary(t_ref)

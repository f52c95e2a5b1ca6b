"""Executors that run ``worker.grade_submission``: a local process pool or Dask.

Both offer ``submit(fn, arg) -> future``, ``as_completed(futures)``,
``cancel(futures)`` and ``close()``; the grading loop does not care which.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from autograder.course import ensure_bin_on_path
from autograder.pipeline.worker import preload


def _worker_init(log_dir: str | None = None) -> None:
    ensure_bin_on_path()
    if log_dir:
        # worker and kernel stderr go to a file, so the parent's progress bar stays readable
        os.makedirs(log_dir, exist_ok=True)
        fd = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)


def _context():
    """fork where it is safe (Linux, no other threads yet): workers start at once with nbgrader
    already imported, instead of paying seconds of imports each; spawn elsewhere."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        preload()
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class LocalExecutor:
    """``concurrent.futures.ProcessPoolExecutor`` with N spawned processes."""

    kind = "local"

    def __init__(self, workers: int, log_dir: str | None = None):
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=_context(), initializer=_worker_init, initargs=(log_dir,)
        )

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future:
        return self.pool.submit(fn, arg)

    def as_completed(self, futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
        return cf.as_completed(futures)

    def cancel(self, futures: Iterable[cf.Future]) -> None:
        for f in futures:
            f.cancel()

    def close(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=True)

    def describe(self) -> str:
        return f"{self.workers} local worker process{'es' if self.workers != 1 else ''}"


class DaskExecutor:
    """dask.distributed: a new LocalCluster (``cluster='local'``) or a running scheduler address."""

    kind = "dask"

    def __init__(self, workers: int, scheduler: str | None = None):
        # lazy: Dask is optional, for --cluster/--scheduler only
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="20s")
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=40)
            self.client = Client(self.cluster)
        self.client.run(_worker_init)
        self.workers = len(self.client.scheduler_info().get("workers", {})) or workers
        self.scheduler = scheduler

    @property
    def remote(self) -> bool:
        """With an external scheduler the workers may not share our filesystem."""
        return self.scheduler is not None

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        # pure=False: grading the same job twice (--force) must really run twice
        return self.client.submit(fn, arg, pure=False, key=f"grade-{arg.unit}-{arg.student}-{os.urandom(4).hex()}")

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        # lazy: Dask is optional, for --cluster/--scheduler only
        from distributed import as_completed

        return as_completed(futures)

    def cancel(self, futures: Iterable[Any]) -> None:
        self.client.cancel(list(futures))

    def close(self, wait: bool = True) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def describe(self) -> str:
        where = self.scheduler or "a local Dask cluster"
        return f"{self.workers} Dask worker{'s' if self.workers != 1 else ''} on {where}"


def make_executor(workers: int, cluster: str | None = None, scheduler: str | None = None,
                  log_dir: str | None = None) -> LocalExecutor | DaskExecutor:
    """``cluster='local'`` or ``scheduler='tcp://...'`` give Dask; otherwise a local process pool."""
    if scheduler:
        return DaskExecutor(workers, scheduler=scheduler)
    if cluster:
        if cluster != "local":
            raise ValueError(f"unknown cluster kind {cluster!r} (only 'local'; use --scheduler for a running one)")
        return DaskExecutor(workers)
    return LocalExecutor(workers, log_dir=log_dir)

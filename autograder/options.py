"""The settings of a grading run, each declared once.

``course autograde``'s flags, ``autograde(...)``'s keyword arguments, the
worker's job and the sandbox's limits all read these fields; a default lives
here (or, for a kernel's resource limits, in :class:`autograder.runtime.sandbox.Limits`)
and nowhere else.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from autograder.runtime.sandbox import Limits

__all__ = ["RunOptions", "NOTEBOOK_CELLS", "MIN_NOTEBOOK_SECONDS", "DEMO_STUDENTS", "DEMO_MIN_STUDENTS",
           "DEMO_CELL_TIMEOUT"]

#: A notebook's default time limit: this many cells' worth of ``cell_timeout``, and at least this long.
NOTEBOOK_CELLS = 20
MIN_NOTEBOOK_SECONDS = 300.0

#: ``course demo``: a class of this many synthetic students (at least the minimum), graded with the
#: grader's own cell limit (the looping student costs one worker slot this long): at 20 s, unit 03's
#: training test (7 s of CPU) timed out for perfect students on a busy 2-core machine.
DEMO_STUDENTS = 22
DEMO_MIN_STUDENTS = 20
DEMO_CELL_TIMEOUT = int(Limits.cell_timeout)


@dataclass(frozen=True)
class RunOptions:
    """How ``course autograde`` grades.

    Attributes:
        workers: worker processes (None: the CPU count).
        cluster: ``"local"`` to run the workers on a new local Dask cluster.
        scheduler: the address of a running Dask scheduler (``tcp://host:port``).
        force: regrade submissions whose files did not change.
        progress: show a progress bar.
        cell_timeout: seconds one cell (or one test cell in the judge) may run.
        notebook_timeout: seconds a whole notebook may run (None: ``NOTEBOOK_CELLS`` x ``cell_timeout``, at
            least ``MIN_NOTEBOOK_SECONDS``).
        warm_kernels: each worker starts its next kernel while it grades; sandboxed kernels are
            forked from a template with the setup's imports done (False: a new interpreter per notebook).
        sandbox: run each kernel in a :class:`~autograder.runtime.sandbox.Sandbox` (isolation needs root).
        memory_mb, max_processes, max_output_bytes: the kernel's limits (see ``Limits``).
    """

    workers: int | None = None
    cluster: str | None = None
    scheduler: str | None = None
    force: bool = False
    progress: bool = True
    cell_timeout: int = int(Limits.cell_timeout)
    notebook_timeout: float | None = None
    warm_kernels: bool = True
    sandbox: bool = True
    memory_mb: int = Limits.memory_mb
    max_processes: int = Limits.max_processes
    max_output_bytes: int = Limits.max_output_bytes

    def with_(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` (unknown names raise TypeError naming them)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown grading option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    @property
    def worker_count(self) -> int:
        return max(1, int(self.workers or os.cpu_count() or 1))

    @property
    def notebook_seconds(self) -> float:
        return float(self.notebook_timeout or max(MIN_NOTEBOOK_SECONDS, NOTEBOOK_CELLS * self.cell_timeout))

    def limits(self) -> Limits:
        """The kernel's sandbox limits for these options."""
        return Limits(cell_timeout=float(self.cell_timeout), notebook_timeout=self.notebook_seconds,
                      memory_mb=int(self.memory_mb), max_processes=int(self.max_processes),
                      max_output_bytes=int(self.max_output_bytes))

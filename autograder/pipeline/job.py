"""What a worker is given and what it hands back: the one job of grading one submission.

:class:`GradeJob` is picklable (local processes and Dask workers get it as is);
:class:`GradeResult` is small (the executed notebooks as JSON, timings, errors).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from nbgrader.coursedir import CourseDirectory

from autograder.options import RunOptions

__all__ = ["IGNORE", "ignored", "GradeJob", "NotebookResult", "GradeResult"]

#: nbgrader's settings of a course directory, unconfigured: its defaults, which grading shares.
_NBGRADER = CourseDirectory()
#: Names not graded: nbgrader's ``CourseDirectory.ignore`` default.
IGNORE: list[str] = list(_NBGRADER.ignore)


def ignored(name: str) -> bool:
    """True for a file or directory name grading leaves out (:data:`IGNORE`)."""
    return any(fnmatch.fnmatch(name, pat) for pat in IGNORE)


@dataclass
class GradeJob:
    """Everything a worker needs to grade one submission (picklable)."""

    student: str
    unit: str
    submission_dir: str          # submitted/<student>/<unit>
    source_dir: str              # source/<unit>: its non-notebook files overwrite the student's
    notebooks: list[str]         # notebook names of the unit, from the gradebook
    db_url: str                  # read-only gradebook snapshot, used by OverwriteCells
    course_id: str = "default_course"
    options: RunOptions = field(default_factory=RunOptions)  # timeouts, limits, sandbox, warm kernels
    config: Any = None           # traitlets Config of the instance (Execute, LimitOutput, ...)
    snapshot_bytes: bytes | None = None  # remote workers: the SQLite snapshot itself
    files: dict[str, bytes] | None = None  # remote workers: the submission's files
    max_file_size: int = _NBGRADER.max_file_size  # KB: nbgrader's setting (autograde passes the course's)
    hidden_cells: tuple = ()     # grade ids whose source has hidden tests: their checksum change is expected
    specs: dict | None = None     # notebook name -> spec.NotebookSpec (read once by the parent)
    templates: dict | None = None  # profile's forbid tuple -> socket of the run's shared template
    hide: tuple = ()              # paths the kernel must not see (course sources, tests, .git, the instance)


@dataclass
class NotebookResult:
    name: str
    status: str                  # ok | missing | error | timeout | kernel_died
    nb_json: str | None = None   # the executed notebook, None when it could not be graded
    error: str | None = None
    seconds: float = 0.0
    kernel_start_s: float = 0.0  # from starting the executor to the first cell (kernel start-up)
    warnings: list[str] = field(default_factory=list)


@dataclass
class GradeResult:
    student: str
    unit: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    host: str = ""
    pid: int = 0

    @property
    def status(self) -> str:
        bad = [n.status for n in self.notebooks if n.status != "ok"]
        return bad[0] if bad else "ok"

    @property
    def error(self) -> str | None:
        errs = [f"{n.name}: {n.error}" for n in self.notebooks if n.error]
        return "; ".join(errs) or None

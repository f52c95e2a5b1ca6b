"""Grading one submission, in a worker process (local pool or Dask): the steps in order.

``grade_submission(job) -> GradeResult`` is a plain, picklable, top-level
function: it takes paths and settings and returns a small result (the executed
notebook JSON, timings, errors).  It never writes the gradebook: the parent is
the one writer (:mod:`autograder.pipeline.record`), so SQLite never sees
concurrent writers.  Each notebook of the unit goes through the steps, each a
module of :mod:`autograder.pipeline.steps` with one job:

1. ``intake``: the submission's files into a private directory;
2. ``structure``: read the notebook (a malformed one is a recorded error), note
   and repair a mangled structure;
3. ``sanitize``: nbgrader's sanitize pass (locked cells, hidden tests included,
   restored from the gradebook snapshot);
4. ``execute``: the student's cells in a sandboxed kernel, once per *profile*
   (the tasks that forbid the same modules share a kernel without them);
5. ``judge``: each test cell in this process, against the kernel's answers;
6. ``postprocess``: one notebook from the profile runs, nbgrader's last steps.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import re
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import nbformat
from traitlets.config import Config

from autograder.nbgrader_glue import quiet_logger
from autograder.pipeline.job import GradeJob, GradeResult, NotebookResult
from autograder.pipeline.spec import read_spec
from autograder.pipeline.steps import intake, postprocess, structure
from autograder.pipeline.steps.execute import run_profile
from autograder.pipeline.steps.sanitize import sanitize

__all__ = ["grade_submission", "grade_notebook", "preload"]


def preload() -> None:
    """Import what grading needs, so forked workers inherit it instead of importing it each."""
    # the point of this function: called in the parent (or a fresh worker) before any grading
    import jupyter_client  # noqa: F401
    import nbclient  # noqa: F401
    import sqlalchemy  # noqa: F401


def _read_source(src_path: Path):
    try:
        return nbformat.read(str(src_path), as_version=4) if src_path.is_file() else None
    except Exception:
        return None


def grade_notebook(job: GradeJob, name: str, workdir: Path, db_url: str) -> NotebookResult:
    """Steps 2-6 for one notebook of the submission in ``workdir``."""
    t0 = time.perf_counter()
    path = workdir / f"{name}.ipynb"
    if not path.exists() and not path.is_symlink():
        sub = Path(job.submission_dir) if job.files is None else None
        return NotebookResult(name, "missing", error=structure.missing_notebook_message(workdir, name, sub)[:300])
    nb, why = structure.read_notebook(path)
    if nb is None:
        return NotebookResult(name, "error", error=f"malformed notebook: {why}"[:300], seconds=time.perf_counter() - t0)
    src_path = Path(job.source_dir) / f"{name}.ipynb"
    source = _read_source(src_path)
    notes = structure.check(nb, source)
    # copy/paste duplicates grade ids, which nbgrader's sanitize pass fails on: keep one copy of each
    nb, notes = structure.repair(nb, source, notes)
    resources: dict[str, Any] = {
        "unique_key": name,
        "metadata": {"name": name, "path": str(workdir)},
        "nbgrader": {"student": job.student, "assignment": job.unit, "notebook": name, "db_url": db_url},
    }
    cfg = copy.deepcopy(job.config) if job.config is not None else Config()
    log, collected = quiet_logger(f"course.worker.{os.getpid()}")
    try:
        nb, resources = sanitize(nb, resources, cfg, log)
    except Exception as exc:
        return NotebookResult(name, "error", error=f"sanitize failed: {exc.__class__.__name__}: {exc}"[:300],
                              seconds=time.perf_counter() - t0)
    spec = (job.specs or {}).get(name)
    if spec is None and source is not None:
        spec = read_spec(source, name)
    profiles = list(spec.profiles) if spec is not None and spec.profiles else [None]
    runs = []
    for prof in profiles:
        main = prof is profiles[-1]
        run = run_profile(job, nb if main else copy.deepcopy(nb),
                          dict(resources, metadata=dict(resources["metadata"])), cfg, log, spec, prof, main, workdir)
        if isinstance(run, NotebookResult):
            return dataclasses.replace(run, seconds=time.perf_counter() - t0)
        runs.append(run)
    nb, resources = postprocess.merge_runs(runs)
    nb, resources = postprocess.finish(nb, resources, cfg, log)
    outcome, detail = postprocess.outcome_of(runs)
    notes += [n for run in runs for n in run.notes]
    return NotebookResult(name, outcome, nbformat.writes(nb), error=detail, seconds=time.perf_counter() - t0,
                          kernel_start_s=sum(r.kernel_start_s for r in runs),
                          warnings=(postprocess.nbgrader_warnings(collected.messages, job.hidden_cells) + notes)[:30])


# A grading worker's private directory is named after its process, so that a later run can tell
# the directories of a killed run (SIGKILL skips TemporaryDirectory's cleanup) from a live one's.
WORKDIR_PREFIX = "course-grade-"
_WORKDIR = re.compile(re.escape(WORKDIR_PREFIX) + r"(\d+)-")


def reap_stale_workdirs(base: str | os.PathLike | None = None, min_age_s: float = 60.0) -> int:
    """Remove the private directories that grading workers of a killed run left in ``base`` (the
    temp dir by default): those whose worker process is gone. Returns how many were removed."""
    removed = 0
    for d in Path(base or tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        m = _WORKDIR.match(d.name)
        if not m or not d.is_dir():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue                     # its worker still runs
        except ProcessLookupError:
            pass
        except OSError:                  # alive, but someone else's
            continue
        try:
            if time.time() - d.stat().st_mtime < min_age_s:
                continue
        except OSError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed += not d.exists()
    return removed


def grade_submission(job: GradeJob) -> GradeResult:
    """Grade one submission in a private temp dir and fresh kernels; never raises."""
    t0 = time.perf_counter()
    result = GradeResult(job.student, job.unit, host=socket.gethostname(), pid=os.getpid())
    try:
        with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-{job.student}-") as tmp_name:
            tmp = Path(tmp_name)
            workdir = tmp / job.unit
            workdir.mkdir()
            shadowing = intake.prepare(job, workdir)
            db_url = job.db_url
            if job.snapshot_bytes is not None:
                snap = tmp / "gradebook-snapshot.db"
                snap.write_bytes(job.snapshot_bytes)
                db_url = "sqlite:///" + str(snap)
            result.timings["setup_s"] = time.perf_counter() - t0
            for name in job.notebooks:
                result.notebooks.append(grade_notebook(job, name, workdir, db_url))
                if shadowing:
                    result.notebooks[-1].warnings.insert(0, "not used (would shadow a module): "
                                                         + ", ".join(shadowing[:10]))
    except Exception:
        tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
        result.notebooks.append(NotebookResult("*", "error", error=f"worker error: {tb}"[:300]))
    result.timings["total_s"] = time.perf_counter() - t0
    result.timings["execute_s"] = sum(n.seconds for n in result.notebooks)
    return result

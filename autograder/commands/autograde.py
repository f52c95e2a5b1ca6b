"""``course autograde``: grade all submissions of a unit in parallel, resumably.

The flow per submission (nbgrader is the engine; this is the harness around it):

1. parent: hash the submitted files; skip when the gradebook already records
   that hash (resume), unless ``force``;
2. worker (``worker.grade_submission``, local process or Dask): nbgrader's
   sanitize + execute preprocessors in a private copy, own kernel, against a
   read-only gradebook snapshot;
3. parent, the only gradebook writer: nbgrader's SaveAutoGrades and
   AssignLatePenalties, the submission record and our hash, all in ONE
   transaction, after the autograded files have been put in place; a kill at
   any moment loses no grade and doubles none.

nbgrader grades submissions one after another and writes the gradebook from
inside the conversion; it has no resume, progress, per-notebook limits or
timing log.  Those are what this module adds.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

import course_lib
from autograder.cells import hidden_regions
from autograder.course import CourseError
from autograder.instance import Instance
from autograder.options import RunOptions
from autograder.pipeline.executors import make_executor
from autograder.pipeline.job import GradeJob, GradeResult, NotebookResult
from autograder.pipeline.job import ignored as _ignored
from autograder.pipeline.record import make_snapshot, record_result
from autograder.pipeline.spec import kernel_modules, unit_spec
from autograder.pipeline.state import (
    assignment_fingerprint,
    load_state,
    run_lock,
    submission_bytes,
    submission_hash,
    tidy_after_killed_run,
)
from autograder.pipeline.worker import grade_submission, reap_stale_workdirs
from autograder.runtime.forkserver import ForkServer, supported
from autograder.runtime.kernels import reap_orphans, temp_dirs_to_hide

__all__ = ["autograde", "Summary", "Record"]


@dataclass
class Record:
    """One graded (or skipped) submission."""

    student: str
    status: str              # ok | error | timeout | kernel_died | missing | skipped
    seconds: float = 0.0
    error: str | None = None


@dataclass
class Summary:
    """What ``autograde`` did: counts, wall time and one Record per submission."""

    unit: str
    total: int = 0
    graded: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    executor: str = ""
    records: list[Record] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.unit}: graded {self.graded}, skipped {self.skipped} unchanged, "
                f"{self.failed} with errors, in {self.seconds:.1f} s ({self.executor})")


def _log_line(inst: Instance, result: GradeResult, queued_at: float) -> list[dict]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    total = result.timings.get("total_s", 0.0)
    lines = []
    for n in result.notebooks:
        lines.append({
            "time": now, "unit": result.unit, "student": result.student, "notebook": n.name,
            "seconds": round(n.seconds, 3), "status": n.status, "error": n.error,
            "worker_total_s": round(total, 3),
            "overhead_s": round(total - result.timings.get("execute_s", 0.0), 3),
            "kernel_start_s": round(n.kernel_start_s, 3),
            "warnings": n.warnings or None,
            "turnaround_s": round(time.monotonic() - queued_at, 3),
            "worker": f"{result.host}:{result.pid}",
        })
    return lines


def autograde(instance: Instance, unit: str, students: list[str] | None = None,
              options: RunOptions | None = None, **changes: Any) -> Summary:
    """Grade the submissions of ``unit`` in ``instance``; returns a Summary.

    ``students``: only these (default: everyone under submitted/).  ``options``: a
    :class:`~autograder.options.RunOptions` (workers, Dask, limits, ...); keyword arguments change
    single fields of it, e.g. ``autograde(inst, unit, workers=2, cell_timeout=10)``.
    """
    opts = (options or RunOptions()).with_(**changes)
    inst = instance.require()
    inst.ensure_registered(unit)
    with run_lock(inst):
        tidy_after_killed_run(inst, unit)
        # What grading needs of the unit's instructor notebooks, read once: setup, tasks, references,
        # profiles.  Warm sandboxed kernels are forks of one template per profile that has done what
        # the setup imports (and nothing the profile forbids): started first, so that their seconds of
        # imports overlap with reading the gradebook, hashing submissions and starting the workers.
        specs = unit_spec(inst.source_dir / unit, _source_notebooks(inst, unit))
        templates = _SharedTemplate.start_all(specs) if opts.warm_kernels and opts.sandbox else {}
        try:
            return _autograde(inst, unit, students, opts, specs, templates)
        finally:
            for template in templates.values():
                template.close()


def _autograde(inst, unit, students, opts: RunOptions, specs, templates) -> Summary:
    all_students = inst.submitted_students(unit)
    if students:
        missing = [s for s in students if s not in all_students]
        if missing:
            raise CourseError(f"no submission of {unit} for {', '.join(missing)} under {inst.root / 'submitted'}")
        todo_students = list(students)
    else:
        todo_students = all_students
    summary = Summary(unit, total=len(todo_students))
    t0 = time.monotonic()
    with inst.gradebook() as gb:
        fingerprint = assignment_fingerprint(gb, unit)
        notebooks = sorted(nb.name for nb in gb.find_assignment(unit).notebooks)
        hidden_cells = tuple(c.name for nb in gb.find_assignment(unit).notebooks for c in nb.source_cells
                             if hidden_regions(c.source or ""))
    state = load_state(inst, unit)
    hashes, todo = {}, []
    for s in todo_students:
        hashes[s] = submission_hash(inst.submitted_dir(s, unit), extra=fingerprint)
        prev = state.get(s)
        if not opts.force and prev is not None and prev[0] == hashes[s]:
            summary.skipped += 1
            summary.records.append(Record(s, "skipped"))
        else:
            todo.append(s)
    if not todo:
        summary.seconds = time.monotonic() - t0
        summary.executor = "nothing to do"
        return summary
    # Longest first (LPT scheduling): a worked notebook takes longer to grade than a blank or broken
    # one, and the run ends when its last notebook does. Started last, the short ones fill the gaps
    # instead of leaving a worker idle at the end while another grades a long one.
    todo.sort(key=lambda s: submission_bytes(inst.submitted_dir(s, unit)), reverse=True)

    grading_dir = inst.root / ".grading"
    if opts.sandbox:
        reap_orphans()  # kernels of an earlier run that was killed

    reap_stale_workdirs()  # and its workers' private directories
    snap_url = make_snapshot(inst, grading_dir / f"snapshot-{unit}-{os.getpid()}.db")

    try:
        executor = make_executor(min(opts.worker_count, len(todo)) if not (opts.cluster or opts.scheduler)
                                 else opts.worker_count, cluster=opts.cluster, scheduler=opts.scheduler,
                                 log_dir=str(grading_dir / "logs"))
    except (ValueError, OSError) as exc:
        raise CourseError(f"cannot start the executor: {exc}") from None
    except Exception as exc:
        raise CourseError(f"cannot reach the Dask scheduler {opts.scheduler}: {exc.__class__.__name__}: {exc}") \
            from None
    return _run_jobs(inst, unit, summary, t0, executor, snap_url, todo, notebooks, opts, hidden_cells, specs,
                     templates, hashes)


class _SharedTemplate:
    """The grading run's kernel template (forkserver.ForkServer listening on a Unix socket): the
    course's imports (PyTorch among them) done once for all workers instead of once per worker.
    Workers that cannot reach it (another machine) start their own."""

    def __init__(self, server, directory: str):
        self.server, self.dir = server, directory
        self.socket = os.path.join(directory, "template.sock")

    @classmethod
    def start_all(cls, specs) -> dict:
        """One template per profile of the unit (its forbid tuple -> template), those that start."""
        out = {}
        for spec in specs.values():
            for prof in spec.profiles:
                if prof.forbid in out:
                    continue
                t = cls.start(kernel_modules(spec, prof))
                if t is not None:
                    out[prof.forbid] = t
        return out

    @classmethod
    def start(cls, modules) -> _SharedTemplate | None:
        if not supported():
            return None
        d = tempfile.mkdtemp(prefix="course-template-")  # 0700: the grader's alone
        try:
            return cls(ForkServer(tuple(modules), listen=os.path.join(d, "template.sock")), d)
        except OSError:
            shutil.rmtree(d, ignore_errors=True)
            return None

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _run_jobs(inst, unit, summary, t0, executor, snap_url, todo, notebooks, opts: RunOptions, hidden_cells,
              specs, templates, hashes) -> Summary:
    summary.executor = executor.describe()
    remote = getattr(executor, "remote", False)
    snapshot_bytes = Path(snap_url[len("sqlite:///"):]).read_bytes() if remote and snap_url.startswith("sqlite") else None
    jobs, futures = {}, {}
    hide = _hidden_paths(inst)
    try:
        for s in todo:
            job = GradeJob(
                student=s, unit=unit,
                submission_dir=str(inst.submitted_dir(s, unit)),
                source_dir=str(inst.source_dir / unit),
                notebooks=notebooks, db_url=snap_url, course_id=inst.course_id, options=opts,
                config=inst.config(), snapshot_bytes=snapshot_bytes, hidden_cells=hidden_cells, specs=specs,
                templates={k: t.socket for k, t in templates.items()}, hide=hide,
            )
            if remote:
                job.files = _read_files(inst.submitted_dir(s, unit))
            fut = executor.submit(grade_submission, job)
            jobs[fut] = (job, time.monotonic())
            futures[fut] = s
        bar = tqdm(total=len(todo), desc=f"grading {unit}", unit="nb", disable=not opts.progress,
                   file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
        with bar, open(inst.log_path, "a", encoding="utf-8") as logf:
            for fut in executor.as_completed(list(futures)):
                job, queued_at = jobs.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # the worker process itself died
                    result = GradeResult(job.student, unit)
                    result.notebooks.append(NotebookResult(
                        "*", "error", error=f"worker lost: {exc.__class__.__name__}: {exc}"[:300]))
                try:
                    record_result(inst, result, job, hashes[job.student])
                except Exception as exc:  # one submission's files must not end the run; it stays to do
                    result.notebooks = [NotebookResult("*", "error", error=f"could not record the result: "
                                                       f"{exc.__class__.__name__}: {exc}"[:300])]
                for line in _log_line(inst, result, queued_at):
                    logf.write(json.dumps(line) + "\n")
                logf.flush()
                ok = result.status == "ok"
                summary.graded += 1
                summary.failed += 0 if ok else 1
                summary.records.append(Record(job.student, result.status, result.timings.get("total_s", 0.0),
                                              result.error))
                bar.set_postfix_str(f"failures={summary.failed}", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        executor.cancel(list(jobs))
        executor.close(wait=False)
        raise
    else:
        executor.close()
    finally:
        with contextlib.suppress(OSError):
            if snap_url.startswith("sqlite:///") and snap_url != inst.db_url:
                os.unlink(snap_url[len("sqlite:///"):])
    summary.seconds = time.monotonic() - t0
    return summary


def _hidden_paths(inst: Instance) -> tuple[str, ...]:
    """What a submission's kernel must not see: the course's sources (solutions, hidden tests),
    its tests and mutants, its git history, and the instance (gradebook, other students' work)."""
    root = inst.course.root
    paths = [root / "solutions", root / "tests", root / ".git", inst.root]
    if inst.sqlite_path is not None:
        paths.append(inst.sqlite_path.parent)
    src = inst.source_dir
    if src.exists():
        paths.append(src.resolve())

    hidden = [str(p.resolve()) for p in paths if p.exists()]
    return tuple(dict.fromkeys(hidden + list(temp_dirs_to_hide((root, Path(course_lib.__file__).parent)))))


def _source_notebooks(inst: Instance, unit: str) -> list[str]:
    """Names of the unit's instructor notebooks (``source/<unit>/*.ipynb``)."""
    return sorted(p.stem for p in (inst.source_dir / unit).glob("*.ipynb"))


def _read_files(path: Path) -> dict[str, bytes]:
    out = {}
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not _ignored(d)]
        for f in files:
            if not _ignored(f):
                p = Path(root) / f
                out[str(p.relative_to(path))] = p.read_bytes()
    return out



"""The one writer: a graded submission's files and grades, recorded by the parent alone.

Workers never write the gradebook. For each result the parent puts the
autograded folder in place (swapped in atomically), then runs nbgrader's own
SaveAutoGrades and AssignLatePenalties on ONE session whose commit is deferred,
writes our resume state in the same transaction, and commits once: a kill at
any moment loses no grade and doubles none.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import warnings
from pathlib import Path
from unittest import mock

import nbformat
import nbgrader.preprocessors.latesubmissions as late_mod
import nbgrader.preprocessors.saveautogrades as save_mod
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
from sqlalchemy import delete, insert
from sqlalchemy.exc import SAWarning

from autograder.instance import Instance
from autograder.nbgrader_glue import quiet_logger
from autograder.pipeline.job import GradeJob, GradeResult
from autograder.pipeline.state import state_table
from autograder.pipeline.steps.intake import add_source_files, copy_tree

__all__ = ["record_result", "make_snapshot"]


class _Shared:
    """Hands nbgrader's preprocessors our open Gradebook instead of a new one.

    SaveAutoGrades and AssignLatePenalties each open their own Gradebook and
    commit per cell; we run them unchanged but on one session whose commit is
    deferred, so one submission is one transaction.
    """

    def __init__(self, gb):
        self.gb = gb

    def __call__(self, *args, **kwargs):
        return self

    def __enter__(self):
        return self.gb

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):
        return getattr(self.gb, name)


def _put_autograded(inst: Instance, result: GradeResult, job: GradeJob) -> None:
    """autograded/<student>/<unit>/: submitted files + source files + executed notebooks, swapped in atomically."""
    dest = inst.autograded_dir(result.student, result.unit)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{result.unit}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    sub = Path(job.submission_dir)
    if sub.is_dir():
        copy_tree(sub, tmp, job.max_file_size)
    add_source_files(Path(job.source_dir), tmp)
    for nbres in result.notebooks:
        if nbres.nb_json is not None:
            (tmp / f"{nbres.name}.ipynb").write_text(nbres.nb_json, encoding="utf-8")
        elif nbres.name != "*":
            # an unreadable submission has no autograded notebook; don't pass the raw file on as one
            # (a directory named like the notebook included)
            bad = tmp / f"{nbres.name}.ipynb"
            if bad.is_dir() and not bad.is_symlink():
                shutil.rmtree(bad)
            else:
                bad.unlink(missing_ok=True)
    old = dest.parent / f".{result.unit}.old-{os.getpid()}"
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    if old.exists():
        shutil.rmtree(old)


def record_result(inst: Instance, result: GradeResult, job: GradeJob, files_hash: str) -> None:
    """Write one submission's grades, late penalty and hash in a single transaction."""
    log, _ = quiet_logger("course.writer")   # nbgrader's warnings about a submission are the worker's to report
    cfg = inst.config()
    coursedir = CourseDirectory(config=cfg, log=log)
    timestamp = coursedir.get_existing_timestamp(job.submission_dir)
    _put_autograded(inst, result, job)
    t = state_table()
    with inst.gradebook() as gb, warnings.catch_warnings():
        # nbgrader's add_submission triggers SQLAlchemy autoflush warnings; harmless, and noisy over a bar
        warnings.simplefilter("ignore", category=SAWarning)
        session = gb.db
        real_commit = session.commit
        session.commit = session.flush  # nbgrader commits often; one transaction per submission
        shared = _Shared(gb)
        try:
            gb.update_or_create_student(result.student)
            if timestamp:
                gb.update_or_create_submission(result.unit, result.student, timestamp=timestamp)
            else:
                gb.update_or_create_submission(result.unit, result.student)
            for nbres in result.notebooks:
                if nbres.name == "*":
                    continue
                if nbres.nb_json is None:
                    # missing or unreadable: zero, as nbgrader does for a missing notebook
                    sub_nb = gb.find_submission_notebook(nbres.name, result.unit, result.student)
                    for grade in sub_nb.grades:
                        grade.auto_score = 0
                        grade.needs_manual_grade = False
                    continue
                nb = nbformat.reads(nbres.nb_json, as_version=4)
                resources = {"nbgrader": {"student": result.student, "assignment": result.unit,
                                          "notebook": nbres.name, "db_url": inst.db_url}}
                with mock.patch.object(save_mod, "Gradebook", shared), mock.patch.object(late_mod, "Gradebook", shared):
                    for cls in (SaveAutoGrades, AssignLatePenalties):
                        nb, resources = cls(config=cfg, log=log)(nb, resources)
            if any(n.name == "*" for n in result.notebooks):
                # the worker itself failed: leave earlier grades alone, record nothing as done
                session.rollback()
                return
            session.execute(delete(t).where(t.c.assignment == result.unit, t.c.student == result.student))
            session.execute(insert(t).values(
                assignment=result.unit, student=result.student, files_hash=files_hash,
                status=result.status, error=result.error, seconds=result.timings.get("total_s"),
                graded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
            real_commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.commit = real_commit


def make_snapshot(inst: Instance, dest: Path) -> str:
    """A read-only copy of the gradebook for the workers' OverwriteCells; returns its URL.

    SQLite: a consistent copy via sqlite3's backup API.  Other databases
    (PostgreSQL) serve concurrent readers well, so workers read them directly.
    """
    src = inst.sqlite_path
    if src is None:
        return inst.db_url
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        dest.unlink()
    with contextlib.closing(sqlite3.connect(str(src))) as a, contextlib.closing(sqlite3.connect(str(dest))) as b:
        a.backup(b)
    return "sqlite:///" + str(dest)



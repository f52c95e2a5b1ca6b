"""What a grading run remembers between runs, so it can resume: the hash of each graded submission.

A table of ours in the gradebook (``course_autograde_state``): per assignment and
student, the hash of the submitted files (and of the unit's registered source
cells), the status and the time.  A run skips a submission whose hash it already
recorded (unless ``force``); a re-registered unit changes the hash of everyone.
Also here: the run's lock (one run per instance) and the clean-up after a run
that was killed half-way through swapping a folder.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Float, MetaData, String, Table, Text, select

from autograder.course import CourseError
from autograder.instance import Instance
from autograder.pipeline.job import ignored as _ignored

if TYPE_CHECKING:
    from nbgrader.api import Gradebook
    from sqlalchemy import Table

__all__ = ["STATE_TABLE", "submission_hash", "submission_bytes", "assignment_fingerprint", "load_state",
           "run_lock", "tidy_after_killed_run", "state_table"]

STATE_TABLE = "course_autograde_state"


def state_table() -> Table:
    meta = MetaData()
    return Table(
        STATE_TABLE, meta,
        Column("assignment", String(128), primary_key=True),
        Column("student", String(128), primary_key=True),
        Column("files_hash", String(64), nullable=False),
        Column("status", String(32), nullable=False),
        Column("error", Text),
        Column("seconds", Float),
        Column("graded_at", String(40)),
    )


def submission_hash(path: Path, extra: str = "") -> str:
    """sha256 over the submission's relative file names and contents (ignored files excluded)."""
    h = hashlib.sha256(extra.encode())
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _ignored(d))
        for f in sorted(files):
            if _ignored(f):
                continue
            p = Path(root) / f
            h.update(str(p.relative_to(path)).encode() + b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def submission_bytes(path: Path) -> int:
    """Size of a submission's files: a cheap estimate of how long it takes to grade."""
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not _ignored(d)]
        for f in files:
            if not _ignored(f):
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(root, f)).st_size
    return total


def assignment_fingerprint(gb: Gradebook, unit: str) -> str:
    """Changes when the registered source cells change, so a re-registered unit is regraded."""
    a = gb.find_assignment(unit)
    parts = []
    for nb in sorted(a.notebooks, key=lambda n: n.name):
        for c in sorted(nb.source_cells, key=lambda c: c.name):
            parts.append(f"{nb.name}/{c.name}/{c.checksum}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_state(inst: Instance, unit: str) -> dict[str, tuple[str, str]]:
    t = state_table()
    with inst.gradebook() as gb:
        t.metadata.create_all(gb.engine)
        rows = gb.db.execute(select(t.c.student, t.c.files_hash, t.c.status).where(t.c.assignment == unit))
        return {r.student: (r.files_hash, r.status) for r in rows}


@contextlib.contextmanager
def run_lock(inst: Instance) -> Iterator[None]:
    """One autograde run per instance at a time: the gradebook has one writer.

    flock, not a pid file: the kernel drops the lock when the holder dies, so a
    killed run never leaves the instance locked.
    """
    lock_dir = inst.root / ".grading"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "autograde.lock", "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise CourseError(f"another `course autograde` is running on {inst.root} ({holder}); "
                              "wait for it to finish, or stop it and run again (it resumes)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()


def tidy_after_killed_run(inst: Instance, unit: str) -> None:
    """Undo what a run killed half-way through swapping an autograded folder left behind.

    Called under the run lock, so every temporary folder found is stale. A
    folder moved aside (.old-) whose replacement never arrived goes back; the
    gradebook was not yet written for it, so the grade and the folder agree.
    """
    root = inst.root / "autograded"
    if not root.is_dir():
        return
    for student_dir in root.iterdir():
        if not student_dir.is_dir():
            continue
        for p in list(student_dir.glob(f".{unit}.old-*")) + list(student_dir.glob(f".{unit}.tmp-*")):
            dest = student_dir / unit
            if ".old-" in p.name and not dest.exists():
                p.rename(dest)
            else:
                shutil.rmtree(p, ignore_errors=True)
    for snap in (inst.root / ".grading").glob(f"snapshot-{unit}-*.db"):
        snap.unlink(missing_ok=True)



"""A course instance: nbgrader's course directory for grading, outside the tracked tree.

Layout (``<repo>/instance`` by default, ``--instance DIR`` or ``$COURSE_INSTANCE``)::

    nbgrader_config.py        so `nbgrader formgrader` / `nbgrader autograde` work here too
    gradebook.db              SQLite gradebook (or any SQLAlchemy URL via db_url)
    source -> <repo>/solutions
    release/<unit>/           what generate_assignment produced when the unit was registered
    submitted/<student>/<unit>/
    autograded/<student>/<unit>/
    feedback/<student>/<unit>/
    grades.csv, grading-log.jsonl
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.course import Course, CourseError, ensure_bin_on_path
from autograder.nbgrader_glue import generate_assignment, nbgrader_config

if TYPE_CHECKING:
    # lazy: nbgrader and SQLAlchemy load when the gradebook is opened
    from nbgrader.api import Gradebook
    from traitlets.config import Config

INSTANCE_CONFIG = '''\
# Written by `course init`: nbgrader's view of this course instance, so that
# nbgrader's own apps (formgrader, autograde, export) work on it too.
import os
c = get_config()  # noqa: F821
_here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _here
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = {db_url}
'''


def default_instance_dir(course: Course) -> Path:
    return Path(os.environ.get("COURSE_INSTANCE") or course.root / "instance")


class Instance:
    """A course instance: ``Instance(root, db_url=None, course=None)``.

    ``root``: the instance directory; ``db_url``: any SQLAlchemy URL (default
    ``sqlite:///<root>/gradebook.db``); ``course``: the Course whose
    ``solutions/`` are graded (default: found from the cwd).

    Typical use::

        inst = Instance("instance").init(["01_linear_classifiers"])
        inst.add_student("s001", first_name="Ada", last_name="Lovelace")
        inst.import_submission("s001", "01_linear_classifiers", "path/to/dir_or_notebook")
    """

    def __init__(self, root: str | os.PathLike, db_url: str | None = None, course: Course | None = None):
        self.course = course or Course.find()
        self.root = Path(root).resolve()
        self.db_url = db_url or "sqlite:///" + str(self.root / "gradebook.db")

        self._cfg = nbgrader_config(self.course.root)
        cid = self._cfg.CourseDirectory.get("course_id")
        self.course_id = cid if isinstance(cid, str) and cid else "default_course"

    # -------------------------------------------------------------- paths
    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        # lazy: an Instance is the light handle every command makes; SQLAlchemy loads when a database is used
        from sqlalchemy.engine import make_url

        db = make_url(self.db_url).database
        return Path(db) if db and db != ":memory:" else None

    def submitted_dir(self, student: str, unit: str) -> Path:
        return self.root / "submitted" / student / unit

    def autograded_dir(self, student: str, unit: str) -> Path:
        return self.root / "autograded" / student / unit

    def feedback_dir(self, student: str, unit: str) -> Path:
        return self.root / "feedback" / student / unit

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def log_path(self) -> Path:
        return self.root / "grading-log.jsonl"

    def config(self) -> Config:
        """The traitlets Config for nbgrader converters working on this instance."""
        return nbgrader_config(
            self.course.root,
            root=str(self.root),
            source_directory="source",
            release_directory="release",
            submitted_directory="submitted",
            autograded_directory="autograded",
            feedback_directory="feedback",
            db_url=self.db_url,
        )

    # -------------------------------------------------------------- set-up
    def exists(self) -> bool:
        return self.root.is_dir()

    def require(self) -> Instance:
        """Raise CourseError unless the instance and its gradebook exist."""
        if not self.root.is_dir():
            raise CourseError(f"no course instance at {self.root}; run `course init` first (or pass --instance)")
        p = self.sqlite_path
        if self.is_sqlite and (p is None or not p.is_file()):
            raise CourseError(f"no gradebook at {p}; run `course init` first (or pass --db)")
        self.check_db()
        return self

    def check_db(self) -> None:
        """Open the gradebook once; a bad URL or unreachable server becomes a CourseError."""
        try:
            with self.gradebook():
                pass
        except CourseError:
            raise
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise CourseError(f"cannot open gradebook {self.db_url}: {msg}") from None

    @contextlib.contextmanager
    def gradebook(self) -> Iterator[Gradebook]:
        """An nbgrader ``Gradebook`` on this instance's database (context manager)."""
        ensure_bin_on_path()
        # lazy: nbgrader and SQLAlchemy load when the gradebook is opened
        from nbgrader.api import Gradebook

        try:
            # lazy: an Instance is the light handle every command makes; SQLAlchemy loads when a database is used
            from sqlalchemy.engine import make_url

            make_url(self.db_url)
        except Exception:
            raise CourseError(f"bad database URL {self.db_url!r}") from None
        gb = Gradebook(self.db_url, self.course_id)
        try:
            yield gb
        finally:
            gb.close()

    def init(self, units: list[str] | None = None, force: bool = True) -> Instance:
        """Create the instance dirs and gradebook and register ``units`` (default: all).

        Registering runs nbgrader's generate_assignment in the instance, which
        stores the full source cells (hidden tests included) in the gradebook;
        autograde restores locked cells from there.
        """
        units = self.course.check_units(units)
        for sub in ("submitted", "autograded", "feedback", "release"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        src = self.source_dir
        if not src.exists():
            try:
                src.symlink_to(self.course.solutions, target_is_directory=True)
            except OSError:
                shutil.copytree(self.course.solutions, src)
        db_literal = (
            'os.path.join("sqlite:///" + _here, "gradebook.db")'
            if self.db_url == "sqlite:///" + str(self.root / "gradebook.db")
            else repr(self.db_url)
        )
        (self.root / "nbgrader_config.py").write_text(
            INSTANCE_CONFIG.format(course_id=self.course_id, db_url=db_literal)
        )
        self.check_db()
        for unit in units:
            self.register(unit)
        return self

    def register(self, unit: str) -> None:
        """Run generate_assignment for ``unit`` in the instance (stores source cells in the gradebook)."""
        generate_assignment(self.config(), unit, force=True)

    def is_registered(self, unit: str) -> bool:
        # lazy: nbgrader loads when the gradebook is opened, not when an Instance is made
        from nbgrader.api import MissingEntry

        with self.gradebook() as gb:
            try:
                a = gb.find_assignment(unit)
            except MissingEntry:
                return False
            return len(a.notebooks) > 0

    def ensure_registered(self, unit: str) -> None:
        """Register ``unit`` unless the gradebook has it already (implicit set-up)."""
        self.course.check_units([unit])
        if not self.is_registered(unit):
            self.register(unit)

    # -------------------------------------------------------------- students and submissions
    def add_student(self, student_id: str, first_name: str | None = None,
                    last_name: str | None = None, email: str | None = None) -> None:
        """Create or update a student in the gradebook."""
        with self.gradebook() as gb:
            gb.update_or_create_student(student_id, first_name=first_name, last_name=last_name, email=email)

    def import_submission(self, student_id: str, unit: str, src: str | os.PathLike,
                          timestamp: datetime | str | None = None) -> Path:
        """Copy a submission (a directory, or a single notebook) to ``submitted/<student>/<unit>/``.

        Replaces an earlier submission.  ``timestamp`` is written to
        ``timestamp.txt`` as nbgrader's collect does (late penalties use it).
        """
        src = Path(src)
        dest = self.submitted_dir(student_id, unit)
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            dest.mkdir()
            name = src.name if src.suffix == ".ipynb" and src.stem == unit else f"{unit}.ipynb"
            shutil.copyfile(src, dest / name)
        if timestamp is not None:
            ts = timestamp.isoformat(sep=" ") if isinstance(timestamp, datetime) else str(timestamp)
            (dest / "timestamp.txt").write_text(ts)
        return dest

    def submitted_students(self, unit: str) -> list[str]:
        """Students with a directory ``submitted/<student>/<unit>/``."""
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(d.name for d in base.iterdir() if (d / unit).is_dir())

    def notebooks(self, unit: str) -> list[str]:
        """Notebook names (without .ipynb) of ``unit`` as registered in the gradebook."""
        with self.gradebook() as gb:
            return sorted(nb.name for nb in gb.find_assignment(unit).notebooks)


def grades_table(inst: Instance, unit: str) -> list[dict]:
    """Per student: score, max_score and per-task auto scores (``task99_1`` from grade cell ``test_task99_1``)."""
    # lazy: nbgrader loads when the gradebook is opened, not when an Instance is made
    from nbgrader.api import MissingEntry

    from autograder.cells import task_name  # lazy: cells imports nbgrader.utils (seconds), as above

    rows = []
    with inst.gradebook() as gb:
        a = gb.find_assignment(unit)
        for student in sorted(gb.students, key=lambda s: s.id):
            try:
                sub = gb.find_submission(unit, student.id)
            except MissingEntry:
                continue
            tasks = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    tasks[task_name(g.name)] = (g.score, g.max_score)
            rows.append({"student": student.id, "score": sub.score, "max_score": sub.max_score,
                         "penalty": sub.late_submission_penalty or 0.0, "tasks": tasks,
                         "first_name": student.first_name, "last_name": student.last_name})
        _ = a
    return rows

"""Where the course lives: its root, its units, and the nbgrader config for them.

A *course root* is the directory holding ``nbgrader_config.py`` and
``solutions/``.  Each unit ``NN_name`` has one nbgrader source notebook
``solutions/NN_name/NN_name.ipynb`` and a committed student release in
``notebooks/assignments/NN_name/``.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+$")
RELEASE_DIR = Path("notebooks") / "assignments"
SOLUTIONS_DIR = Path("solutions")


class CourseError(Exception):
    """A user-facing error: the CLI prints it as one line, never a traceback."""


def ensure_bin_on_path() -> None:
    """Put the interpreter's bin dir first on PATH.

    nbgrader runs the ``alembic`` executable through a subprocess when it
    creates a gradebook, so the virtualenv's bin dir must be on PATH even
    when ``course`` is called by its full path without activating the venv.
    """
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in parts if p != bindir])


def find_root(start: str | os.PathLike | None = None) -> Path:
    """Walk up from ``start`` (default: cwd) to the directory with nbgrader_config.py and solutions/."""
    here = Path(start or os.getcwd()).resolve()
    for d in [here, *here.parents]:
        if (d / "nbgrader_config.py").is_file() and (d / SOLUTIONS_DIR).is_dir():
            return d
    raise CourseError(
        f"no course root found above {here} (a directory holding nbgrader_config.py and solutions/); use --root"
    )


@dataclass(frozen=True)
class Course:
    """A course checkout: ``Course(root)``; ``units()`` lists unit ids; ``source_notebook(unit)``."""

    root: Path

    @classmethod
    def find(cls, root: str | os.PathLike | None = None) -> Course:
        if root is not None:
            r = Path(root).resolve()
            if not (r / SOLUTIONS_DIR).is_dir():
                raise CourseError(f"{r} is not a course root (no solutions/ directory)")
            return cls(r)
        return cls(find_root())

    @property
    def solutions(self) -> Path:
        return self.root / SOLUTIONS_DIR

    @property
    def release(self) -> Path:
        return self.root / RELEASE_DIR

    def units(self) -> list[str]:
        """Unit ids (``NN_name``) that have a source notebook ``solutions/NN_name/NN_name.ipynb``."""
        if not self.solutions.is_dir():
            return []
        return sorted(
            d.name for d in self.solutions.iterdir()
            if d.is_dir() and UNIT_RE.match(d.name) and (d / f"{d.name}.ipynb").is_file()
        )

    def check_units(self, units: list[str] | None) -> list[str]:
        """Return ``units`` (default: all), raising CourseError naming the known ones on an unknown id."""
        known = self.units()
        if not units:
            if not known:
                raise CourseError(f"no units found in {self.solutions}")
            return known
        bad = [u for u in units if u not in known]
        if bad:
            raise CourseError(
                f"unknown unit {', '.join(bad)}; known units: {', '.join(known) or '(none)'}"
            )
        return list(units)

    def source_notebook(self, unit: str) -> Path:
        return self.solutions / unit / f"{unit}.ipynb"

    def unit_number(self, unit: str) -> int:
        return int(unit[:2])

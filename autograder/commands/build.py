"""``course build``: regenerate the student release from ``solutions/`` with nbgrader.

nbgrader's GenerateAssignment does the work (clear solutions, lock cells,
checksums, clear hidden tests).  What we add around it:

* ``NameStubs``, one preprocessor right after ClearSolutions, so a stub says
  which task it is (``raise NotImplementedError("task1_3: implement ... here")``);
  nbgrader's stub is one fixed string for every cell.
* a throwaway gradebook, so building never leaves a gradebook.db in the repo;
* ``check_release``: rebuild into a temp dir and compare with the committed
  release (nbgrader has no such check);
* a cheap unit-contract check (points sum to 100, task/test ids pair up, no
  solution or hidden-test text in the release).
"""
from __future__ import annotations

import filecmp
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder.cells import MARKERS, course_metadata, hidden_regions, nbgrader_metadata, task_name, test_id, without_hidden
from autograder.course import Course, CourseError
from autograder.nbgrader_glue import generate_assignment, nbgrader_config

if TYPE_CHECKING:
    from nbformat import NotebookNode

TASK_RE = re.compile(r"^task(\d+)_(\d+)$")


# ---------------------------------------------------------------- contract


def check_source(path: Path, unit: str) -> list[str]:
    """Cheap unit-contract checks on a source notebook; returns problems (empty: fine)."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:
        return [f"{path.name}: not a readable notebook ({exc.__class__.__name__}: {exc})"]
    problems = []
    unit_no = int(unit[:2])
    cells = nb.cells
    if not cells or nbgrader_metadata(cells[0]).get("grade_id") != "setup" \
            or not nbgrader_metadata(cells[0]).get("locked"):
        problems.append("first cell must be the locked setup cell (grade_id 'setup')")
    tasks, tests, points = [], {}, 0.0
    for cell in cells:
        nbg = nbgrader_metadata(cell)
        gid = nbg.get("grade_id", "")
        if nbg.get("solution") and not nbg.get("grade"):
            m = TASK_RE.match(gid)
            if m:
                tasks.append(gid)
                if int(m.group(1)) != unit_no:
                    problems.append(f"{gid}: task id does not match unit number {unit_no}")
                course_task = course_metadata(cell).get("task")
                if course_task and course_task != gid:
                    problems.append(f"{gid}: course.task metadata says {course_task}")
        if nbg.get("grade"):
            points += float(nbg.get("points", 0) or 0)
            tests[gid] = float(nbg.get("points", 0) or 0)
    for t in tasks:
        if test_id(t) not in tests:
            problems.append(f"{t}: no grade cell {test_id(t)}")
    for gid in tests:
        task = task_name(gid)
        if task != gid and task.startswith("task") and task not in tasks:
            problems.append(f"{gid}: no solution cell {task}")
    if abs(points - 100) > 1e-9:
        problems.append(f"points sum to {points:g}, not 100")
    return problems


def check_release_text(source_nb: Path, release_nb: Path) -> list[str]:
    """No solution markers or hidden-test text may reach the student release."""
    text = release_nb.read_text(encoding="utf-8")
    problems = [f"{release_nb.name}: contains '{m}'" for m in MARKERS if m in text]
    rel = nbformat.read(str(release_nb), as_version=4)
    rel_src = "\n".join(c.source for c in rel.cells)
    src = nbformat.read(str(source_nb), as_version=4)
    for cell in src.cells:
        for region in hidden_regions(cell.source):
            for line in region.split("\n"):
                s = line.strip()
                # only distinctive lines: short ones may also appear in visible tests
                if len(s) > 30 and not s.startswith("#") and s in rel_src and s not in _visible(src):
                    problems.append(f"{release_nb.name}: hidden test line leaked: {s[:60]}")
    return problems


def _visible(src_nb: NotebookNode) -> str:
    return "\n".join(without_hidden(cell.source) for cell in src_nb.cells)


# ---------------------------------------------------------------- build / check


@dataclass
class BuildReport:
    units: list[str]
    dest: Path
    files: list[Path] = field(default_factory=list)


def build_into(course: Course, units: list[str], dest: Path) -> BuildReport:
    """Build the release of ``units`` into ``dest/<unit>/`` (replacing those dirs)."""
    for unit in units:
        problems = check_source(course.source_notebook(unit), unit)
        if problems:
            raise CourseError(f"{unit}: " + "; ".join(problems))
    report = BuildReport(units, dest)
    with tempfile.TemporaryDirectory(prefix="course-build-") as tmp_name:
        tmp = Path(tmp_name)
        cfg = nbgrader_config(
            course.root,
            root=str(tmp),
            source_directory=str(course.solutions),
            release_directory=str(tmp / "release"),
            db_url="sqlite:///" + str(tmp / "gradebook.db"),
        )
        for unit in units:
            generate_assignment(cfg, unit)
            out = tmp / "release" / unit
            problems = []
            for nb in sorted(out.glob("*.ipynb")):
                problems += check_release_text(course.solutions / unit / nb.name, nb)
            if problems:
                raise CourseError(f"{unit}: " + "; ".join(problems))
            target = dest / unit
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(out, target, copy_function=shutil.copyfile)
            report.files += sorted(p for p in target.rglob("*") if p.is_file())
    return report


def build(course: Course, units: list[str] | None = None) -> BuildReport:
    """Regenerate ``notebooks/assignments/<unit>/`` for ``units`` (default: all)."""
    units = course.check_units(units)
    return build_into(course, units, course.release)


def check_release(course: Course, units: list[str] | None = None) -> list[str]:
    """Rebuild into a temp dir and compare with the committed release.

    Returns one line per differing / missing / extra file (empty: up to date).
    With no ``units``, also reports release dirs that have no source unit.
    """
    all_units = units is None or len(units) == 0
    units = course.check_units(units)
    problems = []
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        fresh = Path(tmp)
        build_into(course, units, fresh)
        for unit in units:
            new_dir, old_dir = fresh / unit, course.release / unit
            new = {p.relative_to(new_dir) for p in new_dir.rglob("*") if p.is_file()}
            old = {p.relative_to(old_dir) for p in old_dir.rglob("*") if p.is_file()} if old_dir.is_dir() else set()
            rel = lambda p, unit=unit: (Path(os.path.relpath(course.release, course.root)) / unit / p).as_posix()
            for p in sorted(new - old):
                problems.append(f"missing: {rel(p)}")
            for p in sorted(old - new):
                problems.append(f"extra: {rel(p)}")
            for p in sorted(new & old):
                if not filecmp.cmp(new_dir / p, old_dir / p, shallow=False):
                    problems.append(f"differs: {rel(p)}")
    if all_units and course.release.is_dir():
        for d in sorted(course.release.iterdir()):
            if d.is_dir() and d.name not in units:
                problems.append(f"extra: {Path(os.path.relpath(d, course.root)).as_posix()}/ (no solutions/{d.name})")
    return problems


def release_to_exchange(config_dir: str | os.PathLike = ".") -> list[str]:
    """Put the committed release of every unit into the nbgrader exchange that
    ``<config_dir>/nbgrader_config.py`` names (``make lab``), replacing an older copy, so that the
    Assignments tab lists it. nbgrader's own release_assignment, all units in one process.
    Returns the units released; raises CourseError naming a unit nbgrader could not release."""
    # lazy: nbgrader.apps loads every nbgrader application (seconds); only `make lab-release` needs it
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(config_dir)).load_config()
    cfg.ExchangeReleaseAssignment.force = True
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    release = Path(api.coursedir.root) / api.coursedir.release_directory
    units = sorted(p.name for p in release.iterdir() if p.is_dir()) if release.is_dir() else []
    for unit in units:
        res = api.release_assignment(unit)
        if not res["success"]:
            raise CourseError(f"nbgrader could not release {unit}: {res.get('error') or res.get('log')}")
        print(f"released {unit} to {cfg.Exchange.root}")
    return units

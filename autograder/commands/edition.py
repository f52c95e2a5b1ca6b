"""``course edition``: the student edition of the course, as a folder or a zip.

Students get the lectures, the committed release of the assignments, ``course_lib`` (the
verified library the lectures call), the environment files and a README with the two commands
they need. They never get ``solutions/``, the tests and their mutants, the rubrics, the
benchmarks or the grader. The edition is checked after it is written (``leaks``): no nbgrader
solution or hidden-test marker anywhere, no distinctive line of a hidden test or of a written
question's rubric in any file, and no three consecutive lines of a solution region in any
notebook; a leak deletes what was written and raises.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
from pathlib import Path

import nbformat

from autograder.cells import MARKERS, hidden_regions, is_written_question, outside_regions, solution_regions
from autograder.course import Course, CourseError

# What a student's machine needs: the library's and the notebooks' imports, Jupyter and
# nbgrader (its Validate button). The grader's, the tests' and the linters' packages stay out.
STUDENT_PACKAGES = ("numpy", "scipy", "torch", "matplotlib", "scikit-learn", "jupyterlab", "notebook",
                    "nbgrader", "nbclient", "nbconvert", "nbformat", "ipykernel", "ipywidgets", "tqdm",
                    "psutil")
SKIP = ("__pycache__", ".ipynb_checkpoints")

README = """# {title}: the student edition

Lectures to read and play with, and assignments to fill in and hand in. Everything runs offline
on a laptop CPU (Linux or macOS, Python 3.11) and uses a GPU when there is one.

```bash
make setup   # creates .venv and installs the pinned packages (PyTorch 2.13.0 among them; a few minutes)
make lab     # opens JupyterLab on notebooks/
```

- `notebooks/lectures/`: one lecture per unit, with explorers (sliders) and exercises.
- `notebooks/assignments/NN_name/NN_name.ipynb`: the assignments. Fill in each
  `raise NotImplementedError(...)` and the written answers; the **Validate** button (or
  `.venv/bin/nbgrader validate notebooks/assignments/NN_name/NN_name.ipynb`) runs the visible tests.
  Hidden tests grade what you hand in: every bar they apply is stated in the task's text.
- `course_lib/`: the library the lectures call. A task that hands its work to `course_lib` or to
  a library the task names (for example PyTorch in a NumPy task) scores 0: the grader's kernel
  for that task cannot import them.

Units: {units}.
"""

MAKEFILE = """# The two commands of the student edition: `make setup`, then `make lab`.
PYTHON ?= python3
BIN := .venv/bin
# more options for jupyter lab, e.g. `make lab LAB_ARGS=--no-browser`
LAB_ARGS ?=

setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
\t@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"' \\
\t  || {{ echo "error: set PYTHON=/path/to/python3.11 (make PYTHON=python3.11 setup)"; exit 1; }}
\ttest -x $(BIN)/python || $(PYTHON) -m venv .venv
\t$(BIN)/python -m pip install --quiet --upgrade pip
\t# torch first and alone, pinned, so pip takes the CPU wheel and never the CUDA build
\t$(BIN)/python -m pip install --quiet {torch}
\t$(BIN)/python -m pip install --quiet -e .
\ttouch $(BIN)/.installed

lab: setup
\tPATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" \\
\t  --ServerApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

.PHONY: setup lab
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "dl-course"
version = "{version}"
description = "The student edition of a deep-learning course in Jupyter."
requires-python = ">=3.11,<3.12"
# Exact pins, the same as the instructors' and the grader's; torch is the CPU wheel's version.
dependencies = [
{deps}
]

[tool.setuptools.packages.find]
include = ["course_lib*"]

[tool.setuptools.package-data]
course_lib = ["data/*.npz"]
"""

ENVIRONMENT = """# conda env create -f environment.yml && conda activate dl-course && pip install --no-deps -e .
name: dl-course
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
{deps}
"""

NBGRADER_CONFIG = """# nbgrader in the student edition: the Validate button and `nbgrader validate` need no more.
c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
c.CourseDirectory.course_id = "dl-course"
"""


def _pins(course: Course) -> tuple[str, list[str]]:
    meta = tomllib.loads((course.root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {re.split(r"[=<>!~ ]", d, maxsplit=1)[0].lower(): d for d in meta["dependencies"]}
    missing = [p for p in STUDENT_PACKAGES if p not in pins]
    if missing:
        raise CourseError(f"pyproject.toml pins no version of {', '.join(missing)}, which the student edition needs")
    return meta.get("version", "0"), [pins[p] for p in STUDENT_PACKAGES]


def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*SKIP, "*.pyc"), dirs_exist_ok=True)


def write_edition(course: Course, dest: Path) -> list[Path]:
    """Write the student edition into the empty or new folder ``dest``; returns the files written."""
    if dest.exists() and any(dest.iterdir()):
        raise CourseError(f"{dest} is not empty: give a new or empty folder for the student edition")
    units = course.units()
    missing = [u for u in units if not (course.release / u / f"{u}.ipynb").is_file()]
    if missing:
        raise CourseError(f"no student release of {', '.join(missing)}: run `course build` first")
    dest.mkdir(parents=True, exist_ok=True)
    _copy_tree(course.root / "course_lib", dest / "course_lib")
    _copy_tree(course.root / "notebooks" / "lectures", dest / "notebooks" / "lectures")
    for u in units:
        _copy_tree(course.release / u, dest / "notebooks" / "assignments" / u)
    version, deps = _pins(course)
    torch = next(d for d in deps if d.startswith("torch"))
    (dest / "pyproject.toml").write_text(PYPROJECT.format(
        version=version, deps="\n".join(f'    "{d}",' for d in deps)), encoding="utf-8")
    (dest / "environment.yml").write_text(ENVIRONMENT.format(
        deps="\n".join(f"      - {d}" for d in deps)), encoding="utf-8")
    (dest / "Makefile").write_text(MAKEFILE.format(torch=torch), encoding="utf-8")
    (dest / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    (dest / "README.md").write_text(README.format(
        title="A deep-learning course in Jupyter", units=", ".join(f"`{u}`" for u in units)), encoding="utf-8")
    return sorted(p for p in dest.rglob("*") if p.is_file())


def _distinctive(lines: list[str]) -> list[str]:
    # short lines (`return out`, `assert ok`) also appear in visible code; only long ones identify a test
    return [s for s in (ln.strip() for ln in lines) if len(s) > 30 and not s.startswith("#")]


def _code(lines: list[str]) -> list[str]:
    return [s for s in (ln.strip() for ln in lines) if s and not s.startswith("#")]


def leaks(course: Course, edition: Path) -> list[str]:
    """What of the instructor's material is in ``edition``, file by file: an nbgrader marker; two
    consecutive code lines of a hidden test; a distinctive line of a written question's rubric;
    three consecutive code lines of a solution region in a notebook. Single code lines are not
    counted: one-liners such as ``x = rng.standard_normal((N, D))`` also appear in lectures."""
    hidden_pairs: set[tuple[str, str]] = set()
    rubric: set[str] = set()
    runs: set[tuple[str, str, str]] = set()
    visible: set[str] = set()
    for u in course.units():
        for cell in nbformat.read(str(course.source_notebook(u)), as_version=4).cells:
            for region in hidden_regions(cell.source):
                code = _code(region.split("\n"))
                hidden_pairs.update(zip(code, code[1:]))
            for region in solution_regions(cell.source):
                lines = region.split("\n")
                if is_written_question(cell):
                    rubric.update(_distinctive(lines))
                else:
                    code = _code(lines)
                    runs.update(zip(code, code[1:], code[2:]))
            visible.update(_code(outside_regions(cell.source)))
    # what the student is shown anyway (visible tests, task texts, the library's own code, which the
    # edition ships: a training loop's `opt.zero_grad()`, `loss.backward()`, `opt.step()`) is no secret
    hidden_pairs = {(a, b) for a, b in hidden_pairs if not (a in visible and b in visible)}
    rubric -= visible
    for py in sorted((course.root / "course_lib").rglob("*.py")):
        code = _code(py.read_text(encoding="utf-8").split("\n"))
        runs -= set(zip(code, code[1:], code[2:]))
    found = []
    for path in sorted(p for p in edition.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(edition)
        found += [f"{rel}: nbgrader marker '{m}'" for m in MARKERS if m in text]
        if path.suffix == ".ipynb":
            cells = nbformat.reads(text, as_version=4).cells
            blocks = [c.source.split("\n") for c in cells]
            code = [ln for c in cells if c.cell_type == "code" for ln in _code(c.source.split("\n"))]
            found += [f"{rel}: three lines of a solution: {a[:50]}"
                      for a, b, c in zip(code, code[1:], code[2:]) if (a, b, c) in runs]
        else:
            blocks = [text.split("\n")]
        for block in blocks:
            code = _code(block)
            found += [f"{rel}: two lines of a hidden test: {a[:50]}" for a, b in zip(code, code[1:])
                      if (a, b) in hidden_pairs]
            found += [f"{rel}: a line of a rubric: {s[:60]}" for s in sorted(rubric & {ln.strip() for ln in block})]
    return found


def edition(course: Course, to: Path | None = None, zip_to: Path | None = None) -> Path:
    """Write the student edition to the folder ``to`` or the zip file ``zip_to``; returns its path.
    Raises CourseError (and writes nothing) when any of the instructor's material would leak."""
    if (to is None) == (zip_to is None):
        raise CourseError("give one of --to FOLDER or --zip FILE")
    with tempfile.TemporaryDirectory(prefix="course-edition-") as tmp:
        build = Path(tmp) / "dl-course"
        write_edition(course, build)
        found = leaks(course, build)
        if found:
            raise CourseError("the student edition would leak the instructor's material; nothing written:\n  "
                              + "\n  ".join(found[:20]))
        if zip_to is not None:
            zip_to = Path(zip_to)
            zip_to.parent.mkdir(parents=True, exist_ok=True)
            base = shutil.make_archive(str(Path(tmp) / "edition"), "zip", root_dir=tmp, base_dir="dl-course")
            shutil.move(base, zip_to)
            return zip_to
        assert to is not None
        if to.exists() and any(to.iterdir()):
            raise CourseError(f"{to} is not empty: give a new or empty folder for the student edition")
        to.mkdir(parents=True, exist_ok=True)
        shutil.copytree(build, to, dirs_exist_ok=True)
        return to

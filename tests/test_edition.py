"""The student edition (``course edition``) holds what students need and nothing of the instructor's.

Built from this repository, it is searched for every solution region, hidden test, rubric and
mutant of every unit; a planted leak is refused; and its README's two commands are run from a
clean copy (``make setup`` installs the pinned packages into its own venv; ``make lab`` serves).
"""
from __future__ import annotations

import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.commands.edition import _code, leaks
from autograder.course import Course, CourseError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def edition_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "dl-course"
    assert main(["--root", str(REPO), "edition", "--to", str(out)]) == 0
    return out


def test_it_holds_the_lectures_the_release_the_library_and_the_setup(edition_dir):
    course = Course(REPO)
    top = {p.name for p in edition_dir.iterdir()}
    assert top == {"README.md", "Makefile", "pyproject.toml", "environment.yml", "nbgrader_config.py",
                   "course_lib", "notebooks"}
    for u in course.units():
        assert (edition_dir / "notebooks" / "assignments" / u / f"{u}.ipynb").read_bytes() == \
            (course.release / u / f"{u}.ipynb").read_bytes()
    assert {p.name for p in (edition_dir / "notebooks" / "lectures").glob("*.ipynb")} == \
        {p.name for p in (REPO / "notebooks" / "lectures").glob("*.ipynb")}
    assert (edition_dir / "course_lib" / "data" / "digits_split.npz").is_file()
    assert not list(edition_dir.rglob("__pycache__"))
    readme = (edition_dir / "README.md").read_text()
    assert "make setup" in readme and "make lab" in readme
    assert '"torch==2.13.0"' in (edition_dir / "pyproject.toml").read_text()


def test_nothing_of_the_instructors_material_is_in_it(edition_dir):
    assert leaks(Course(REPO), edition_dir) == []
    names = {p.name for p in edition_dir.rglob("*")}
    assert not names & {"solutions", "tests", "mutants", "bench", "autograder", "tools", "docs", "instance"}
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in edition_dir.rglob("*") if p.is_file())
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text


def _runs(source: str) -> set[tuple[str, str, str]]:
    code = _code(source.split("\n"))
    return set(zip(code, code[1:], code[2:]))


def test_no_mutant_is_in_any_notebook_of_it(edition_dir):
    """Three consecutive code lines of a mutant or alternative that are not in the release (its stub
    and given skeleton are) nor in the shipped library (a training loop's last three lines are)
    appear in no notebook of the edition."""
    runs = set()
    shipped = set().union(*(_runs(p.read_text(encoding="utf-8")) for p in (edition_dir / "course_lib").rglob("*.py")))
    for path in sorted((REPO / "tests" / "mutants").glob("unit*.py")):
        mod = importlib.import_module(f"tests.mutants.{path.stem}")
        release = set().union(*(_runs(c.source) for c in nbformat.read(
            str(Course(REPO).release / mod.UNIT / mod.NOTEBOOK), as_version=4).cells))
        for m in [*mod.MUTANTS, *getattr(mod, "CORRECT_ALTERNATIVES", []), *getattr(mod, "SHORTCUTS", [])]:
            runs |= _runs(m.source) - release - shipped
    assert len(runs) > 100
    found = []
    for nb_path in edition_dir.rglob("*.ipynb"):
        for cell in nbformat.read(str(nb_path), as_version=4).cells:
            found += [f"{nb_path.name}: {r[0]}" for r in _runs(cell.source) & runs]
    assert not found, found[:5]


def test_a_leak_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    from autograder.commands import edition as E

    write = E.write_edition

    def leaky(course, dest):
        files = write(course, dest)
        shutil.copy(course.source_notebook(course.units()[0]), dest / "notebooks" / "oops.ipynb")
        return files

    monkeypatch.setattr(E, "write_edition", leaky)
    with pytest.raises(CourseError, match="would leak"):
        E.edition(Course(REPO), zip_to=tmp_path / "ed.zip")
    assert not (tmp_path / "ed.zip").exists()


def test_a_solutions_idiom_that_the_shipped_library_holds_is_no_leak(tmp_path):
    """Three lines of a solution count as a leak unless the library the edition ships has them too
    (lecture 05's training loops end as every PyTorch loop does, as course_lib.probes' does)."""
    dest = tmp_path / "ed"
    (dest / "notebooks").mkdir(parents=True)
    course = Course(REPO)
    solution = next(c.source for c in nbformat.read(str(course.source_notebook("03_cnn")), as_version=4).cells
                    if "opt.zero_grad()" in c.source and "BEGIN SOLUTION" in c.source)
    region = next(r.split("### END SOLUTION", 1)[0] for r in solution.split("### BEGIN SOLUTION")[1:]
                  if "opt.zero_grad()" in r.split("### END SOLUTION", 1)[0])
    lines = _code(region.split("\n"))
    i = lines.index("opt.zero_grad()")
    idiom = "\n".join(lines[i:i + 3])
    assert idiom == "opt.zero_grad()\nloss.backward()\nopt.step()"
    other = "\n".join(lines[:3])   # the region's first lines: no library has them
    for name, text in (("idiom", idiom), ("other", other)):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)]),
                       str(dest / "notebooks" / f"{name}.ipynb"))
    found = leaks(course, dest)
    assert found and all("other.ipynb" in f for f in found), found


def test_the_zip_has_one_top_folder_and_a_full_folder_is_refused(tmp_path, capsys):
    assert main(["--root", str(REPO), "edition", "--zip", str(tmp_path / "ed.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "ed.zip") as z:
        names = z.namelist()
    assert all(n.startswith("dl-course/") for n in names) and "dl-course/README.md" in names
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    assert main(["--root", str(REPO), "edition", "--to", str(tmp_path / "full")]) != 0
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_readmes_two_commands_work_from_a_clean_copy(edition_dir, tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(edition_dir, copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["PYTHON"] = f"{sys.base_prefix}/bin/python3.11" if Path(f"{sys.base_prefix}/bin/python3.11").exists() \
        else f"{sys.base_prefix}/bin/python3"
    readme = (copy / "README.md").read_text()
    commands = re.findall(r"^(make \w+)", readme, flags=re.M)
    assert commands == ["make setup", "make lab"]
    setup = subprocess.run(["make", "setup"], cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    py = copy / ".venv" / "bin" / "python"
    probe = subprocess.run([str(py), "-c", "import course_lib, sys; from course_lib.nn import affine_forward; "
                            "print(course_lib.__file__)"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert probe.returncode == 0 and str(copy) in probe.stdout, probe.stderr
    # Validate, as the student's button runs it: the stubs fail their visible tests, nothing crashes
    unit = Course(REPO).units()[0]
    val = subprocess.run([str(copy / ".venv" / "bin" / "nbgrader"), "validate",
                          f"notebooks/assignments/{unit}/{unit}.ipynb"], cwd=copy, capture_output=True, text=True,
                         env=env, timeout=600)
    assert "NotImplementedError" in val.stdout + val.stderr, val.stdout[-2000:] + val.stderr[-2000:]
    port = _free_port()
    # as root (CI), Jupyter wants --allow-root; a student's `make lab` needs nothing
    extra = ["LAB_ARGS=--allow-root --no-browser"] if os.geteuid() == 0 else ["LAB_ARGS=--no-browser"]
    lab = subprocess.Popen(["make", "lab", *extra], cwd=copy, env={**env, "JUPYTER_PORT": str(port), "JUPYTER_TOKEN": "t"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and status != 200:
            time.sleep(1)
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks/lectures?token=t",
                                                timeout=5).status
            except OSError:
                status = None
        assert status == 200, "make lab did not serve the notebooks within 120 s"
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(timeout=30)

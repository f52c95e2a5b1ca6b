"""`course build`: deterministic release, --check, named stubs, unit contract, no leaks (fixture course)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
import course_helpers as H

from autograder.cli import main
from autograder.commands import build
from autograder.course import Course, CourseError

REL = Path("notebooks/assignments") / H.UNIT / f"{H.UNIT}.ipynb"


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_build_is_deterministic_and_matches_the_committed_fixture_release(tmp_path):
    root = H.course_copy(tmp_path)
    committed = _files(root / "notebooks/assignments")
    assert main(["--root", str(root), "build"]) == 0
    first = _files(root / "notebooks/assignments")
    assert main(["--root", str(root), "build", H.UNIT]) == 0
    assert _files(root / "notebooks/assignments") == first == committed
    assert not list(root.rglob("gradebook.db"))  # the throwaway gradebook never lands in the tree


def test_check_reports_changed_missing_and_extra_files(tmp_path, capsys):
    root = H.course_copy(tmp_path)
    assert main(["--root", str(root), "build", "--check"]) == 0
    assert "release up to date" in capsys.readouterr().out
    rel = root / REL
    rel.write_text(rel.read_text().replace("Implement add two numbers.", "Implement it."))
    (root / "notebooks/assignments" / H.UNIT / "stray.txt").write_text("x")
    (root / "solutions" / H.UNIT / "data.csv").write_text("a,b\n1,2\n")
    assert main(["--root", str(root), "build", "--check"]) != 0
    err = capsys.readouterr().err
    assert f"differs: notebooks/assignments/{H.UNIT}/{H.UNIT}.ipynb" in err
    assert f"extra: notebooks/assignments/{H.UNIT}/stray.txt" in err
    assert f"missing: notebooks/assignments/{H.UNIT}/data.csv" in err
    assert "course: error: release out of date (3 files)" in err


def test_release_stubs_name_their_task_and_leak_nothing():
    text = (H.FIXTURE / REL).read_text()
    for snippet in H.HIDDEN_SNIPPETS + ["BEGIN SOLUTION", "END SOLUTION", "return a + b", "sum(xs) / len(xs)"]:
        assert snippet not in text, snippet
    nb = nbformat.read(str(H.FIXTURE / REL), as_version=4)
    stubs = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert 'raise NotImplementedError("task99_1: implement add two numbers here")' in stubs[0]
    assert 'raise NotImplementedError("task99_3: implement clipping to a range here")' in stubs[2]


def _edited_source(tmp_path, edit) -> Path:
    root = H.course_copy(tmp_path)
    path = root / "solutions" / H.UNIT / f"{H.UNIT}.ipynb"
    nb = json.loads(path.read_text())
    edit(nb["cells"])
    path.write_text(json.dumps(nb))
    return root


def test_contract_points_must_sum_to_100(tmp_path):
    def edit(cells):
        cells[-1]["metadata"]["nbgrader"]["points"] = 50
    root = _edited_source(tmp_path, edit)
    with pytest.raises(CourseError, match="points sum to 110"):
        build.build(Course.find(root))


def test_contract_each_task_needs_its_test_cell(tmp_path, capsys):
    def edit(cells):
        cells[:] = [c for c in cells if c.get("id") != "test_task99_2"]
        cells[-1]["metadata"]["nbgrader"]["points"] = 70
    root = _edited_source(tmp_path, edit)
    assert main(["--root", str(root), "build"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("course: error: 99_tiny:") and "task99_2: no grade cell test_task99_2" in err
    assert len(err.splitlines()) == 1


def test_nbgrader_errors_give_a_clear_message(tmp_path, capsys):
    def edit(cells):  # an unterminated solution region: nbgrader's ClearSolutions refuses it
        cells[4]["source"] = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n"
    root = _edited_source(tmp_path, edit)
    assert main(["--root", str(root), "build"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("course: error: nbgrader could not generate 99_tiny") and "Traceback" not in err

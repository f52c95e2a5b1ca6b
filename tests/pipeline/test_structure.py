"""integrity.repair_duplicates: duplicated grade cells (copy/paste) are repaired before nbgrader's sanitize pass.

Fast: no kernel, no gradebook.  The end-to-end check (a duplicated notebook
graded for what the student earned) is the ``cells_duplicated*`` and
``solutions_duplicated`` attacks in tests/attacks/unit01.py.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import CheckCellMetadata, DeduplicateIds

from autograder.pipeline.steps.structure import repair_duplicates, structure_issues

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
RELEASE = FIXTURE / "notebooks" / "assignments" / "99_tiny" / "99_tiny.ipynb"
SOURCE = FIXTURE / "solutions" / "99_tiny" / "99_tiny.ipynb"


def _read(path):
    return nbformat.read(str(path), as_version=4)


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)


def _paste_after(nb, gid, source=None):
    """A copy of the cell ``gid`` (metadata, id and all, as JupyterLab pastes it) right after it."""
    i = _index(nb, gid)
    dup = copy.deepcopy(nb.cells[i])
    if source is not None:
        dup.source = source
    nb.cells.insert(i + 1, dup)
    return dup


def _sanitize_without_gradebook(nb):
    """The parts of nbgrader's sanitize pass that need no gradebook, in its order."""
    resources = {}
    for cls in (DeduplicateIds, CheckCellMetadata):
        nb, resources = cls()(nb, resources)
    return nb


def test_nbgrader_alone_fails_on_a_duplicated_grade_cell():
    """Why the repair exists: DeduplicateIds empties the earlier copy's metadata, CheckCellMetadata rejects it."""
    nb = _read(RELEASE)
    _paste_after(nb, "test_task99_1", "pass")
    with pytest.raises(Exception, match="[Ss]chema"):
        _sanitize_without_gradebook(nb)


def test_a_duplicated_test_keeps_its_first_copy_and_the_others_never_run():
    nb = _read(RELEASE)
    n = len(nb.cells)
    _paste_after(nb, "test_task99_1", "pass")
    _paste_after(nb, "test_task99_1", "print('second paste')")
    original = copy.deepcopy(nb.cells[_index(nb, "test_task99_1")])
    notes = repair_duplicates(nb, _read(SOURCE))
    assert list(notes) == ["test_task99_1"]
    assert notes["test_task99_1"].startswith("duplicated cell test_task99_1 removed")
    i = _index(nb, "test_task99_1")
    assert nb.cells[i] == original  # the first copy, untouched: OverwriteCells restores its source anyway
    copies = nb.cells[i + 1:i + 3]
    assert [c.cell_type for c in copies] == ["raw", "raw"]  # kept for the reader, never executed
    assert [c.source for c in copies] == ["print('second paste')", "pass"]
    assert all("nbgrader" not in c.metadata for c in copies)
    assert len(nb.cells) == n + 2
    assert sum(1 for c in nb.cells if _gid(c) == "test_task99_1") == 1
    _sanitize_without_gradebook(nb)
    nbformat.validate(nb)
    assert len({c.id for c in nb.cells}) == len(nb.cells), "a pasted copy's cell id must be made unique"


def test_a_duplicated_solution_keeps_its_last_copy_and_the_others_run_as_ordinary_cells():
    nb = _read(RELEASE)
    first = nb.cells[_index(nb, "task99_2")]
    first.source = "def mean(xs):\n    return 0  # first try"
    _paste_after(nb, "task99_2", "def mean(xs):\n    return sum(xs) / len(xs)")
    notes = repair_duplicates(nb, _read(SOURCE))
    assert list(notes) == ["task99_2"] and "kept the last copy" in notes["task99_2"]
    i = _index(nb, "task99_2")
    assert nb.cells[i].source.endswith("sum(xs) / len(xs)")  # the last copy carries the id (as nbgrader keeps)
    earlier = nb.cells[i - 1]
    assert earlier.cell_type == "code" and "first try" in earlier.source  # still runs, in notebook order
    assert not {"nbgrader", "editable", "deletable"} & set(earlier.metadata)
    _sanitize_without_gradebook(nb)
    nbformat.validate(nb)


def test_duplicated_setup_and_markdown_keep_the_first_copy_and_their_type():
    nb = _read(RELEASE)
    _paste_after(nb, "setup")
    _paste_after(nb, "task99_1_text")
    notes = repair_duplicates(nb, _read(SOURCE))
    assert set(notes) == {"setup", "task99_1_text"}
    assert _index(nb, "setup") == 0 and nb.cells[1].cell_type == "raw"  # a second setup must not run
    j = _index(nb, "task99_1_text")
    assert nb.cells[j + 1].cell_type == "markdown" and "nbgrader" not in nb.cells[j + 1].metadata
    _sanitize_without_gradebook(nb)


def test_the_source_decides_the_kind_not_the_submitted_flags():
    """A test copy re-flagged as a solution is still treated as a test: first copy kept, the rest not run."""
    nb = _read(RELEASE)
    dup = _paste_after(nb, "test_task99_3", "pass")
    first = nb.cells[_index(nb, "test_task99_3")]
    first.metadata.nbgrader["solution"] = True
    dup.metadata.nbgrader["solution"] = True
    repair_duplicates(nb, _read(SOURCE))
    i = _index(nb, "test_task99_3")
    assert nb.cells[i] is first and nb.cells[i + 1].cell_type == "raw"
    # without the source, the first copy's own flags decide (here: a solution, so the last copy is kept)
    nb = _read(RELEASE)
    dup = _paste_after(nb, "test_task99_3", "pass")
    nb.cells[_index(nb, "test_task99_3")].metadata.nbgrader["solution"] = True
    repair_duplicates(nb)
    assert nb.cells[_index(nb, "test_task99_3")].source == "pass"


def test_an_intact_notebook_is_left_alone():
    nb = _read(RELEASE)
    before = copy.deepcopy(nb)
    assert repair_duplicates(nb, _read(SOURCE)) == {}
    assert nb == before
    # cells nbgrader's DeduplicateIds ignores (no grade / solution / locked flag) are ignored here too
    _paste_after(nb, "task99_1").metadata.nbgrader.update(grade=False, solution=False, locked=False)
    assert repair_duplicates(nb, _read(SOURCE)) == {}


def test_the_structure_check_still_sees_what_the_student_did():
    nb = _read(RELEASE)
    _paste_after(nb, "test_task99_2", "pass")
    assert "cell test_task99_2 is duplicated" in structure_issues(nb, _read(SOURCE))
    repair_duplicates(nb, _read(SOURCE))
    assert structure_issues(nb, _read(SOURCE)) == []


def test_the_worker_reports_the_repair_instead_of_the_duplicate(monkeypatch):
    from autograder.pipeline.steps import structure as integrity

    nb = _read(RELEASE)
    _paste_after(nb, "test_task99_2", "pass")
    structure = structure_issues(nb, _read(SOURCE))
    fixed, notes = integrity.repair(nb, _read(SOURCE), structure)
    assert len(nb.cells) == len(fixed.cells) and _gid(nb.cells[_index(nb, "test_task99_2") + 1])  # input untouched
    assert fixed.cells[_index(fixed, "test_task99_2") + 1].cell_type == "raw"
    assert notes == ["duplicated cell test_task99_2 removed (kept the first copy; the other copy is not run)"]

    def broken(nb, source=None):
        nb.cells.clear()
        raise RuntimeError("boom")

    monkeypatch.setattr(integrity, "repair_duplicates", broken)
    same, notes = integrity.repair(nb, _read(SOURCE), structure)
    assert same is nb and len(nb.cells) > 0  # a failed repair leaves the notebook as it was
    assert notes == structure + ["duplicate repair failed: RuntimeError"]

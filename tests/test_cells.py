"""The notebook vocabulary (autograder/cells.py) on its own: no kernel, no gradebook, milliseconds."""
from __future__ import annotations

import nbformat
import pytest

from autograder import cells


def _cell(nbgrader=None, course=None, source="", kind="code"):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    if nbgrader is not None:
        cell.metadata["nbgrader"] = nbgrader
    if course is not None:
        cell.metadata["course"] = course
    return cell


@pytest.mark.parametrize("mangled", [None, [], ["grade"], "solution", 3])
def test_metadata_reads_survive_a_hand_edited_cell(mangled):
    """A student can put anything under metadata.nbgrader or metadata.course: each read gives {}."""
    cell = _cell(nbgrader=mangled, course=mangled)
    assert cells.nbgrader_metadata(cell) == {} and cells.course_metadata(cell) == {}
    assert cells.grade_id(cell) is None and not cells.is_graded(cell)
    assert cells.nbgrader_metadata({"cell_type": "code", "metadata": "x", "source": ""}) == {}


def test_graded_cells_and_metadata():
    test = _cell({"grade": True, "solution": False, "grade_id": "test_task1_2", "points": 3})
    written = _cell({"grade": True, "solution": True, "grade_id": "q1", "points": 2}, kind="markdown")
    solution = _cell({"grade": False, "solution": True, "grade_id": "task1_2"}, course={"title": "softmax"})
    assert [cells.is_graded(c) for c in (test, written, solution)] == [True, True, False]
    assert cells.course_metadata(solution) == {"title": "softmax"}
    assert cells.nbgrader_metadata(test)["points"] == 3


def test_task_ids_and_grade_names():
    assert cells.test_id("task3_2") == "test_task3_2"
    assert cells.task_of(cells.test_id("task3_2")) == "task3_2" == cells.task_name("test_task3_2")
    assert cells.task_name("q1_written") == "q1_written"      # a written question's id is its column as is
    assert cells.task_name("test_setup_check") == "setup_check"


SOURCE = """def f(x):
    ### BEGIN SOLUTION
    return x + 1
    ### END SOLUTION
assert f(1) == 2
### BEGIN HIDDEN TESTS
assert f(2) == 3
### END HIDDEN TESTS
print("done")"""


def test_regions_and_what_lies_outside_them():
    assert cells.solution_regions(SOURCE) == ["    return x + 1"]
    assert cells.hidden_regions(SOURCE) == ["assert f(2) == 3"]
    assert cells.outside_regions(SOURCE) == ["def f(x):", "assert f(1) == 2", 'print("done")']
    assert cells.without_solution_markers(SOURCE).split("\n")[:3] == ["def f(x):", "    return x + 1",
                                                                       "assert f(1) == 2"]
    # an unclosed region runs to the end of the cell, as nbgrader reads it
    assert cells.solution_regions("a\n### BEGIN SOLUTION\nb\nc") == ["b\nc"]

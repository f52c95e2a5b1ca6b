"""Unit 01 (linear classifiers): the assignment's structure, and its grading measured on mutants.

The notebook-executing tests run the solution notebook's code cells in-process, in one
namespace, without a Jupyter kernel (fast); the lead's shared tests run it under nbval and
through real nbgrader grading. For each mutant (tests/mutants/unit01.py) the mutant's source
replaces its task's solution cell and the task's test cell (visible + hidden tests) must fail;
for each correct alternative it must pass.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import nbformat
import pytest

from tests.mutants.unit01 import CORRECT_ALTERNATIVES, MUTANTS, NOTEBOOK, UNIT

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / UNIT / NOTEBOOK
RELEASE = REPO / "notebooks" / "assignments" / UNIT / NOTEBOOK
UNIT_NUMBER = int(UNIT.split("_", 1)[0])
TASK_RE = re.compile(rf"^task{UNIT_NUMBER}_[1-9][0-9]*$")


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def _python(source: str) -> str:
    """Cell source without IPython magics and shell escapes (lines starting with % or !)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _cells(nb):
    """(solution cells by task, test cells by task) of a notebook."""
    solutions, tests = {}, {}
    for cell in nb.cells:
        meta = _nbg(cell)
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("solution"):
            solutions[meta["grade_id"]] = cell
        if meta.get("grade"):
            tests[meta["grade_id"]] = cell
    return solutions, tests


def _run(source: str, ns: dict, label: str) -> None:
    exec(compile(_python(source), f"<{UNIT} {label}>", "exec"), ns)


# ----------------------------------------------------------------------------- structure
def test_structure_and_metadata():
    nb = _read(SOLUTION)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec") == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                             "language": "python"}
    first = nb.cells[0]          # `course build` wants the setup cell first of all cells
    assert first.cell_type == "code" and _nbg(first) == {"grade": False, "solution": False, "locked": True, "grade_id": "setup",
                                "schema_version": 3}
    solutions, tests = _cells(nb)
    assert solutions, "no solution cells"
    for task, cell in solutions.items():
        assert TASK_RE.match(task), f"bad task id {task!r}"
        assert _nbg(cell) == {"grade": False, "solution": True, "locked": False, "grade_id": task,
                              "schema_version": 3}
        assert cell.metadata.get("course", {}).get("task") == task
        assert cell.metadata["course"].get("title"), f"{task}: course.title is empty"
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert f"test_{task}" in tests, f"{task} has no test cell"
    assert set(tests) == {f"test_{t}" for t in solutions}, "test cells without a solution cell"
    for grade_id, cell in tests.items():
        meta = _nbg(cell)
        assert meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
        assert cell.source.count("### BEGIN HIDDEN TESTS") == 1 and cell.source.count("### END HIDDEN TESTS") == 1
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "assert" in visible, f"{grade_id}: no visible test"
        last = [ln for ln in cell.source.strip().splitlines() if ln.strip()][-1]
        assert not re.fullmatch(r"\s*[-+0-9.eE]+\s*", last), f"{grade_id}: last line is a bare number"
    assert sum(_nbg(c)["points"] for c in tests.values()) == 100
    # Each test cell follows its solution cell, with a markdown "## Task U.K: ... (P points)" before.
    order = [(_nbg(c).get("grade_id"), i) for i, c in enumerate(nb.cells)]
    pos = {gid: i for gid, i in order if gid}
    for task in solutions:
        assert pos[task] < pos[f"test_{task}"]
        u, k = task[4:].split("_")
        heading = f"## Task {u}.{k}:"
        md = [c.source for c in nb.cells[:pos[task]] if c.cell_type == "markdown" and heading in c.source]
        assert md, f"no markdown heading {heading!r} before {task}"
        points = _nbg(tests[f"test_{task}"])["points"]
        assert re.search(rf"{re.escape(heading)} .+\({points} points\)", md[-1]), \
            f"{task}: heading must state ({points} points)"


def test_committed_without_outputs():
    nb = _read(SOLUTION)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


def test_mutants_are_well_formed():
    solutions, _ = _cells(_read(SOLUTION))
    names = set()
    for m in MUTANTS + CORRECT_ALTERNATIVES:
        assert m.task in solutions, f"mutant for unknown task {m.task}"
        assert m.source != solutions[m.task].source, f"{m.task} / {m.name}: same as the solution"
        compile(_python(m.source), m.name, "exec")
        assert (m.task, m.name) not in names, f"duplicate mutant {m.task} / {m.name}"
        names.add((m.task, m.name))
    assert {m.task for m in MUTANTS} == set(solutions), "every task needs at least one mutant"


def test_release_has_no_solutions_or_hidden_tests():
    if not RELEASE.exists():
        pytest.skip(f"{RELEASE.relative_to(REPO)} not built yet (course build {UNIT})")
    text = RELEASE.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text, f"release notebook contains {marker!r}"


# ----------------------------------------------------------------------------- execution
@pytest.fixture(scope="module")
def executed():
    """The solution notebook's code cells run in order in one namespace: (ns, solutions, tests)."""
    nb = _read(SOLUTION)
    solutions, tests = _cells(nb)
    ns: dict = {"__name__": "__main__"}
    test_warnings = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        label = _nbg(cell).get("grade_id", f"cell {i}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _run(cell.source, ns, label)
            except Exception as exc:  # noqa: BLE001  (report which cell failed)
                raise AssertionError(f"cell {label} of the solution notebook failed: {exc!r}") from exc
        if _nbg(cell).get("grade"):
            test_warnings += [f"{label}: {w.category.__name__}: {w.message}" for w in caught]
    ns["__warnings__"] = test_warnings
    return ns, solutions, tests


@pytest.mark.slow
@pytest.mark.xdist_group("unit01")
def test_solution_notebook_passes_all_tests(executed):
    ns, solutions, tests = executed
    assert ns["__warnings__"] == [], f"cells of the notebook warned: {ns['__warnings__']}"
    assert ns["best_val_acc"] >= 0.93


def _restore(ns, solutions, task):
    _run(solutions[task].source, ns, task)


@pytest.mark.slow
@pytest.mark.xdist_group("unit01")
@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.task}-{m.name}" for m in MUTANTS])
def test_mutant_is_killed(executed, mutant):
    ns, solutions, tests = executed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _run(mutant.source, ns, f"mutant {mutant.task}")
            with pytest.raises(Exception) as info:
                _run(tests[f"test_{mutant.task}"].source, ns, f"test_{mutant.task}")
        assert not isinstance(info.value, (NameError, SyntaxError, NotImplementedError)), \
            f"mutant killed for a trivial reason: {info.value!r}"
    finally:
        _restore(ns, solutions, mutant.task)


@pytest.mark.slow
@pytest.mark.xdist_group("unit01")
@pytest.mark.parametrize("alternative", CORRECT_ALTERNATIVES,
                         ids=[f"{m.task}-{m.name}" for m in CORRECT_ALTERNATIVES])
def test_correct_alternative_passes(executed, alternative):
    ns, solutions, tests = executed
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _run(alternative.source, ns, f"alternative {alternative.task}")
            _run(tests[f"test_{alternative.task}"].source, ns, f"test_{alternative.task}")
        assert not caught, f"the test cell warned: {[str(w.message) for w in caught]}"
    finally:
        _restore(ns, solutions, alternative.task)

"""Unit 02 (backpropagation): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel):
much faster than nbclient, and enough to measure the hidden tests. The shared notebook tests
run the real kernel (nbval) and nbgrader.
"""
from __future__ import annotations

import io
import json
import re
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from course_lib.grading import ShortcutError
from tests.mutants import unit02

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "solutions" / unit02.UNIT / unit02.NOTEBOOK
RELEASE = REPO / "notebooks" / "assignments" / unit02.UNIT / unit02.NOTEBOOK
LECTURE = REPO / "notebooks" / "lectures" / unit02.NOTEBOOK
UNIT_NUMBER = 2
TASK_RE = re.compile(rf"^task{UNIT_NUMBER}_[1-9][0-9]*$")


def _cells():
    return json.loads(SOURCE.read_text(encoding="utf-8"))["cells"]


def _code(cell) -> str:
    src = cell["source"]
    src = "".join(src) if isinstance(src, list) else src
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _solution_cells() -> dict:
    return {_nbg(c)["grade_id"]: c for c in _cells() if _nbg(c).get("solution")}


def _test_cells() -> dict:
    return {_nbg(c)["grade_id"]: c for c in _cells() if _nbg(c).get("grade")}


def _run(source: str, ns: dict, name: str) -> None:
    """Exec one cell; fail if it writes to stderr or warns (nbgrader scores such a cell 0)."""
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, redirect_stdout(io.StringIO()), redirect_stderr(err):
        warnings.simplefilter("always")
        exec(compile(source, f"<{name}>", "exec"), ns)
    assert not err.getvalue(), f"{name} wrote to stderr: {err.getvalue()[:500]}"
    assert not caught, f"{name} emitted warnings: {[str(w.message) for w in caught][:3]}"


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    ns: dict = {"__name__": "__main__"}
    t0 = time.perf_counter()
    for i, cell in enumerate(_cells()):
        if cell["cell_type"] == "code":
            _run(_code(cell), ns, f"cell {i} ({_nbg(cell).get('grade_id', 'no id')})")
    ns["__elapsed__"] = time.perf_counter() - t0
    return ns


def _expect_killed(ns: dict, mutant) -> None:
    solution = _code(_solution_cells()[mutant.task])
    tests = _code(_test_cells()["test_" + mutant.task])
    try:
        exec(compile(mutant.source, f"<mutant {mutant.name}>", "exec"), ns)
        with pytest.raises(Exception) as caught, redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(tests, f"<test_{mutant.task}>", "exec"), ns)
        if mutant.name.startswith("shortcut"):
            # a shortcut computes correct numbers: only the shortcut check may refuse it
            assert isinstance(caught.value, ShortcutError), f"refused for another reason: {caught.value!r}"
            assert mutant.task in str(caught.value)
    finally:
        exec(compile(solution, f"<{mutant.task}>", "exec"), ns)


@pytest.mark.slow
@pytest.mark.xdist_group("unit02")
def test_solution_notebook_passes_its_tests(namespace):
    assert namespace["__elapsed__"] < 60, f"solution notebook took {namespace['__elapsed__']:.1f} s in-process"


@pytest.mark.slow
@pytest.mark.xdist_group("unit02")
@pytest.mark.parametrize("mutant", unit02.MUTANTS, ids=[f"{m.task}-{m.name}" for m in unit02.MUTANTS])
def test_mutant_is_killed(namespace, mutant):
    assert mutant.source != _code(_solution_cells()[mutant.task]), "the mutant equals the solution"
    _expect_killed(namespace, mutant)


@pytest.mark.slow
@pytest.mark.xdist_group("unit02")
@pytest.mark.parametrize("alt", unit02.CORRECT_ALTERNATIVES,
                         ids=[f"{m.task}-{m.name}" for m in unit02.CORRECT_ALTERNATIVES])
def test_correct_alternative_passes(namespace, alt):
    solution = _code(_solution_cells()[alt.task])
    tests = _code(_test_cells()["test_" + alt.task])
    try:
        _run(alt.source, namespace, f"alternative {alt.name}")
        _run(tests, namespace, f"test_{alt.task} on alternative {alt.name}")
    finally:
        exec(compile(solution, f"<{alt.task}>", "exec"), namespace)


def test_every_task_has_mutants():
    tasks = set(_solution_cells())
    assert tasks == {m.task for m in unit02.MUTANTS}, "every task needs at least one mutant"


def test_structure_points_and_ids():
    cells = _cells()
    nb = json.loads(SOURCE.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                            "language": "python"}
    assert cells[0]["cell_type"] == "code", "the locked setup cell must be the notebook's first cell"
    assert _nbg(cells[0]) == {"grade": False, "solution": False, "locked": True, "grade_id": "setup",
                                "schema_version": 3}
    solutions, tests = _solution_cells(), _test_cells()
    assert solutions and set(tests) == {"test_" + t for t in solutions}
    assert sum(_nbg(c)["points"] for c in tests.values()) == 100
    for task, cell in solutions.items():
        assert TASK_RE.match(task), task
        assert _nbg(cell) == {"grade": False, "solution": True, "locked": False, "grade_id": task,
                              "schema_version": 3}
        assert cell["metadata"]["course"]["task"] == task and cell["metadata"]["course"]["title"]
        src = _code(cell)
        assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src
        t = _code(tests["test_" + task])
        assert "### BEGIN HIDDEN TESTS" in t and "### END HIDDEN TESTS" in t
        assert "forbid_calls" in t, f"{task}: the hidden tests need a shortcut check"
        assert _nbg(tests["test_" + task])["locked"] is True
        last = [line for line in t.splitlines() if line.strip()][-1]
        assert not re.fullmatch(r"\s*[-+0-9.eE()]+\s*", last), "a test cell must not end with a bare number"
    # the markdown heading of each task names its points
    md = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for task, cell in tests.items():
        u, k = task[len("test_task"):].split("_")
        assert re.search(rf"^## Task {u}\.{k}: .+ \({_nbg(cell)['points']} points\)", md, re.M), task
    # committed without outputs
    for c in cells:
        if c["cell_type"] == "code":
            assert not c.get("outputs") and c.get("execution_count") is None


def test_release_has_no_solutions_or_hidden_tests():
    if not RELEASE.exists():
        pytest.skip("release not built yet (`course build 02_backprop`)")
    text = RELEASE.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text


def test_lecture_structure():
    """The lecture starts by describing the device, is committed without outputs, and uses both explorers."""
    nb = json.loads(LECTURE.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "course_lib.device.describe()" in code[0]
    assert any("%matplotlib inline" in c for c in code)
    text = "\n".join(code)
    for name in ("OptimizerExplorer", "ActivationHistogramExplorer", "tqdm.auto"):
        assert name in text, name
    assert text.count(".update(") >= 2 and text.count("assert") >= 20
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert not c.get("outputs") and c.get("execution_count") is None

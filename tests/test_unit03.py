"""Unit 03 (convolutional networks): the assignment's tests pass the solution, kill every mutant and
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

from tests.mutants import unit03

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "solutions" / unit03.UNIT / unit03.NOTEBOOK
RELEASE = REPO / "notebooks" / "assignments" / unit03.UNIT / unit03.NOTEBOOK
UNIT_NUMBER = 3
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
    t0, cpu0 = time.perf_counter(), time.process_time()
    test_cpu = 0.0
    for i, cell in enumerate(_cells()):
        if cell["cell_type"] == "code":
            c0 = time.process_time()
            _run(_code(cell), ns, f"cell {i} ({_nbg(cell).get('grade_id', 'no id')})")
            if _nbg(cell).get("grade"):
                test_cpu += time.process_time() - c0
    ns["__elapsed__"] = time.perf_counter() - t0
    ns["__test_cpu__"] = test_cpu
    ns["__cpu__"] = time.process_time() - cpu0
    return ns


def _expect_killed(ns: dict, mutant) -> None:
    solution = _code(_solution_cells()[mutant.task])
    tests = _code(_test_cells()["test_" + mutant.task])
    try:
        exec(compile(mutant.source, f"<mutant {mutant.name}>", "exec"), ns)
        with pytest.raises(Exception), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(tests, f"<test_{mutant.task}>", "exec"), ns)
    finally:
        exec(compile(solution, f"<{mutant.task}>", "exec"), ns)


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
def test_solution_notebook_passes_its_tests(namespace):
    # wall time on a shared 2-core runner says little; CPU time is the budget (30 s notebook, 20 s tests)
    assert namespace["__elapsed__"] < 180, f"solution notebook took {namespace['__elapsed__']:.1f} s in-process"
    assert namespace["__cpu__"] < 30, f"solution notebook took {namespace['__cpu__']:.1f} s of CPU"
    assert namespace["__test_cpu__"] < 20, f"test cells took {namespace['__test_cpu__']:.1f} s of CPU"


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
@pytest.mark.parametrize("mutant", unit03.MUTANTS, ids=[f"{m.task}-{m.name}" for m in unit03.MUTANTS])
def test_mutant_is_killed(namespace, mutant):
    assert mutant.source != _code(_solution_cells()[mutant.task]), "the mutant equals the solution"
    _expect_killed(namespace, mutant)


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
@pytest.mark.parametrize("alt", unit03.CORRECT_ALTERNATIVES,
                         ids=[f"{m.task}-{m.name}" for m in unit03.CORRECT_ALTERNATIVES])
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
    assert tasks == {m.task for m in unit03.MUTANTS}, "every task needs at least one mutant"


def test_structure_points_and_ids():
    cells = _cells()
    nb = json.loads(SOURCE.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                            "language": "python"}
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert _nbg(first_code) == {"grade": False, "solution": False, "locked": True, "grade_id": "setup",
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
        pytest.skip("release not built yet (`course build 03_cnn`)")
    text = RELEASE.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text


LECTURE = REPO / "notebooks" / "lectures" / "03_cnn.ipynb"


def test_lecture_structure():
    """Cheap checks on the lecture (the shared tests execute it): device line first, explorer, no outputs."""
    nb = json.loads(LECTURE.read_text(encoding="utf-8"))
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = "".join(code_cells[0]["source"])
    assert "describe()" in first and "%matplotlib inline" in first
    text = "\n".join("".join(c["source"]) for c in code_cells)
    for needed in ("ConvKernelExplorer", "explorer.update(", "numeric_gradient_array", "conv_backward_naive",
                   "time.perf_counter", "get_device", "fgsm", "guided"):
        assert needed in text, needed
    for c in code_cells:
        assert not c.get("outputs") and c.get("execution_count") is None

"""Unit 03 (convolutional networks): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel):
much faster than nbclient, and enough to measure the hidden tests. The shared notebook tests
run the real kernel (nbval) and nbgrader. The harness is tests/unit_harness.py.
"""
from __future__ import annotations

import pytest

from tests.mutants import unit03
from tests.unit_harness import UnitNotebook, mutant_ids

NB = UnitNotebook(unit03)


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
def test_solution_notebook_passes_its_tests(namespace):
    # wall time on a shared 2-core runner says little; CPU time is the budget (30 s notebook, 20 s tests)
    assert namespace["__elapsed__"] < 180, f"solution notebook took {namespace['__elapsed__']:.1f} s in-process"
    assert namespace["__cpu__"] < 30, f"solution notebook took {namespace['__cpu__']:.1f} s of CPU"
    assert namespace["__test_cpu__"] < 20, f"test cells took {namespace['__test_cpu__']:.1f} s of CPU"


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(namespace, mutant):
    NB.expect_killed(namespace, mutant)


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
@pytest.mark.parametrize("alt", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(namespace, alt):
    NB.expect_passes(namespace, alt)


def test_every_task_has_mutants():
    NB.check_every_task_has_mutants()


def test_structure_points_and_ids():
    NB.check_structure()
    NB.check_no_outputs()


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_lecture_structure():
    """Cheap checks on the lecture (the shared tests execute it): device line first, explorer, no outputs."""
    code_cells = [c for c in NB.lecture_notebook().cells if c.cell_type == "code"]
    first = code_cells[0].source
    assert "describe()" in first and "%matplotlib inline" in first
    text = "\n".join(c.source for c in code_cells)
    for needed in ("ConvKernelExplorer", "explorer.update(", "numeric_gradient_array", "conv_backward_naive",
                   "time.perf_counter", "get_device", "fgsm", "guided"):
        assert needed in text, needed
    NB.check_no_outputs(NB.lecture)

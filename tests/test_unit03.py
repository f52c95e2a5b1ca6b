"""Unit 03 (convolutional networks): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel):
much faster than nbclient, and enough to measure the hidden tests. The shared notebook tests
run the real kernel (nbval) and nbgrader. The harness is tests/unit_harness.py: every mutant
must fail its task's test cell and its hidden tests alone.
"""
from __future__ import annotations

import pytest

from tests.mutants import unit03
from tests.unit_harness import UnitNotebook, mutant_ids

NB = UnitNotebook(unit03)

# Mutants the whole test cell kills but the hidden tests alone let through (only the visible
# asserts catch them), each reported to the unit's owner; the harness fails once one of them is
# killed by the hidden tests, so the list only shrinks. Empty: the two found first ("an MLP
# without convolutions", "trains far too long" in task3_9, then task3_6) are now caught by the hidden tests.
KNOWN_HIDDEN_SURVIVORS: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
def test_solution_notebook_passes_its_tests(namespace):
    NB.check_budgets(namespace)
    NB.check_hidden_tests_pass(namespace)
    # this unit keeps well inside DESIGN's budgets: 30 s of CPU for the notebook, 20 s for its tests
    assert namespace["__cpu__"] < 30, f"solution notebook took {namespace['__cpu__']:.1f} s of CPU"
    assert namespace["__test_cpu__"] < 20, f"test cells took {namespace['__test_cpu__']:.1f} s of CPU"


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(namespace, mutant):
    NB.expect_killed(namespace, mutant,
                     known_hidden_survivor=(mutant.task, mutant.name) in KNOWN_HIDDEN_SURVIVORS)


@pytest.mark.slow
@pytest.mark.xdist_group("unit03")
@pytest.mark.parametrize("alt", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(namespace, alt):
    NB.expect_passes(namespace, alt)


def test_mutants_are_well_formed():
    NB.check_mutants()


# The mistakes the unit's issues name (unit03.NAMED); each must be among the mutants.
NAMED_MUTANTS = unit03.NAMED


def test_named_mutants_exist():
    NB.check_named_mutants(NAMED_MUTANTS)
    present = {(m.task, m.name) for m in NB.mutants}
    assert KNOWN_HIDDEN_SURVIVORS <= present, f"unknown survivors listed: {KNOWN_HIDDEN_SURVIVORS - present}"


def test_structure_points_and_ids():
    NB.check_structure(written=(3, 3))
    NB.check_no_outputs()


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_release_stubs_score_zero():
    NB.check_release_scores_zero()


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

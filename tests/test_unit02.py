"""Unit 02 (backpropagation): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel):
much faster than nbclient, and enough to measure the hidden tests. The shared notebook tests
run the real kernel (nbval) and nbgrader. The harness is tests/unit_harness.py: every mutant
must fail its task's test cell and its hidden tests alone; a mutant named ``shortcut...`` must be
refused by the judge (course.forbid, forbid_names).
"""
from __future__ import annotations

import pytest

from tests.mutants import unit02
from tests.unit_harness import UnitNotebook, mutant_ids

NB = UnitNotebook(unit02)


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit02")
def test_solution_notebook_passes_its_tests(namespace):
    NB.check_budgets(namespace)
    NB.check_hidden_tests_pass(namespace)


@pytest.mark.slow
@pytest.mark.xdist_group("unit02")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(namespace, mutant):
    NB.expect_killed(namespace, mutant)


@pytest.mark.slow
@pytest.mark.xdist_group("unit02")
@pytest.mark.parametrize("alt", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(namespace, alt):
    NB.expect_passes(namespace, alt)


def test_mutants_are_well_formed():
    NB.check_mutants()


# The mistakes the unit's issues name (unit02.NAMED); each must be among the mutants.
NAMED_MUTANTS = unit02.NAMED


def test_named_mutants_exist():
    NB.check_named_mutants(NAMED_MUTANTS)


def test_structure_points_and_ids():
    NB.check_structure()
    NB.check_no_outputs()


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_release_stubs_score_zero():
    NB.check_release_scores_zero()


def test_lecture_structure():
    """The lecture starts by describing the device, is committed without outputs, and uses both explorers."""
    code = [c.source for c in NB.lecture_notebook().cells if c.cell_type == "code"]
    assert "course_lib.device.describe()" in code[0]
    assert any("%matplotlib inline" in c for c in code)
    text = "\n".join(code)
    for name in ("OptimizerExplorer", "ActivationHistogramExplorer", "tqdm.auto"):
        assert name in text, name
    assert text.count(".update(") >= 2 and text.count("assert") >= 20
    NB.check_no_outputs(NB.lecture)

"""Unit 05 (attention and transformers): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel), the test
cells by the judge against that namespace (tests/unit_harness.py): every mutant must fail its task's
test cell and its hidden tests alone, and cost no later task. The lecture's own checks are in
tests/test_lecture05.py; tests/test_units_grading.py grades this unit through `course autograde`.
"""
from __future__ import annotations

import pytest

from tests.mutants import unit05
from tests.unit_harness import UnitNotebook, mutant_ids

NB = UnitNotebook(unit05)

# Mutants the whole test cell kills but the hidden tests alone let through: none.
KNOWN_HIDDEN_SURVIVORS: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit05")
def test_solution_notebook_passes_its_tests(namespace):
    NB.check_budgets(namespace)
    NB.check_hidden_tests_pass(namespace)
    # this unit keeps well inside DESIGN's budgets (measured about 3 s of CPU in all)
    assert namespace["__cpu__"] < 30, f"solution notebook took {namespace['__cpu__']:.1f} s of CPU"
    assert namespace["__test_cpu__"] < 20, f"test cells took {namespace['__test_cpu__']:.1f} s of CPU"


@pytest.mark.slow
@pytest.mark.xdist_group("unit05")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(namespace, mutant):
    NB.expect_killed(namespace, mutant,
                     known_hidden_survivor=(mutant.task, mutant.name) in KNOWN_HIDDEN_SURVIVORS)


@pytest.mark.slow
@pytest.mark.xdist_group("unit05")
@pytest.mark.parametrize("alt", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(namespace, alt):
    NB.expect_passes(namespace, alt)


def test_mutants_are_well_formed():
    NB.check_mutants()


def test_named_mutants_exist():
    NB.check_named_mutants(unit05.NAMED)
    present = {(m.task, m.name) for m in NB.mutants}
    assert KNOWN_HIDDEN_SURVIVORS <= present, f"unknown survivors listed: {KNOWN_HIDDEN_SURVIVORS - present}"


def test_structure_points_and_ids():
    NB.check_structure(written=(2, 2))
    NB.check_no_outputs()


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_release_stubs_score_zero():
    NB.check_release_scores_zero()

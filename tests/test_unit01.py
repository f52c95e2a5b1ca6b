"""Unit 01 (linear classifiers): the assignment's structure, and its grading measured on mutants.

The notebook-executing tests run the solution notebook's code cells in-process, in one
namespace, without a Jupyter kernel (fast); the lead's shared tests run it under nbval and
through real nbgrader grading. For each mutant (tests/mutants/unit01.py) the mutant's source
replaces its task's solution cell and the task's test cell (visible + hidden tests) must fail,
and so must its hidden tests alone; for each correct alternative it must pass. The harness is
tests/unit_harness.py.
"""
from __future__ import annotations

import pytest

from tests.mutants import unit01
from tests.unit_harness import UnitNotebook, mutant_ids

# Not strict: the training cells may log to stderr; warnings of test cells still fail (below).
NB = UnitNotebook(unit01, strict=False)


# ----------------------------------------------------------------------------- structure
def test_structure_and_metadata():
    NB.check_structure(require_shortcut_check=False)


def test_committed_without_outputs():
    NB.check_no_outputs()


def test_mutants_are_well_formed():
    NB.check_mutants()


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_release_stubs_score_zero():
    NB.check_release_scores_zero()


# The mistakes the unit's issues name (unit01.NAMED); each must be among the mutants.
NAMED_MUTANTS = unit01.NAMED


def test_named_mutants_exist():
    NB.check_named_mutants(NAMED_MUTANTS)


def test_lecture_structure():
    """Cheap checks on the lecture (the shared tests execute it): device line first, progress bars
    from tqdm.auto, the course_lib.widgets explorer driven by update(), asserted numbers, no outputs."""
    code = [c.source for c in NB.lecture_notebook().cells if c.cell_type == "code"]
    assert "course_lib.device.describe()" in code[0]
    assert any("%matplotlib inline" in c for c in code)
    text = "\n".join(code)
    for needed in ("from tqdm.auto import tqdm", "from course_lib.widgets import LinearClassifierExplorer",
                   "LinearClassifierExplorer("):
        assert needed in text, needed
    assert text.count(".update(") >= 2 and text.count("assert") >= 20
    NB.check_no_outputs(NB.lecture)


# ----------------------------------------------------------------------------- execution
@pytest.fixture(scope="module")
def executed():
    """The solution notebook's code cells run in order in one namespace."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit01")
def test_solution_notebook_passes_all_tests(executed):
    assert executed["__warnings__"] == [], f"cells of the notebook warned: {executed['__warnings__']}"
    assert executed["best_val_acc"] >= 0.93
    NB.check_budgets(executed)
    NB.check_hidden_tests_pass(executed)


@pytest.mark.slow
@pytest.mark.xdist_group("unit01")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(executed, mutant):
    NB.expect_killed(executed, mutant)


@pytest.mark.slow
@pytest.mark.xdist_group("unit01")
@pytest.mark.parametrize("alternative", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(executed, alternative):
    NB.expect_passes(executed, alternative)

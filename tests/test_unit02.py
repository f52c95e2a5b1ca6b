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
def test_experiments_show_what_the_questions_ask_about(namespace):
    """The written questions' experiments, run with the reference solution, show what the questions (and their
    rubrics) say they show: the search chooses on validation and the winner generalises; without batch norm only
    the scale near He's trains while with it every scale does; without dropout the network memorises the wrong
    labels and has a large train/val gap, with dropout it does not."""
    # Question 2.1: the winner is the best on validation, well above chance, and its test accuracy is close to it
    assert namespace["best_val_acc"] == max(namespace["val_accs"]) >= 0.95
    assert abs(namespace["test_acc"] - namespace["best_val_acc"]) < 0.03
    assert min(namespace["val_accs"]) < 0.8, "the search should show configs that lose"
    # Question 2.2: initial weight scale without and with batch norm
    res, std = namespace["init_results"], namespace["init_score_std"]
    assert std[1e-3] < 1e-6 < 1e3 < std[1.0], std
    assert res[False, 0.1] >= 0.9 and all(res[False, s] <= 0.2 for s in (1e-3, 1e-2, 1.0)), res
    assert all(res[True, s] >= 0.9 for s in (1e-3, 1e-2, 0.1, 1.0)), res
    # Question 2.3: dropout and the train/val gap on noisy labels
    (tr0, va0, mem0), (tr5, va5, mem5) = namespace["dropout_results"][0.0], namespace["dropout_results"][0.5]
    n_wrong = int(namespace["flipped"].sum())
    assert tr0 - va0 > 0.15 and tr5 - va5 < 0.05, namespace["dropout_results"]
    assert va5 > va0 + 0.05 and mem0 >= 0.9 * n_wrong and mem5 <= 0.3 * n_wrong, namespace["dropout_results"]


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
    """Thirteen graded tasks and three written questions (15 points) that sum to 100; the softmax task of
    unit 01 is not repeated (the setup cell gives softmax_loss); layer norm and RMSProp are tasks."""
    NB.check_structure(written=(3, 3))
    NB.check_no_outputs()
    solutions = NB.solution_cells()
    assert sorted(solutions, key=lambda t: int(t.split("_")[1])) == [f"task2_{k}" for k in range(1, 14)]
    assert not any("def softmax_loss" in c.source for c in solutions.values())
    assert "def softmax_loss" in NB.notebook().cells[0].source
    assert "def rmsprop" in solutions["task2_5"].source and "def layernorm_forward" in solutions["task2_9"].source


def test_selection_uses_the_validation_split_only():
    """Task 2.12 chooses on data.X_val; the test split is read in one place of the notebook, after the choice
    (Question 2.1's experiment), and the text says so."""
    cells = NB.notebook().cells
    code = [(i, c.source) for i, c in enumerate(cells) if c.cell_type == "code"]
    uses = [i for i, src in code if "X_test" in src and "_fake_search" not in src and "Split(" not in src]
    choice = next(i for i, src in code if "select_hyperparams(data, search_configs)" in src)
    assert uses == [choice], uses
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "never on the test set" in text and "validation accuracy must be at least 0.95" in text


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

"""Unit 06 (generative models: GANs and VAEs): the assignment's tests pass the solution, kill every
mutant and pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel), graded by
the judge as ``course autograde`` grades them (tests/unit_harness.py). Two tasks call an earlier
task's function (Task 6.7's ``vae_loss`` calls Task 6.6's ``gaussian_kl``; Task 6.12's ``score_samples``
calls Task 6.8's ``inception_score`` and ``frechet_distance``), so the mutants of Tasks 6.6 and 6.8 are
also checked not to cost those later tasks; the other mutants are not rerun through the later test
cells, three of which train (Task 6.9: two GANs, Task 6.10: two WGANs and a short third, Task 6.11: two VAEs):
tests/test_units_grading.py grades the named mutants of every task through the real grader and
checks there that each costs its own task only.
"""
from __future__ import annotations

import pytest

from tests.mutants import unit06
from tests.unit_harness import UnitNotebook, mutant_ids

NB = UnitNotebook(unit06)

# Mutants the whole test cell kills but the hidden tests alone let through; the harness fails once one
# of them is killed by the hidden tests, so the list only shrinks. Empty.
KNOWN_HIDDEN_SURVIVORS: set[tuple[str, str]] = set()

# task -> the later test cells that call its functions (a bug there must cost its own task only)
CALLED_BY_LATER = {"task6_6": ["test_task6_7"], "task6_8": ["test_task6_12"]}


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit06")
def test_solution_notebook_passes_its_tests(namespace):
    NB.check_budgets(namespace)
    NB.check_hidden_tests_pass(namespace)
    # well inside DESIGN's budgets (90 s of CPU for the notebook, 60 s for its tests): the GAN of
    # Task 6.9 trains twice in its test cell (about 2 s each on an idle core, 5 s on a busy one),
    # the WGAN of Task 6.10 three times and the VAE of Task 6.11 twice (under 0.5 s each, idle)
    assert namespace["__cpu__"] < 40, f"solution notebook took {namespace['__cpu__']:.1f} s of CPU"
    assert namespace["__test_cpu__"] < 35, f"test cells took {namespace['__test_cpu__']:.1f} s of CPU"


@pytest.mark.slow
@pytest.mark.xdist_group("unit06")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(namespace, mutant):
    NB.expect_killed(namespace, mutant, later=False,
                     known_hidden_survivor=(mutant.task, mutant.name) in KNOWN_HIDDEN_SURVIVORS)
    later = CALLED_BY_LATER.get(mutant.task, [])
    if later:
        tests = NB.test_cells()
        try:
            exec(compile(mutant.source, f"<unit06 mutant {mutant.name}>", "exec"), namespace.kernel)
            for grade_id in later:
                verdict = namespace.judge_cell(tests[grade_id].source, grade_id)
                assert verdict.passed, (f"{mutant.task} / {mutant.name} also costs {grade_id} "
                                        f"({verdict.ename}: {verdict.evalue}); a bug must cost its own task only")
        finally:
            NB.restore(namespace, mutant.task)


@pytest.mark.slow
@pytest.mark.xdist_group("unit06")
@pytest.mark.parametrize("alt", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(namespace, alt):
    NB.expect_passes(namespace, alt)


def test_mutants_are_well_formed():
    NB.check_mutants()


def test_named_mutants_exist():
    NB.check_named_mutants(unit06.NAMED)
    present = {(m.task, m.name) for m in NB.mutants}
    assert KNOWN_HIDDEN_SURVIVORS <= present, f"unknown survivors listed: {KNOWN_HIDDEN_SURVIVORS - present}"


def test_later_callers_are_the_real_ones():
    """CALLED_BY_LATER lists exactly the earlier tasks whose functions a later solution cell calls."""
    import re

    from autograder.pipeline.steps.judge import top_level_functions

    cells = NB.solution_cells()
    order = list(cells)
    calls: dict[str, list[str]] = {}
    for i, task in enumerate(order):
        for name in top_level_functions(cells[task].source):
            for later in order[i + 1:]:
                if re.search(rf"\b{name}\(", cells[later].source) and f"test_{later}" not in calls.get(task, []):
                    calls.setdefault(task, []).append(f"test_{later}")
    assert calls == CALLED_BY_LATER


def test_structure_points_and_ids():
    NB.check_structure(written=(2, 2))
    NB.check_no_outputs()


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_release_stubs_score_zero():
    NB.check_release_scores_zero()

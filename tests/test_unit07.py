"""Unit 07 (dimensionality reduction): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel):
much faster than nbclient, and enough to measure the hidden tests. The shared notebook tests
run the real kernel (nbval) and nbgrader. The harness is tests/unit_harness.py: every mutant
must fail its task's test cell and its hidden tests alone, and cost no later task. The lecture's
checks are helper u07b's (tests/test_lecture07.py).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.mutants import unit07
from tests.unit_harness import UnitNotebook, mutant_ids

NB = UnitNotebook(unit07)


@pytest.fixture(scope="module")
def namespace():
    """All code cells of the solution notebook, run in order (every test cell must pass)."""
    return NB.run_all()


@pytest.mark.slow
@pytest.mark.xdist_group("unit07")
def test_solution_notebook_passes_its_tests(namespace):
    NB.check_budgets(namespace)
    NB.check_hidden_tests_pass(namespace)
    # well inside DESIGN's budgets (90 s notebook, 60 s tests): every mutant reruns the later test cells
    assert namespace["__cpu__"] < 30, f"solution notebook took {namespace['__cpu__']:.1f} s of CPU"
    assert namespace["__test_cpu__"] < 10, f"test cells took {namespace['__test_cpu__']:.1f} s of CPU"


@pytest.mark.slow
@pytest.mark.xdist_group("unit07")
@pytest.mark.parametrize("mutant", NB.mutants, ids=mutant_ids(NB.mutants))
def test_mutant_is_killed(namespace, mutant):
    NB.expect_killed(namespace, mutant)


@pytest.mark.slow
@pytest.mark.xdist_group("unit07")
@pytest.mark.parametrize("alt", NB.alternatives, ids=mutant_ids(NB.alternatives))
def test_correct_alternative_passes(namespace, alt):
    NB.expect_passes(namespace, alt)


@pytest.mark.slow
@pytest.mark.xdist_group("unit07")
def test_the_numbers_the_text_states(namespace):
    """The task text's numbers, recomputed with the reference solution: the notes' 5-point example, the digits'
    reconstruction error and kept variance, wine's PC1 ratios, row 0's bandwidth at perplexity 15, the bits/nats
    mix ending at 49.7, the S-curve's Spearman correlation, and the memory of the (N, N, D) broadcast."""
    from scipy.stats import spearmanr

    k = namespace.kernel
    toy = np.array([[2.0, 1.0], [0.0, -1.0], [-2.0, -1.0], [1.0, 2.0], [-1.0, -1.0]])
    p = k["pca_fit"](toy, 2)
    assert np.allclose(p.variances, [3.2142, 0.3858], atol=1e-4)
    assert np.allclose(np.abs(p.components[0]), [0.7555, 0.6552], atol=1e-4)
    assert round(float(k["pca_fit"](toy, 1).variances[0]) * 5 / 4, 4) == 4.0178            # the 1/(N-1) value
    X = k["digits_X"]
    ratios = k["explained_variance_ratio"](X)
    assert round(float(ratios[:10].sum()), 3) == 0.738
    lam = k["pca_fit"](X, 64).variances
    assert round(len(X) * float(lam[10:].sum()), 2) == 565183.40
    X300 = X[:300] / 16.0
    D2 = k["pairwise_sq_dists"](X300)
    P = k["conditional_probabilities"](D2, 15.0)
    j = np.argsort(D2[0])[1:6]
    assert round(-np.polyfit(D2[0, j], np.log(P[0, j]), 1)[0], 4) == 1.9264
    src = unit07.MUTANTS[[m.name for m in unit07.MUTANTS].index("bits and nats mixed in the perplexity target")].source
    ns = {"np": np}
    exec(src, ns)
    row = ns["conditional_probabilities"](D2, 15.0)[0]
    row = row[row > 0]
    assert round(float(np.exp(-np.sum(row * np.log(row)))), 1) == 49.7
    Z = k["laplacian_eigenmaps"](k["knn_graph"](k["scurve_X"], 8), 2)
    assert round(abs(spearmanr(Z[:, 0], k["scurve_t"])[0]), 3) == 0.999
    assert round(600 * 600 * 64 * 8 / 1e6) == 184 and round(600 * 600 * 8 / 2**20, 1) == 2.7
    assert round(1797 * 1797 * 64 * 8 / 1e9, 2) == 1.65


def test_mutants_are_well_formed():
    NB.check_mutants()


def test_named_mutants_exist():
    NB.check_named_mutants(unit07.NAMED)
    per_task: dict[str, int] = {}
    for task, _ in unit07.NAMED:
        per_task[task] = per_task.get(task, 0) + 1
    assert max(per_task.values()) <= 3, "at most three named mutants per task (each is one grading run)"


def test_structure_points_and_ids():
    """Eight NumPy tasks, a PyTorch task last, and two written questions (10 points) summing to 100; every NumPy task
    forbids the libraries that do it for the student (the notebook's default, torch included), the PyTorch task all
    but torch, and the distance-based tasks forbid scipy.spatial by name."""
    NB.check_structure(written=(2, 3))
    NB.check_no_outputs()
    nb = NB.notebook()
    forbid = set(nb.metadata["course"]["forbid"])
    assert {"torch", "sklearn.decomposition", "sklearn.manifold", "sklearn.metrics", "sklearn.neighbors",
            "course_lib.dimred"} <= forbid
    solutions = NB.solution_cells()
    assert sorted(solutions, key=lambda t: int(t.split("_")[1])) == [f"task7_{k}" for k in range(1, 10)]
    for task in ("task7_4", "task7_5", "task7_6", "task7_7", "task7_8"):
        assert solutions[task].metadata["course"]["forbid_names"] == ["scipy.spatial"], task
    torch_task = set(solutions["task7_9"].metadata["course"]["forbid"])
    assert torch_task == (forbid - {"torch"}) | {"course_lib.nn", "course_lib.train"}
    assert not any("forbid" in solutions[f"task7_{k}"].metadata["course"] for k in range(1, 9))
    setup = nb.cells[0].source
    assert not any(f"import {m}" in setup or f"from {m}" in setup for m in forbid)


def test_intro_table_states_the_points_of_every_task_and_question():
    """The table of the assignment's first markdown cell lists every task and written question with the points its
    grade cell carries, and the stated totals add up."""
    cells = NB.notebook().cells
    intro = next(c.source for c in cells if c.cell_type == "markdown")
    table = {("task7_" if kind == "" else "q7_") + k: int(p)
             for kind, k, p in re.findall(r"^\|[^|\n]*\| (Q?)7\.(\d+) \|[^\n]*\| (\d+) \|$", intro, re.M)}
    graded = {c.metadata["nbgrader"]["grade_id"].removeprefix("test_"): c.metadata["nbgrader"]["points"]
              for c in cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert table == graded
    code = sum(p for k, p in graded.items() if k.startswith("task"))
    assert f"{code} points for the nine tasks, {100 - code} for the two written questions" in intro


def test_release_has_no_solutions_or_hidden_tests():
    NB.check_release()


def test_release_stubs_score_zero():
    NB.check_release_scores_zero()


@pytest.mark.slow
@pytest.mark.xdist_group("unit07")
def test_experiments_show_what_the_rubrics_say(namespace):
    """The written questions' experiments, run with the reference solution, print the rubrics' reference numbers:
    wine's column scales and PC1 weights (Question 7.1); the t-SNE maps' 5-NN accuracies and cluster spreads at
    perplexity 5 and 50, and which digit's cluster is tightest (Question 7.2)."""
    k = namespace.kernel
    std = k["wine_X"].std(axis=0)
    assert round(float(std[12]), 1) == 314.0 and round(float(std[4]), 1) == 14.2
    assert np.all(np.delete(std, [12, 4]) < 20) and np.sum(std < 3) >= 7
    assert round(float(k["wine_X"][:, 12].var()), -2) == 98600
    raw, stand = k["wine_pc1"][False], k["wine_pc1"][True]
    assert round(abs(float(raw[12])), 3) == 1.0
    assert all(0.35 < abs(float(stand[j])) < 0.45 for j in (5, 6, 11)) and np.max(np.abs(stand)) < 0.45
    (acc5, spread5), (acc50, spread50) = k["tsne_results"][5.0], k["tsne_results"][50.0]
    # t-SNE is chaotic: another BLAS may move the last digit, so the rubric's numbers are checked to a tolerance
    assert abs(acc5 - 0.980) <= 0.01 and abs(acc50 - 0.977) <= 0.01, (acc5, acc50)
    for spread, lo, hi, ratio, mean in ((spread5, 4.2, 7.4, 1.8, 5.9), (spread50, 1.3, 4.3, 3.2, 2.1)):
        assert abs(spread.min() - lo) <= 0.2 and abs(spread.max() - hi) <= 0.2, spread
        assert abs(spread.max() / spread.min() - ratio) <= 0.2 and abs(spread.mean() - mean) <= 0.2, spread

"""Unit 01 (linear classifiers): the assignment's structure, and its grading measured on mutants.

The notebook-executing tests run the solution notebook's code cells in-process, in one
namespace, without a Jupyter kernel (fast); the lead's shared tests run it under nbval and
through real nbgrader grading. For each mutant (tests/mutants/unit01.py) the mutant's source
replaces its task's solution cell and the task's test cell (visible + hidden tests) must fail,
and so must its hidden tests alone; for each correct alternative it must pass. The harness is
tests/unit_harness.py.
"""
from __future__ import annotations

import re

import pytest

from tests.lecture_harness import near_copies
from tests.lecture_harness import normalised_lines as _normalised_lines
from tests.lecture_harness import trivial as _trivial
from tests.mutants import unit01
from tests.unit_harness import UnitNotebook, mutant_ids

# Not strict: the training cells may log to stderr; warnings of test cells still fail (below).
NB = UnitNotebook(unit01, strict=False)


# ----------------------------------------------------------------------------- structure
def test_structure_and_metadata():
    NB.check_structure(written=(2, 4))


def test_forbidden_modules_cover_the_references():
    """Everything in course_lib that solves a task (the NumPy layers and losses, the kNN and linear
    classifier references the lecture calls, the explorers) is out of the grading kernel's reach,
    and the setup cell imports none of it."""
    nb = NB.notebook()
    forbid = set(nb.metadata["course"]["forbid"])
    assert {"course_lib.nn", "course_lib.classifiers", "course_lib.explorers", "course_lib.widgets", "torch",
            "sklearn.neighbors", "scipy.spatial"} <= forbid
    setup = nb.cells[0].source
    for module in forbid:
        assert f"import {module}" not in setup and f"from {module} " not in setup, module


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


def _lecture_cells():
    return NB.lecture_notebook().cells


def _is_check_cell(cell) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


# The lecture's major sections, in order (the topic list of issue #16 for unit 01 and the cs231n/d2l chapters).
SECTIONS = ["## 1. Image classification and the data-driven approach", "## 2. Nearest-neighbour classifiers",
            "## 3. Data preprocessing", "## 4. Linear classifiers: the score function", "## 5. Loss functions",
            "## 6. Gradients of the losses", "## 7. Optimisation: gradient descent and SGD", "## 8. Summary",
            "## 9. Further reading"]
# Topics #16 lists as missing for unit 01, each with a phrase the lecture must contain.
TOPICS = {
    "data preprocessing": "computed on the training set only",
    "hyperparameters and cross-validation": "### 2.4 Hyperparameters",
    "geometric view of W": "boundary between two classes is a hyperplane",
    "softmax as maximum likelihood": "### 5.3 Why cross-entropy: maximum likelihood and KL divergence",
    "cross-entropy as KL": "Kullback-Leibler",
    "softmax gradient derivation": "### 6.2 The analytic gradient of the softmax loss",
    "hinge gradient derivation": "### 6.3 The analytic gradient of the SVM loss",
    "SVM vs softmax": "### 5.5 SVM versus softmax",
    "learning-rate curves": "### 7.5 Reading loss curves",
    "regularising the bias": "should the bias be regularised?",
}


def test_lecture_structure():
    """Device line first, %matplotlib inline, both explorers of course_lib.explorers.linear built and displayed
    (they draw before any control moves), no outputs committed."""
    cells = _lecture_cells()
    code = [c.source for c in cells if c.cell_type == "code"]
    assert "course_lib.device.describe()" in code[0]
    assert any("%matplotlib inline" in c for c in code)
    text = "\n".join(code)
    for needed in ("from course_lib.explorers.linear import KNNExplorer", "display(knn_explorer)",
                   "from course_lib.explorers.linear import LinearClassifierExplorer", "display(linear_explorer)"):
        assert needed in text, needed
    assert "course_lib.widgets" not in text, "unit 01's explorers live in course_lib.explorers.linear"
    NB.check_no_outputs(NB.lecture)


def test_lecture_sections_exercises_conventions():
    """Contract item 1: the sections in order, each major one ending with 2-4 exercises; the topics #16 lists;
    Conventions notes; a summary and further reading; the prose of a lecture, not of a summary."""
    cells = _lecture_cells()
    md = [c.source for c in cells if c.cell_type == "markdown"]
    text = "\n".join(md)
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    for topic, phrase in TOPICS.items():
        assert phrase.lower() in text.lower(), f"missing topic: {topic}"
    for number in range(1, 8):        # the major sections 1-7 each end with exercises
        start = text.index(SECTIONS[number - 1])
        body = text[start:text.index(SECTIONS[number])]
        assert "### Exercises" in body, f"section {number} has no exercises"
        exercises = body[body.rindex("### Exercises"):]
        items = re.findall(r"^\d+\. ", exercises, re.M)
        assert 2 <= len(items) <= 4, f"section {number}: {len(items)} exercises, expected 2-4"
    assert text.count("**Conventions") >= 6
    assert text.count("**Pitfalls") >= 5
    assert len(text.split()) >= 10_000, f"{len(text.split())} words of prose"


def test_lecture_checks_are_collapsed():
    """Contract item 2: CI-only checks are in cells whose input is collapsed; a teaching cell holds at most two
    asserts (the claim it shows), and every collapsed cell is a check, not teaching code."""
    cells = _lecture_cells()
    checks = [c for c in cells if c.cell_type == "code" and _is_check_cell(c)]
    assert len(checks) >= 8
    for c in cells:
        if c.cell_type != "code":
            continue
        asserts = len(re.findall(r"^\s*assert\b", c.source, re.M))
        if _is_check_cell(c):
            assert c.source.startswith("# Checks (collapsed)") and asserts >= 1, c.source[:80]
        else:
            assert asserts <= 2, (f"a teaching cell with {asserts} asserts: move them to a collapsed check cell\n"
                                  f"{c.source[:200]}")


def _solution_regions() -> dict[str, list[str]]:
    regions = {}
    for task, cell in NB.solution_cells().items():
        src = cell.source
        parts = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", src, re.S)
        regions[task] = [ln for part in parts for ln in _normalised_lines(part) if not _trivial(ln)]
    return regions


def test_lecture_does_not_copy_a_solution():
    """Contract item 4: no lecture code cell holds 3 or more consecutive non-trivial lines of a solution region."""
    code_cells = [c.source for c in _lecture_cells() if c.cell_type == "code"]
    copies = near_copies(code_cells, _solution_regions())
    assert not copies, "lecture code cells copy solution regions:\n" + "\n".join(copies)


def test_near_copy_detector_catches_a_copy():
    """The detector of the test above fails on a pasted solution, re-indented, re-spaced and commented."""
    regions = _solution_regions()
    pasted = NB.solution_cells()["task1_7"].source.split("### BEGIN SOLUTION\n")[1].split("### END SOLUTION")[0]
    disguised = "def my_loss(W, X, y, reg):\n    num_train = X.shape[0]\n" + "\n".join(
        "    " + ln.strip().replace(" = ", "=") + "  # mine" for ln in pasted.splitlines() if ln.strip()) + \
        "\n    return loss, dW\n"
    assert any(c.startswith("task1_7") for c in near_copies([disguised], regions))
    two_lines = "\n".join(pasted.splitlines()[:2])
    assert not near_copies([two_lines], regions)


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

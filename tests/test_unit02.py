"""Unit 02 (backpropagation): the assignment's tests pass the solution, kill every mutant and
pass every correct alternative; the notebook's structure follows the unit contract.

The notebook's code cells are exec'd in one namespace in this process (no Jupyter kernel):
much faster than nbclient, and enough to measure the hidden tests. The shared notebook tests
run the real kernel (nbval) and nbgrader. The harness is tests/unit_harness.py: every mutant
must fail its task's test cell and its hidden tests alone; a mutant named ``shortcut...`` must be
refused by the judge (course.forbid, forbid_names).
"""
from __future__ import annotations

import re

import pytest

from tests.mutants import unit02
from tests.test_unit01 import _normalised_lines, _trivial, near_copies
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


def _lecture_cells():
    return NB.lecture_notebook().cells


def _is_check_cell(cell) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


# The lecture's major sections, in order (issue #16's topic list for unit 02 and the cs231n/d2l chapters).
LECTURE_SECTIONS = ["## 1. Models are graphs of simple blocks", "## 2. Patterns in the backward flow",
                    "## 3. Reverse-mode automatic differentiation", "## 4. Modular layers and gradient checking",
                    "## 5. Activation functions", "## 6. Neural networks: why depth", "## 7. Initialisation",
                    "## 8. Batch normalisation and dropout", "## 9. Optimisation",
                    "## 10. Babysitting a training run", "## 11. Summary", "## 12. Further reading"]
# Topics #16 lists as missing for unit 02, and its false statements fixed, each with a phrase the lecture must contain.
LECTURE_TOPICS = {
    "graph with values and gradients on its wires": "### 1.2 The graph with values and gradients on its wires",
    "broadcasting in backward": "### 2.3 Broadcasting in the backward pass",
    "saturation": "saturates", "dying ReLU": "dead ReLU", "leaky ReLU": "**Leaky ReLU**", "GELU": "**GELU**",
    "why depth": "**Why depth?**", "overfit a tiny subset": "**Overfit a tiny subset.**",
    "update/weight ratio": "update/weight ratio", "random vs grid search": "### 10.1 Random search versus grid search",
    "gradient clipping": "### 9.2 Gradient clipping", "weight decay vs L2 under Adam": "### 9.3 Weight decay versus L2",
    "ReLU halves E[h^2], not the variance": "ReLU **halves the second moment** $E[h^2]$",
    "Keras' batch-norm momentum": "default of **0.99**",
    "momentum damps a zig-zag only where SGD has one": "a large $\\mu$ **creates** an oscillation",
    "bias regularised in unit 01, not in unit 02": "**Conventions: is the bias regularised?**",
}


def test_lecture_structure():
    """Device line first, %matplotlib inline, both explorers of course_lib.explorers built and displayed (they draw
    before any control moves), no outputs committed."""
    code = [c.source for c in _lecture_cells() if c.cell_type == "code"]
    assert "course_lib.device.describe()" in code[0]
    assert any("%matplotlib inline" in c for c in code)
    text = "\n".join(code)
    for needed in ("ActivationExplorer()", "display(act_explorer)", "OptimizerPathExplorer()", "display(opt_explorer)",
                   "draw_computation_graph(", "tqdm.auto"):
        assert needed in text, needed
    assert "course_lib.widgets" not in text, "unit 02's explorers live in course_lib.explorers"
    NB.check_no_outputs(NB.lecture)


def test_lecture_sections_exercises_and_topics():
    """Contract item 1: the sections in order, each major one (1-10) ending with 2-4 exercises; the topics and fixes
    #16 lists; Conventions notes and Pitfalls."""
    md = "\n".join(c.source for c in _lecture_cells() if c.cell_type == "markdown")
    positions = [md.index(s) for s in LECTURE_SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    for topic, phrase in LECTURE_TOPICS.items():
        assert phrase in md, f"missing topic: {topic}"
    for number in range(1, 11):
        body = md[md.index(LECTURE_SECTIONS[number - 1]):md.index(LECTURE_SECTIONS[number])]
        assert "### Exercises" in body, f"section {number} has no exercises"
        items = re.findall(r"^\d+\. ", body[body.rindex("### Exercises"):], re.M)
        assert 2 <= len(items) <= 4, f"section {number}: {len(items)} exercises, expected 2-4"
    assert md.count("**Conventions") >= 3 and md.count("**Pitfalls") >= 6
    assert "halves the variance" not in md and "damps the oscillating" not in md     # the false statements of #16
    assert len(md.split()) >= 6000, f"{len(md.split())} words of prose"


def test_lecture_checks_are_collapsed():
    """Contract item 2: CI-only checks are in collapsed cells; a teaching cell holds at most two asserts."""
    cells = _lecture_cells()
    checks = [c for c in cells if c.cell_type == "code" and _is_check_cell(c)]
    assert len(checks) >= 20
    for c in cells:
        if c.cell_type != "code":
            continue
        asserts = len(re.findall(r"^\s*assert\b", c.source, re.M))
        if _is_check_cell(c):
            assert c.source.startswith("# Checks (collapsed)") and asserts >= 1, c.source[:80]
        else:
            assert asserts <= 2, f"a teaching cell with {asserts} asserts:\n{c.source[:200]}"


def _solution_regions() -> dict[str, list[str]]:
    regions = {}
    for task, cell in NB.solution_cells().items():
        parts = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
        regions[task] = [ln for part in parts for ln in _normalised_lines(part) if not _trivial(ln)]
    return regions


def test_lecture_does_not_copy_a_solution():
    """Contract item 4: no lecture code cell holds 3 or more consecutive non-trivial lines of a solution region
    (the detector of tests/test_unit01.py, which test_near_copy_detector_catches_a_copy there checks)."""
    code_cells = [c.source for c in _lecture_cells() if c.cell_type == "code"]
    copies = near_copies(code_cells, _solution_regions())
    assert not copies, "lecture code cells copy solution regions:\n" + "\n".join(copies)

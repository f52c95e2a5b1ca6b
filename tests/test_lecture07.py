"""Lecture 07 (dimensionality reduction): structure and contract checks (docs/unit-contract.md items 1-4).

nbval runs the notebook itself (every collapsed check cell asserts what the text beside it states);
these tests read the notebook's source: sections in the issue's order, exercises, Conventions notes,
Pitfalls, collapsed checks, explorer suggestions quoted by tests, and no copy of a graded solution.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from tests.test_unit01 import _normalised_lines, _trivial, near_copies

REPO = Path(__file__).resolve().parents[1]
LECTURE = REPO / "notebooks" / "lectures" / "07_dimensionality_reduction.ipynb"
SOLUTION = REPO / "solutions" / "07_dimensionality_reduction" / "07_dimensionality_reduction.ipynb"

# Issue #20's lecture topics, in its order.
SECTIONS = ["## 1. Unsupervised learning and why a few dimensions suffice", "## 2. PCA as maximum projected variance",
            "## 3. PCA as minimum reconstruction error; the SVD; eigen-digits", "## 4. PCA as a linear autoencoder",
            "## 5. Centring versus standardising", "## 6. Beyond PCA, in brief: NMF, MDS, kernel PCA",
            "## 7. Manifolds: LLE, the graph Laplacian and Laplacian eigenmaps", "## 8. t-SNE", "## 9. Explorers",
            "## 10. Summary", "## 11. Further reading"]
# Each topic of the issue with a phrase the lecture must contain, in this order.
TOPICS = [("Lagrangian", r"\mathcal{L}(w, \alpha)"), ("toy top variance", "3.2142"),
          ("decorrelation", "### 2.3 Decorrelation"), ("SVD", "### 3.2 The SVD"),
          ("variance kept", "73.8 %"), ("digits error", "565,183.40"), ("eigen-digits", "**eigen-digits**"),
          ("same subspace, not orthonormal axes", "**its axes are not PCA's**"), ("wine raw", "99.8 %"),
          ("wine standardised", "36.2 %"), ("NMF", "**Non-negative matrix factorisation**"),
          ("MDS", "**Multidimensional scaling**"), ("kernel PCA", "**Kernel PCA**"), ("LLE", "**Locally linear embedding**"),
          ("graph Laplacian", "### 7.2 The graph Laplacian"), ("smoothness", "**smooth**"),
          ("neighbourhood size", "**short-circuit**"), ("perplexity bandwidth", "### 8.1 Similarities in the data"),
          ("symmetrised P", "### 8.2 Symmetric P"), ("crowding", "**Why Student-t: the crowding problem.**"),
          ("KL gradient", "### 8.3 The gradient"), ("early exaggeration", "**early exaggeration**"),
          ("PCA first", "**PCA first**"),
          ("what plots show", "### 8.5 What a t-SNE picture does and does not show"),
          ("not for new points", "**no mapping for new points**")]
# The Conventions notes issue #20 asks for, each by a phrase of its note.
CONVENTIONS = ["*The covariance normaliser.*", "*Rows are samples.*", "*Signs.*",
               "*Squared distances in both kernels.*", "*Perplexity in bits or nats.*"]
# Graded tasks of unit 07 (shared/units/07_pca_tsne.md (e)): no lecture cell defines them.
GRADED_NAMES = {"pca_fit", "pca_transform", "pca_reconstruct", "explained_variance_ratio", "linear_autoencoder",
                "pairwise_sq_dists", "conditional_probabilities", "joint_probabilities", "tsne_kl_and_grad", "tsne",
                "graph_laplacian", "knn_graph", "laplacian_eigenmaps"}


def _cells():
    return nbformat.read(str(LECTURE), as_version=4).cells


def _markdown() -> str:
    return "\n".join(c.source for c in _cells() if c.cell_type == "markdown")


def _is_check(cell) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


def test_lecture_structure_and_no_outputs():
    """Device line first; the explorers displayed; demos through course_lib.dimred; committed without outputs."""
    code = [c for c in _cells() if c.cell_type == "code"]
    assert "describe()" in code[0].source and "%matplotlib inline" in code[0].source
    text = "\n".join(c.source for c in code)
    for needed in ("display(projection_explorer)", "display(digits_explorer)", "display(tsne_explorer)",
                   "display(kernel_explorer)", "display(neighbourhood_explorer)", "dimred.pca(", "dimred.tsne(",
                   "dimred.conditional_probabilities(", "dimred.laplacian_eigenmaps(", "TSNE(", "trustworthiness(",
                   "LECTURE_T0"):
        assert needed in text, needed
    for c in code:
        assert not c.get("outputs") and c.get("execution_count") is None, "commit the lecture without outputs"


def test_sections_topics_exercises_conventions_pitfalls():
    """Contract item 1: sections in order, each major one (1-8) ending with 2-4 exercises; the issue's topics in
    order; the five Conventions notes; Pitfalls; the prose of a lecture."""
    md = _markdown()
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    found = [md.find(phrase) for _, phrase in TOPICS]
    missing = [name for (name, _), at in zip(TOPICS, found) if at < 0]
    assert not missing, f"topics missing: {missing}"
    assert found == sorted(found), "topics out of the issue's order"
    for number in range(1, 9):
        body = md[md.index(SECTIONS[number - 1]):md.index(SECTIONS[number])]
        assert "### Exercises" in body, f"section {number} has no exercises"
        items = re.findall(r"^\d+\. ", body[body.rindex("### Exercises"):], re.M)
        assert 2 <= len(items) <= 4, f"section {number}: {len(items)} exercises, expected 2-4"
        assert "**Pitfalls.**" in body, f"section {number} has no Pitfalls"
    for phrase in CONVENTIONS:
        assert f"**Conventions.** {phrase}" in md, phrase
    assert md.count("**Conventions.**") >= 7
    assert len(md.split()) >= 5_500, f"{len(md.split())} words of prose"


def test_checks_are_collapsed_and_teaching_cells_are_light():
    """Contract item 2: CI-only checks sit in collapsed cells; a teaching cell holds at most two asserts."""
    cells = _cells()
    checks = [c for c in cells if c.cell_type == "code" and _is_check(c)]
    assert len(checks) >= 20
    for c in cells:
        if c.cell_type != "code":
            continue
        asserts = len(re.findall(r"^\s*assert\b", c.source, re.M))
        if _is_check(c):
            assert c.source.startswith("# Checks (collapsed)") and (asserts >= 1 or "assert_" in c.source), c.source[:80]
        else:
            assert asserts <= 2, f"a teaching cell with {asserts} asserts:\n{c.source[:200]}"
    assert checks[-1].source.count("cpu < 60") == 1, "the last check asserts the lecture's CPU budget"


def test_every_explorer_suggestion_is_quoted_by_a_test():
    """Contract item 3: each "things to try" item of section 9 is quoted by tests/test_explorers_dimred.py."""
    md = _markdown()
    section = md[md.index(SECTIONS[8]):md.index(SECTIONS[9])]
    blocks = section.split("**Things to try**")[1:]
    assert len(blocks) == 5
    tests = " ".join((REPO / "tests" / "test_explorers_dimred.py").read_text(encoding="utf-8").split())
    count = 0
    for block in blocks:
        block = block.split("###")[0]
        for item in re.findall(r"^\d+\. (.*)$", block, re.M):
            count += 1
            assert " ".join(item.split()) in tests, f"no test quotes the suggestion: {item}"
    assert count == 15


def _defined_names(source: str) -> set[str]:
    src = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    return {n.name for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_lecture_does_not_solve_the_assignment():
    """Contract item 4: no lecture cell defines a graded function of unit 07, and (once the assignment exists) no
    lecture code cell holds 3 or more consecutive non-trivial lines of a solution region."""
    code = [c.source for c in _cells() if c.cell_type == "code"]
    defined = set().union(*(_defined_names(src) for src in code))
    assert not defined & GRADED_NAMES, f"the lecture defines graded functions: {sorted(defined & GRADED_NAMES)}"
    # the detector works: a pasted PCA written as the task asks is caught against a region holding it
    pasted = "Xc = X - X.mean(axis=0)\nS = Xc.T @ Xc / len(X)\nlam, V = np.linalg.eigh(S)\norder = np.argsort(lam)[::-1]\n"
    region = [ln for ln in _normalised_lines(pasted) if not _trivial(ln)]
    assert near_copies([pasted], {"task7_1": region}) and not near_copies(code, {"task7_1": region})
    if SOLUTION.exists():
        regions = {}
        for cell in nbformat.read(str(SOLUTION), as_version=4).cells:
            if cell.cell_type != "code":          # written answers are prose, not code to copy
                continue
            for part in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
                task = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
                regions.setdefault(task, []).extend(ln for ln in _normalised_lines(part) if not _trivial(ln))
        assert regions, "the solution notebook has no solution regions"
        copies = near_copies(code, regions)
        assert not copies, "lecture code cells copy solution regions:\n" + "\n".join(copies)

"""Lecture 07 (dimensionality reduction): structure and contract checks (docs/unit-contract.md items 1-4).

nbval runs the notebook itself (every collapsed check cell asserts what the text beside it states);
these tests read the notebook's source: sections in the issue's order, exercises, Conventions notes,
Pitfalls, collapsed checks, explorer suggestions quoted by tests, and no copy of a graded solution.
"""
from __future__ import annotations

from tests.lecture_harness import Lecture, near_copies, region_lines

LECTURE = Lecture("07_dimensionality_reduction")

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



def test_lecture_structure_and_no_outputs():
    """Device line first; the explorers displayed; demos through course_lib.dimred; committed without outputs."""
    LECTURE.check_setup(("display(projection_explorer)", "display(digits_explorer)", "display(tsne_explorer)",
                         "display(kernel_explorer)", "display(neighbourhood_explorer)", "dimred.pca(", "dimred.tsne(",
                         "dimred.conditional_probabilities(", "dimred.laplacian_eigenmaps(", "TSNE(",
                         "trustworthiness("))


def test_sections_topics_exercises_conventions_pitfalls():
    """Contract item 1: sections in order, each major one (1-8) ending with 2-4 exercises; the issue's topics in
    order; the five Conventions notes; Pitfalls; the prose of a lecture."""
    LECTURE.check_sections(SECTIONS, major=8, words=5_500)
    LECTURE.check_phrases(TOPICS, ordered=True)
    LECTURE.check_phrases([(p, f"**Conventions.** {p}") for p in CONVENTIONS], what="convention")
    assert LECTURE.markdown.count("**Conventions.**") >= 7


def test_checks_are_collapsed_and_teaching_cells_are_light():
    """Contract item 2: CI-only checks sit in collapsed cells; a teaching cell holds at most two asserts."""
    LECTURE.check_collapsed(min_checks=20, counts_as_assert=("assert_",))
    assert LECTURE.checks[-1].source.count("cpu < 60") == 1, "the last check asserts the lecture's CPU budget"


def test_every_explorer_suggestion_is_quoted_by_a_test():
    """Contract item 3: each "things to try" item of section 9 is quoted by tests/test_explorers_dimred.py."""
    LECTURE.check_suggestions_quoted("test_explorers_dimred.py", [3, 3, 3, 3, 3], within=LECTURE.section(SECTIONS, 9))


def test_lecture_does_not_solve_the_assignment():
    """Contract item 4: no lecture cell defines a graded function of unit 07, and no lecture code cell holds 3 or
    more consecutive non-trivial lines of a solution region."""
    LECTURE.check_defines_none_of(GRADED_NAMES)
    # the detector works: a pasted PCA written as the task asks is caught against a region holding it
    pasted = "Xc = X - X.mean(axis=0)\nS = Xc.T @ Xc / len(X)\nlam, V = np.linalg.eigh(S)\norder = np.argsort(lam)[::-1]\n"
    region = region_lines(pasted)
    assert near_copies([pasted], {"task7_1": region}) and not near_copies(LECTURE.code, {"task7_1": region})
    LECTURE.check_copies_no_solution()

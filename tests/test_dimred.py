"""course_lib.dimred (unit 07's reference PCA, graph Laplacians and t-SNE) against scikit-learn, SciPy
and finite differences; the worked numbers of lecture 07 (shared/units/07_pca_tsne.md, recomputed)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, squareform

from course_lib import dimred as dr
from course_lib.explorers.dimred import TOY_POINTS, digits_raw


@pytest.fixture(scope="module")
def digits():
    return digits_raw()


# ---- PCA ---------------------------------------------------------------------------------------

def test_pca_on_the_notes_toy_example():
    fit = dr.pca(TOY_POINTS)
    np.testing.assert_allclose(fit.variances, [3.2142136, 0.3857864], atol=1e-7)
    np.testing.assert_allclose(np.abs(fit.components[0]), [0.7555, 0.6552], atol=1e-4)
    assert fit.total_variance == pytest.approx(3.6)
    Z = fit.transform(TOY_POINTS)
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.diag(fit.variances), atol=1e-12)   # decorrelated


def test_pca_matches_scikit_learn_up_to_sign_and_the_normaliser(digits):
    from sklearn.decomposition import PCA as SkPCA

    X = digits[0]
    N = len(X)
    fit, sk = dr.pca(X, 10), SkPCA(10).fit(X)
    cos = np.abs((fit.components * sk.components_).sum(1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-8)
    np.testing.assert_allclose(fit.variances * N / (N - 1), sk.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(fit.explained_variance_ratio, sk.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(fit.components @ fit.components.T, np.eye(10), atol=1e-12)
    assert (np.diff(fit.variances) <= 0).all()
    rows = np.arange(10)
    assert (fit.components[rows, np.abs(fit.components).argmax(1)] > 0).all()     # the sign convention


def test_digits_k10_error_is_n_times_the_discarded_eigenvalues(digits):
    X = digits[0]
    full = dr.pca(X)
    fit = dr.pca(X, 10)
    sse = ((X - fit.reconstruct(fit.transform(X))) ** 2).sum()
    assert sse == pytest.approx(565_183.40, abs=0.01)
    assert sse == pytest.approx(len(X) * full.variances[10:].sum(), rel=1e-10)
    assert fit.explained_variance_ratio.sum() == pytest.approx(0.7382, abs=1e-4)


def test_wine_raw_vs_standardised():
    from sklearn.datasets import load_wine

    X = load_wine().data
    raw, std = dr.explained_variance_ratio(X), dr.explained_variance_ratio(X, standardize=True)
    assert raw[0] == pytest.approx(0.998, abs=5e-4) and std[0] == pytest.approx(0.362, abs=5e-4)
    assert raw.sum() == pytest.approx(1.0) and std.sum() == pytest.approx(1.0)


def test_pca_refuses_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        dr.pca(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        dr.pca(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="k must be"):
        dr.pca(TOY_POINTS, 3)
    with pytest.raises(ValueError, match="constant"):
        dr.explained_variance_ratio(np.c_[TOY_POINTS, np.ones(5)], standardize=True)


# ---- distances, perplexity, P ------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.integers(1, 30), st.integers(1, 8), st.integers(0, 10_000))
def test_pairwise_sq_dists_matches_cdist(n, m, d, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, d)) * 10, rng.standard_normal((m, d))
    np.testing.assert_allclose(dr.pairwise_sq_dists(A, B), cdist(A, B, "sqeuclidean"), atol=1e-9)
    same = dr.pairwise_sq_dists(A)
    assert (np.diag(same) == 0).all() and (same >= 0).all()


def test_pairwise_sq_dists_refuses_mismatched_widths():
    with pytest.raises(ValueError, match="need"):
        dr.pairwise_sq_dists(np.zeros((3, 2)), np.zeros((3, 4)))


def test_perplexity_search_hits_the_target_and_matches_scikit_learn(digits):
    from sklearn.manifold._t_sne import _joint_probabilities

    X = digits[0][:300] / 16
    D2 = dr.pairwise_sq_dists(X)
    P, beta = dr.conditional_probabilities(D2, 15)
    assert beta[0] == pytest.approx(1.9264, abs=1e-4)
    np.testing.assert_allclose(dr.perplexity_of(P), 15.0, atol=1e-4)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert (np.diag(P) == 0).all()
    Pj = dr.joint_probabilities(P)
    np.testing.assert_allclose(Pj, Pj.T)
    assert Pj.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(Pj, squareform(_joint_probabilities(D2.astype(np.float32), 15, 0)), atol=1e-7)


def test_perplexity_in_bits_and_nats_agree_and_uniform_gives_n():
    p = np.full(15, 1 / 15)
    assert dr.perplexity_of(p) == pytest.approx(15.0)
    q = np.array([0.5, 0.25, 0.125, 0.125])
    h_bits, h_nats = -(q * np.log2(q)).sum(), -(q * np.log(q)).sum()
    assert 2 ** h_bits == pytest.approx(np.exp(h_nats)) == pytest.approx(dr.perplexity_of(q))
    D2 = np.ones((16, 16)) - np.eye(16)                       # equidistant points: uniform rows
    P, _ = dr.conditional_probabilities(D2, 5)
    np.testing.assert_allclose(P[~np.eye(16, dtype=bool)], 1 / 15)


def test_conditional_probabilities_refuses_an_impossible_perplexity():
    with pytest.raises(ValueError, match="perplexity"):
        dr.conditional_probabilities(np.ones((5, 5)), 10)
    with pytest.raises(ValueError, match="square"):
        dr.conditional_probabilities(np.ones((5, 4)), 2)


# ---- the KL gradient and the optimiser -----------------------------------------------------------

@pytest.mark.parametrize("squared", [True, False])
def test_kl_gradient_matches_finite_differences(squared):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 5))
    P = dr.joint_probabilities(dr.conditional_probabilities(dr.pairwise_sq_dists(X), 4)[0])
    Y = rng.standard_normal((12, 2))
    kl, g = dr.tsne_kl_and_grad(P, Y, squared=squared)
    num = np.zeros_like(Y)
    h = 1e-6
    for idx in np.ndindex(*Y.shape):
        Yp, Ym = Y.copy(), Y.copy()
        Yp[idx] += h
        Ym[idx] -= h
        num[idx] = (dr.tsne_kl_and_grad(P, Yp, squared=squared)[0]
                    - dr.tsne_kl_and_grad(P, Ym, squared=squared)[0]) / (2 * h)
    np.testing.assert_allclose(g, num, atol=1e-7)
    assert kl > 0


def test_kl_and_gradient_match_scikit_learn():
    from sklearn.manifold._t_sne import _kl_divergence

    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 4))
    P = dr.joint_probabilities(dr.conditional_probabilities(dr.pairwise_sq_dists(X), 5)[0])
    Y = rng.standard_normal((20, 2))
    kl, g = dr.tsne_kl_and_grad(P, Y)
    kl_sk, g_sk = _kl_divergence(Y.ravel(), squareform(P, checks=False), 1, 20, 2)
    assert kl == pytest.approx(kl_sk, rel=1e-6)
    np.testing.assert_allclose(g.ravel(), g_sk, rtol=1e-5, atol=1e-10)


def test_tsne_on_digits_is_as_good_as_scikit_learn(digits):
    """Exact t-SNE of 300 digits, 500 iterations: 5-NN accuracy in 2-D and trustworthiness within 0.02 of
    scikit-learn's Barnes-Hut TSNE on the same points; deterministic."""
    from sklearn.manifold import TSNE, trustworthiness

    X, y = digits[0][:300], digits[1][:300]
    res = dr.tsne(X, n_iter=500)
    sk = TSNE(random_state=0, max_iter=500).fit(X)
    ours, theirs = dr.knn_accuracy(res.Y, y), dr.knn_accuracy(sk.embedding_, y)
    assert ours >= 0.95 and ours >= theirs - 0.02
    assert trustworthiness(X, res.Y, n_neighbors=5) >= trustworthiness(X, sk.embedding_, n_neighbors=5) - 0.02
    assert res.kl < 0.5 and res.kl_history[0][1] > res.kl
    np.testing.assert_array_equal(dr.tsne(X, n_iter=20).Y, dr.tsne(X, n_iter=20).Y)


def test_tsne_refuses_bad_init():
    with pytest.raises(ValueError, match="init"):
        dr.tsne(TOY_POINTS, perplexity=2, init="spectral")
    with pytest.raises(ValueError, match="shape"):
        dr.tsne(TOY_POINTS, perplexity=2, init=np.zeros((4, 2)))


def test_knn_accuracy_on_separated_clusters():
    Z = np.r_[np.zeros((5, 2)), np.full((5, 2), 10.0)] + np.arange(10)[:, None] * 0.01
    y = np.r_[np.zeros(5, int), np.ones(5, int)]
    assert dr.knn_accuracy(Z, y, 3) == 1.0
    assert dr.knn_accuracy(Z, 1 - y[::-1][np.r_[5:10, 0:5]], 3) == 1.0
    assert dr.knn_accuracy(Z, np.arange(10) % 2, 1) < 0.5
    assert dr.knn_accuracy(Z, np.where(y == 1, "seven", "minus one"), 3) == 1.0       # any labels
    assert dr.knn_accuracy(Z, y - 1, 3) == 1.0
    with pytest.raises(ValueError, match="one label per row"):
        dr.knn_accuracy(Z, y[:5])


def test_degenerate_data_get_clear_errors_or_finite_answers():
    """All rows equal: PCA's ratios refuse with a reason; t-SNE still returns finite points (no 0/0)."""
    import warnings

    same = np.ones((20, 5))
    with pytest.raises(ValueError, match="zero variance"):
        dr.explained_variance_ratio(same)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = dr.tsne(same, perplexity=5, n_iter=30)
    assert np.isfinite(res.Y).all()


# ---- graphs -----------------------------------------------------------------------------------

def test_laplacian_of_the_notes_graph():
    W = np.zeros((4, 4))
    for (i, j), w in {(0, 1): 2, (0, 2): 3, (1, 2): 1, (2, 3): 1}.items():
        W[i, j] = W[j, i] = w
    L = dr.graph_laplacian(W)
    np.testing.assert_array_equal(np.diag(L), [5, 3, 5, 1])
    assert [y @ L @ y for y in (np.array([1, 1, 1, 0.0]), np.array([0, 1, 1, 0.0]))] == [1.0, 6.0]
    np.testing.assert_allclose(np.linalg.eigvalsh(L), [0, 1.152, 4.673, 8.176], atol=1e-3)
    with pytest.raises(ValueError, match="symmetric"):
        dr.graph_laplacian(np.triu(W))


def test_knn_graph_is_symmetric_and_eigenmaps_follow_the_s_curve():
    from scipy.stats import spearmanr
    from sklearn.datasets import make_s_curve

    X, t = make_s_curve(400, random_state=0)
    W = dr.knn_graph(X, 8)
    np.testing.assert_array_equal(W, W.T)
    assert set(np.unique(W)) == {0.0, 1.0} and (np.diag(W) == 0).all() and (W.sum(1) >= 8).all()
    z = dr.laplacian_eigenmaps(W, 2)
    assert z.shape == (400, 2)
    assert abs(spearmanr(z[:, 0], t)[0]) >= 0.95
    assert abs(z[:, 0].sum()) < 1e-8                 # orthogonal to the skipped constant eigenvector
    with pytest.raises(ValueError, match="k must"):
        dr.knn_graph(X, 400)


# ---- kernels -----------------------------------------------------------------------------------

def test_kernels_and_their_inverses():
    d = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(dr.similarity(d, "gaussian", squared=False), [0.368, 0.135, 0.050], atol=1e-3)
    np.testing.assert_allclose(dr.similarity(d, "gaussian"), [0.607, 0.135, 0.011], atol=1e-3)
    np.testing.assert_allclose(dr.similarity(d, "student-t", squared=False), [0.5, 0.333, 0.25], atol=1e-3)
    np.testing.assert_allclose(dr.similarity(d, "student-t"), [0.5, 0.2, 0.1], atol=1e-12)
    assert float(dr.distance_for_similarity(0.1, "gaussian")) == pytest.approx(2.146, abs=1e-3)
    assert float(dr.distance_for_similarity(0.1, "student-t")) == pytest.approx(3.0)
    for k in dr.KERNELS:
        np.testing.assert_allclose(dr.distance_for_similarity(dr.similarity(d, k), k), d)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        dr.distance_for_similarity(0.0)
    with pytest.raises(ValueError, match="kernel"):
        dr.similarity(1.0, "cauchy")


def test_tsne_benchmark_row_states_its_goal():
    """bench/tsne.py (issue 20's benchmark row) on 120 digits and 250 iterations (scikit-learn's minimum):
    the row carries both libraries' times and quality numbers and the goal (within 2x of scikit-learn at
    equal quality)."""
    import bench.tsne

    (row,) = bench.tsne.run(n=120, n_iter=250)
    assert row["n"] == 120 and row["goal_ratio"] == 2.0 and isinstance(row["goal_met"], bool)
    assert row["ours_cpu_s"] > 0 and row["sklearn_cpu_s"] > 0
    assert row["goal_met"] == (row["ours_cpu_s"] / row["sklearn_cpu_s"] <= 2.0
                               and row["ours_trust"] >= row["sklearn_trust"] - 0.01
                               and row["ours_knn5"] >= row["sklearn_knn5"] - 0.01)
    assert 0 < row["ours_knn5"] <= 1 and 0 < row["sklearn_trust"] <= 1

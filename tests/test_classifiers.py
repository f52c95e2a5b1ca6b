"""course_lib.classifiers (what lecture 01 calls) against SciPy, scikit-learn and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from course_lib import classifiers as C
from course_lib.data import load_digits
from course_lib.grading import numeric_gradient


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), d=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_pairwise_distances_match_cdist(n, m, d, seed):
    rng = np.random.default_rng(seed)
    A, B = 3 * rng.standard_normal((n, d)), rng.standard_normal((m, d))
    np.testing.assert_allclose(C.pairwise_distances(A, B), cdist(A, B), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(C.pairwise_distances(A, B, "l1"), cdist(A, B, "cityblock"), rtol=1e-12)


def test_pairwise_distances_identical_rows_are_not_nan():
    A = 1000.0 * np.random.default_rng(0).random((200, 16))
    sq = np.sum(A * A, 1)[:, None] + np.sum(A * A, 1)[None, :] - 2 * A @ A.T
    assert (np.diag(sq) < 0).any()                   # the rounding the clip guards against happens here
    d = C.pairwise_distances(A, A)
    assert not np.isnan(d).any() and np.abs(np.diag(d)).max() < 1e-3
    with pytest.raises(ValueError, match="metric"):
        C.pairwise_distances(A, A, "cosine")
    with pytest.raises(ValueError, match="arrays"):
        C.pairwise_distances(A, A[:, :3])


def test_knn_predict_votes_and_ties():
    d = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    assert C.knn_predict(d, np.array([7, 2, 7, 2, 9, 9]), 4).tolist() == [2]      # tie: smaller label
    assert C.knn_predict(d, np.array([5, 4, 3, 3, 4, 5]), 3).tolist() == [3]
    assert C.knn_predict(np.array([[1.0, 1.0, 0.5]]), np.array([4, 2, 1]), 1).tolist() == [1]
    assert C.knn_predict(np.array([[1.0, 1.0]]), np.array([4, 2]), 1).tolist() == [4]   # equal distances: index order
    with pytest.raises(ValueError, match="k must be"):
        C.knn_predict(d, np.zeros(6, int), 7)


def test_knn_matches_sklearn_on_digits():
    from sklearn.neighbors import KNeighborsClassifier
    dg = load_digits()
    dist = C.pairwise_distances(dg.X_val, dg.X_train)
    for k in (1, 3, 8):
        ours = C.knn_predict(dist, dg.y_train, k)
        ref = KNeighborsClassifier(n_neighbors=k).fit(dg.X_train, dg.y_train).predict(dg.X_val)
        assert np.mean(ours == ref) > 0.99          # sklearn breaks vote ties differently; rarely matters


def test_knn_cross_validate_shapes_and_values():
    dg = load_digits()
    acc = C.knn_cross_validate(dg.X_train[:300], dg.y_train[:300], [1, 5], num_folds=3, seed=1)
    assert acc.shape == (2, 3) and np.all((0 <= acc) & (acc <= 1)) and acc.mean() > 0.85
    again = C.knn_cross_validate(dg.X_train[:300], dg.y_train[:300], [1, 5], num_folds=3, seed=1)
    np.testing.assert_array_equal(acc, again)


@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_linear_loss_matches_torch_and_numeric(loss):
    rng = np.random.default_rng(3)
    W, X, y = rng.standard_normal((5, 4)), rng.standard_normal((9, 5)), rng.integers(0, 4, 9)
    value, dW = C.linear_loss(W, X, y, 0.2, loss)
    w = torch.tensor(W, requires_grad=True)
    s = torch.tensor(X) @ w
    ref = (torch.nn.functional.cross_entropy(s, torch.tensor(y)) if loss == "softmax"
           else torch.nn.functional.multi_margin_loss(s, torch.tensor(y)) * 4) + 0.2 * (w ** 2).sum()
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dW, w.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dW, numeric_gradient(lambda v: C.linear_loss(v, X, y, 0.2, loss)[0], W.copy()),
                               rtol=1e-5, atol=1e-7)
    free, dfree = C.linear_loss(W, X, y, 0.2, loss, penalize_bias=False)
    assert value - free == pytest.approx(0.2 * np.sum(W[-1] ** 2))
    np.testing.assert_allclose(dfree, numeric_gradient(
        lambda v: C.linear_loss(v, X, y, 0.2, loss, penalize_bias=False)[0], W.copy()), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="loss must be"):
        C.linear_loss(W, X, y, 0.0, "hinge")


def test_train_linear_learns_digits_and_is_reproducible():
    dg = load_digits()
    Xtr, Xva = C.add_bias_column(dg.X_train), C.add_bias_column(dg.X_val)
    W, hist = C.train_linear(Xtr, dg.y_train, 10, learning_rate=1.0, reg=1e-4, num_iters=300, seed=0)
    assert len(hist) == 300 and hist[-1] < 0.5 * hist[0] and C.accuracy(W, Xva, dg.y_val) > 0.9
    W2, hist2 = C.train_linear(Xtr, dg.y_train, 10, learning_rate=1.0, reg=1e-4, num_iters=300, seed=0)
    np.testing.assert_array_equal(W, W2)
    state = np.random.get_state()[1].copy()
    C.train_linear(Xtr, dg.y_train, 10, num_iters=3, seed=5, loss="svm")
    np.testing.assert_array_equal(np.random.get_state()[1], state)    # the global RNG is never touched


def test_train_linear_full_batch_and_batches():
    seen = []

    def loss_fn(W, X, y, reg):
        seen.append(len(X))
        return 0.5 * float(np.sum(W ** 2)), W

    X, y = np.ones((7, 2)), np.zeros(7, int)
    W, hist = C.train_linear(X, y, 3, loss=loss_fn, learning_rate=0.5, num_iters=4, batch_size=None,
                             W0=np.ones((2, 3)))
    assert seen == [7] * 4 and np.allclose(W, 0.5 ** 4) and hist[0] == pytest.approx(3.0)
    seen.clear()
    C.train_linear(X, y, 3, loss=loss_fn, num_iters=2, batch_size=7, replace=False)
    assert seen == [7, 7]


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    tr, va = rng.normal(5, 3, (100, 4)), rng.normal(-2, 1, (50, 4))
    a, b = C.standardize(tr, va)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(a.std(0), 1, rtol=1e-6)
    np.testing.assert_allclose(b, (va - tr.mean(0)) / (tr.std(0) + 1e-8))
    np.testing.assert_allclose(C.standardize(tr, scale=False), tr - tr.mean(0))

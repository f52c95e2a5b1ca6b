"""Nearest neighbours and linear classifiers in NumPy: the references unit 01's lecture calls.

The lecture demonstrates with these functions rather than re-implementing them, so that it
never prints the assignment's solutions (the assignment's grading kernel cannot import this
module). Conventions are the assignment's (cs231n's):

- examples are rows: ``X`` is (N, D), labels ``y`` are (N,) integers in ``0 .. C-1``;
- a linear classifier's weights ``W`` are (D, C), scores are ``X @ W``; a bias is the last row
  of ``W`` when ``X`` has a column of ones (:func:`add_bias_column`), so the L2 penalty
  ``reg * sum(W**2)`` includes the bias (see the lecture's *Conventions* note);
- a loss is the mean over the batch of the per-example loss, plus ``reg * sum(W**2)``;
- kNN vote ties go to the smaller label; equal distances are taken in index order.

Every function that draws random numbers takes a ``seed`` (an int or a Generator) and never
touches NumPy's global RNG.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .nn import softmax_loss as _softmax_scores_loss
from .nn import svm_loss as _svm_scores_loss

__all__ = ["add_bias_column", "pairwise_distances", "knn_predict", "knn_cross_validate", "linear_loss",
           "train_linear", "accuracy", "standardize", "LOSSES"]

LossFn = Callable[[np.ndarray, np.ndarray, np.ndarray, float], tuple[float, np.ndarray]]


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def add_bias_column(X: np.ndarray) -> np.ndarray:
    """``X`` (N, D) with a column of ones appended: (N, D + 1). Then ``X @ W`` adds ``W``'s last row.

    Introduced in lecture 01_linear_classifiers.
    """
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((X.shape[0], 1))])


# =============================================================================
# Nearest neighbours
# =============================================================================

def pairwise_distances(A: np.ndarray, B: np.ndarray, metric: str = "l2") -> np.ndarray:
    """Distances between the rows of ``A`` (N, D) and of ``B`` (M, D): an (N, M) float64 array.

    ``metric="l2"``: Euclidean, through ``||a||^2 + ||b||^2 - 2 a.b`` (one matrix product, memory
    O(NM + (N + M) D)); the squared distances are clipped at 0 before the square root, since
    rounding can make them slightly negative for (nearly) identical rows.
    ``metric="l1"``: Manhattan, one loop over the rows of ``A`` (memory O(MD) per row).

    Introduced in lecture 01_linear_classifiers.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"need (N, D) and (M, D) arrays, got {A.shape} and {B.shape}")
    if metric == "l2":
        sq = np.sum(A * A, axis=1)[:, None] + np.sum(B * B, axis=1)[None, :] - 2.0 * (A @ B.T)
        return np.sqrt(np.maximum(sq, 0.0))
    if metric == "l1":
        out = np.empty((A.shape[0], B.shape[0]))
        for i, a in enumerate(A):
            out[i] = np.abs(B - a).sum(axis=1)
        return out
    raise ValueError(f"metric must be 'l1' or 'l2', got {metric!r}")


def knn_predict(dists: np.ndarray, y_train: np.ndarray, k: int = 1) -> np.ndarray:
    """Majority vote of the ``k`` nearest training examples for each row of ``dists`` (N, M).

    Ties in the vote go to the smaller label; among equal distances the smaller index is nearer.

    Returns:
        (N,) int64 labels.

    Introduced in lecture 01_linear_classifiers.
    """
    dists = np.asarray(dists, dtype=np.float64)
    y_train = np.asarray(y_train)
    if not 1 <= k <= dists.shape[1]:
        raise ValueError(f"k must be in [1, {dists.shape[1]}], got {k}")
    nearest = np.argsort(dists, axis=1, kind="stable")[:, :k]          # (N, k)
    labels = y_train[nearest]                                          # (N, k)
    num_labels = int(y_train.max()) + 1
    counts = np.zeros((dists.shape[0], num_labels), dtype=np.int64)
    np.add.at(counts, (np.arange(dists.shape[0])[:, None], labels), 1)
    return np.argmax(counts, axis=1).astype(np.int64)                # first maximum: smallest label


def knn_cross_validate(X: np.ndarray, y: np.ndarray, ks: Sequence[int], *, num_folds: int = 5,
                       metric: str = "l2", seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Accuracy of kNN for every ``k`` of ``ks`` on each of ``num_folds`` folds: (len(ks), num_folds).

    The rows are shuffled once (with ``seed``) and split into folds; fold ``f`` is predicted from
    the other folds. Distances are computed once for all pairs.

    Introduced in lecture 01_linear_classifiers.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    folds = np.array_split(_rng(seed).permutation(len(X)), num_folds)
    dist = pairwise_distances(X, X, metric)
    acc = np.zeros((len(ks), num_folds))
    for f, held_out in enumerate(folds):
        keep = np.setdiff1d(np.arange(len(X)), held_out)
        block = dist[np.ix_(held_out, keep)]
        for a, k in enumerate(ks):
            acc[a, f] = np.mean(knn_predict(block, y[keep], k) == y[held_out])
    return acc


# =============================================================================
# Linear classifiers
# =============================================================================

def _linear(scores_loss) -> LossFn:
    def loss_fn(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
        loss, dscores = scores_loss(X @ W, y)
        return float(loss + reg * np.sum(W * W)), X.T @ dscores + 2.0 * reg * W
    return loss_fn


LOSSES: dict[str, LossFn] = {"softmax": _linear(_softmax_scores_loss), "svm": _linear(_svm_scores_loss)}


def linear_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float = 0.0,
                loss: str = "softmax", *, penalize_bias: bool = True) -> tuple[float, np.ndarray]:
    """Loss of a linear classifier and its gradient.

    Args:
        W: (D, C) weights; X: (N, D); y: (N,) labels; reg: L2 strength.
        loss: ``"softmax"`` (cross-entropy, :func:`course_lib.nn.softmax_loss`) or ``"svm"``
            (multiclass hinge with margin 1, :func:`course_lib.nn.svm_loss`).
        penalize_bias: with False, the last row of ``W`` (the bias, when ``X`` ends with a column
            of ones) is left out of the L2 penalty (the convention of unit 02 and most libraries).

    Returns:
        (loss, dW): mean data loss over the batch plus ``reg * sum(W**2)``, and its (D, C) gradient.

    Introduced in lecture 01_linear_classifiers.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if penalize_bias:
        return LOSSES[loss](W, X, y, reg)
    value, dW = LOSSES[loss](W, X, y, 0.0)
    penalized = np.array(W, dtype=np.float64)
    penalized[-1] = 0.0
    return value + reg * float(np.sum(penalized * penalized)), dW + 2.0 * reg * penalized


def accuracy(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of ``X`` whose highest score ``X @ W`` is their label.

    Introduced in lecture 01_linear_classifiers.
    """
    return float(np.mean(np.argmax(X @ W, axis=1) == y))


def train_linear(X: np.ndarray, y: np.ndarray, num_classes: int, *, loss: str | LossFn = "softmax",
                 learning_rate: float = 0.5, reg: float = 1e-4, num_iters: int = 300, batch_size: int | None = 100,
                 seed: int | np.random.Generator | None = 0, W0: np.ndarray | None = None,
                 replace: bool = True) -> tuple[np.ndarray, list[float]]:
    """Minibatch stochastic gradient descent on a linear classifier.

    ``W`` starts at ``W0`` (default ``0.001 * standard normal`` from the generator); then, for
    each of ``num_iters`` steps, a minibatch of ``batch_size`` rows is drawn (with replacement
    unless ``replace=False``; ``batch_size=None`` uses every row: full-batch gradient descent),
    and ``W <- W - learning_rate * dW``.

    Args:
        loss: ``"softmax"``, ``"svm"`` or a function ``(W, X, y, reg) -> (loss, dW)``.

    Returns:
        (W (D, C), history): history[t] is the minibatch loss at step t, before its update.

    Introduced in lecture 01_linear_classifiers.
    """
    rng = _rng(seed)
    X = np.asarray(X, dtype=np.float64)
    loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
    W = 0.001 * rng.standard_normal((X.shape[1], num_classes)) if W0 is None else np.array(W0, dtype=np.float64)
    history: list[float] = []
    for _ in range(int(num_iters)):
        if batch_size is None:
            value, dW = loss_fn(W, X, y, reg)
        else:
            idx = rng.choice(X.shape[0], size=batch_size, replace=replace)
            value, dW = loss_fn(W, X[idx], y[idx], reg)
        history.append(float(value))
        W = W - learning_rate * dW
    return W, history


# =============================================================================
# Preprocessing
# =============================================================================

def standardize(X_train: np.ndarray, *others: np.ndarray, scale: bool = True,
                eps: float = 1e-8) -> np.ndarray | tuple[np.ndarray, ...]:
    """Subtract the training mean of every feature (and divide by its training std with ``scale``).

    The statistics come from ``X_train`` only and are applied unchanged to ``others`` (validation,
    test): using their own statistics would leak them into the model.

    Returns:
        the transformed ``X_train`` followed by each of ``others`` (a tuple when there are others).

    Introduced in lecture 01_linear_classifiers.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0) + eps if scale else np.ones_like(mean)
    out = tuple((np.asarray(a, dtype=np.float64) - mean) / std for a in (X_train, *others))
    return out if others else out[0]

"""Affine layer, elementwise activations, softmax and the classification / regression losses.

Every layer is a pair ``<layer>_forward(x, ...) -> (out, cache)`` and
``<layer>_backward(dout, cache) -> grads``.  Layers with parameters return a
:class:`typing.NamedTuple` of gradients (``dx, dw, db``) that unpacks like a
tuple; parameter-free layers return ``dx`` alone.  Losses return
``(loss, dscores)`` where ``dscores`` is the gradient of ``loss`` (a Python
float) with respect to the scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "AffineCache", "AffineGrads", "affine_forward", "affine_backward",
    "ReluCache", "relu_forward", "relu_backward",
    "LeakyReluCache", "leaky_relu_forward", "leaky_relu_backward",
    "SigmoidCache", "sigmoid", "sigmoid_forward", "sigmoid_backward",
    "TanhCache", "tanh_forward", "tanh_backward",
    "softmax", "log_softmax",
    "softmax_loss", "svm_loss", "mse_loss", "bce_with_logits_loss",
    "AffineReluCache", "affine_relu_forward", "affine_relu_backward",
]


# --------------------------------------------------------------------------- affine
@dataclass
class AffineCache:
    """What :func:`affine_backward` needs: the input (original shape) and the weights.

    Introduced in lecture 02_backprop.
    """
    x: np.ndarray
    w: np.ndarray


class AffineGrads(NamedTuple):
    """Gradients of an affine layer, in the order ``(dx, dw, db)``.

    Introduced in lecture 02_backprop.
    """
    dx: np.ndarray
    dw: np.ndarray
    db: np.ndarray


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """Fully connected layer ``out = x.reshape(N, D) @ w + b``.

    Args:
        x: (N, d_1, ..., d_k) input; each example is flattened to D = d_1 * ... * d_k.
        w: (D, M) weights (note: PyTorch's ``nn.Linear.weight`` is the transpose, (M, D)).
        b: (M,) bias.

    Returns:
        out: (N, M) and an :class:`AffineCache`.

    Introduced in lecture 02_backprop.
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, AffineCache(x=x, w=w)


def affine_backward(dout: np.ndarray, cache: AffineCache) -> AffineGrads:
    """Backward pass of :func:`affine_forward`.

    Args:
        dout: (N, M) upstream gradient.
        cache: from the forward pass.

    Returns:
        ``AffineGrads(dx, dw, db)`` with shapes (N, d_1, ..., d_k), (D, M), (M,).

    Introduced in lecture 02_backprop.
    """
    x, w = cache.x, cache.w
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    return AffineGrads(dx, dw, db)


# --------------------------------------------------------------------------- activations
@dataclass
class ReluCache:
    """The input of the ReLU (its sign decides where the gradient passes).

    Introduced in lecture 02_backprop.
    """
    x: np.ndarray


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, ReluCache]:
    """ReLU ``max(0, x)`` elementwise. x: any shape. Returns (out, cache) with out like x.

    Introduced in lecture 02_backprop.
    """
    return np.maximum(x, 0), ReluCache(x=x)


def relu_backward(dout: np.ndarray, cache: ReluCache) -> np.ndarray:
    """Gradient of ReLU: ``dout`` where ``x > 0``, 0 elsewhere (0 at exactly x == 0, as PyTorch).

    Introduced in lecture 02_backprop.
    """
    return np.where(cache.x > 0, dout, 0).astype(dout.dtype, copy=False)


@dataclass
class LeakyReluCache:
    """The input and the slope used for negative inputs.

    Introduced in lecture 02_backprop.
    """
    x: np.ndarray
    negative_slope: float


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01) -> tuple[np.ndarray, LeakyReluCache]:
    """Leaky ReLU: ``x`` where ``x > 0``, ``negative_slope * x`` elsewhere (PyTorch's default 0.01).

    x: any shape; out has the same shape.

    Introduced in lecture 02_backprop.
    """
    out = np.where(x > 0, x, negative_slope * x).astype(x.dtype, copy=False)
    return out, LeakyReluCache(x=x, negative_slope=negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache: LeakyReluCache) -> np.ndarray:
    """Gradient of leaky ReLU; at x == 0 the slope is ``negative_slope`` (as PyTorch).

    Introduced in lecture 02_backprop.
    """
    return np.where(cache.x > 0, dout, cache.negative_slope * dout).astype(dout.dtype, copy=False)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function ``1 / (1 + exp(-x))`` (no overflow for large |x|).

    Introduced in lecture 02_backprop.
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.result_type(x, np.float32), copy=False)


@dataclass
class SigmoidCache:
    """The sigmoid output (the derivative is ``out * (1 - out)``).

    Introduced in lecture 02_backprop.
    """
    out: np.ndarray


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, SigmoidCache]:
    """Logistic sigmoid elementwise (stable). x: any shape.

    Introduced in lecture 02_backprop.
    """
    out = sigmoid(x)
    return out, SigmoidCache(out=out)


def sigmoid_backward(dout: np.ndarray, cache: SigmoidCache) -> np.ndarray:
    """Gradient of the sigmoid: ``dout * s * (1 - s)``.

    Introduced in lecture 02_backprop.
    """
    s = cache.out
    return dout * s * (1 - s)


@dataclass
class TanhCache:
    """The tanh output (the derivative is ``1 - out**2``).

    Introduced in lecture 02_backprop.
    """
    out: np.ndarray


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, TanhCache]:
    """Hyperbolic tangent elementwise. x: any shape.

    Introduced in lecture 02_backprop.
    """
    out = np.tanh(x)
    return out, TanhCache(out=out)


def tanh_backward(dout: np.ndarray, cache: TanhCache) -> np.ndarray:
    """Gradient of tanh: ``dout * (1 - tanh(x)**2)``.

    Introduced in lecture 02_backprop.
    """
    return dout * (1 - cache.out ** 2)


# --------------------------------------------------------------------------- softmax
def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, stable (the max is subtracted first, so ``exp`` never overflows).

    x: any shape; the result has the same shape and sums to 1 along ``axis``.

    Introduced in lecture 01_linear_classifiers.
    """
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` computed stably as ``z - log(sum(exp(z)))`` with ``z = x - max(x)``.

    Introduced in lecture 02_backprop.
    """
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------- losses
def _check_labels(y: np.ndarray, n: int, c: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"labels must lie in [0, {c}), got values in [{y.min()}, {y.max()}]")
    return y


def softmax_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy, averaged over the batch (PyTorch's ``F.cross_entropy``).

    Stable for any scores: it works with log-softmax, never with ``log(softmax)``.

    Args:
        scores: (N, C) unnormalised class scores (logits).
        y: (N,) integer labels in [0, C).

    Returns:
        loss: ``mean_i -log softmax(scores_i)[y_i]`` as a float.
        dscores: (N, C) gradient, ``(softmax(scores) - onehot(y)) / N``.

    Introduced in lecture 01_linear_classifiers.
    """
    n, c = scores.shape
    y = _check_labels(y, n, c)
    logp = log_softmax(scores, axis=1)
    rows = np.arange(n)
    loss = -float(np.mean(logp[rows, y]))
    dscores = np.exp(logp)
    dscores[rows, y] -= 1
    dscores /= n
    return loss, dscores


def svm_loss(scores: np.ndarray, y: np.ndarray, delta: float = 1.0) -> tuple[float, np.ndarray]:
    """Multiclass hinge (SVM) loss, Weston-Watkins form, averaged over the batch.

    ``loss = mean_i sum_{j != y_i} max(0, s_ij - s_iy_i + delta)``; the correct class
    contributes nothing (not ``delta``).  With ``delta=1`` this equals PyTorch's
    ``F.multi_margin_loss(scores, y, margin=1) * C`` (PyTorch also divides by C).
    At a hinge (margin exactly 0) the subgradient 0 is used.

    Args:
        scores: (N, C) class scores.
        y: (N,) integer labels in [0, C).
        delta: the margin.

    Returns:
        loss as a float, and dscores (N, C).

    Introduced in lecture 01_linear_classifiers.
    """
    n, c = scores.shape
    y = _check_labels(y, n, c)
    rows = np.arange(n)
    correct = scores[rows, y][:, None]
    margins = np.maximum(0, scores - correct + delta)
    margins[rows, y] = 0
    loss = float(margins.sum() / n)
    positive = (margins > 0).astype(scores.dtype)
    dscores = positive
    dscores[rows, y] = -positive.sum(axis=1)
    dscores /= n
    return loss, dscores


def mse_loss(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error averaged over ALL elements (PyTorch's ``F.mse_loss``, reduction='mean').

    Note: some texts use ``1/2`` in front or average over the batch only; this one does neither.

    Args:
        pred: any shape.
        target: same shape as ``pred``.

    Returns:
        loss as a float, and dpred (same shape), ``2 (pred - target) / pred.size``.

    Introduced in lecture 01_linear_classifiers.
    """
    if pred.shape != np.shape(target):
        raise ValueError(f"pred and target shapes differ: {pred.shape} vs {np.shape(target)}")
    diff = pred - target
    loss = float(np.mean(diff ** 2))
    return loss, 2 * diff / diff.size


def bce_with_logits_loss(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on logits, averaged over all elements (``F.binary_cross_entropy_with_logits``).

    Computed stably as ``max(z, 0) - z * t + log(1 + exp(-|z|))``, which never
    overflows and never takes ``log(0)``; targets may be soft (any value in [0, 1]).

    Args:
        logits: any shape, the pre-sigmoid scores z.
        targets: same shape, values in [0, 1].

    Returns:
        loss as a float, and dlogits (same shape), ``(sigmoid(z) - t) / z.size``.

    Introduced in lecture 02_backprop.
    """
    if logits.shape != np.shape(targets):
        raise ValueError(f"logits and targets shapes differ: {logits.shape} vs {np.shape(targets)}")
    z = logits
    per = np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))
    loss = float(np.mean(per))
    dlogits = (sigmoid(z) - targets) / z.size
    return loss, dlogits.astype(np.result_type(z, np.float32), copy=False)


# --------------------------------------------------------------------------- composite
@dataclass
class AffineReluCache:
    """The caches of the two layers of :func:`affine_relu_forward`.

    Introduced in lecture 02_backprop.
    """
    affine: AffineCache
    relu: ReluCache


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineReluCache]:
    """Affine layer followed by ReLU. Shapes as :func:`affine_forward`; out: (N, M).

    Introduced in lecture 02_backprop.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, AffineReluCache(affine=fc_cache, relu=relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: AffineReluCache) -> AffineGrads:
    """Backward pass of :func:`affine_relu_forward`: ``AffineGrads(dx, dw, db)``.

    Introduced in lecture 02_backprop.
    """
    da = relu_backward(dout, cache.relu)
    return affine_backward(da, cache.affine)

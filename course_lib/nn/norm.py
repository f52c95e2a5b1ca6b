"""Normalisation and regularisation layers: batch norm, spatial batch norm, layer norm, dropout.

Conventions (sources disagree; these follow PyTorch):

* Batch-norm ``momentum`` weights the NEW statistic:
  ``running = (1 - momentum) * running + momentum * batch_stat`` (PyTorch, default 0.1).
  cs231n and Keras write the same update with ``momentum`` weighting the OLD value (0.9).
* The running variance is updated with the UNBIASED batch variance (divide by N - 1),
  as PyTorch does; normalisation in training uses the biased one (divide by N).
  Pass ``unbiased_running_var=False`` in :class:`BatchNormState` for cs231n's behaviour.
* ``eps`` is added to the variance inside the square root: ``(x - mu) / sqrt(var + eps)``.
* Dropout ``p`` is the probability of DROPPING a unit (PyTorch); the kept units are
  scaled by ``1 / (1 - p)`` in training (inverted dropout), so evaluation is the identity.
  (cs231n's older assignments use ``p`` as the KEEP probability.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from ._common import as_rng

__all__ = [
    "BatchNormState", "BatchNormCache", "BatchNormGrads",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "LayerNormCache", "layernorm_forward", "layernorm_backward",
    "DropoutCache", "dropout_forward", "dropout_backward",
]


# --------------------------------------------------------------------------- batch norm
@dataclass
class BatchNormState:
    """Mode and running statistics of one batch-norm layer (updated in place by the forward pass).

    Attributes:
        num_features: D, the number of features (channels).
        mode: ``"train"`` uses and updates batch statistics; ``"eval"`` uses the running ones.
        momentum: weight of the NEW batch statistic in the running average (PyTorch's convention).
        eps: added to the variance before the square root.
        running_mean: (D,), starts at 0.
        running_var: (D,), starts at 1.
        unbiased_running_var: update ``running_var`` with the N-1 variance (PyTorch) or the N one.

    Introduced in lecture 02_backprop.
    """
    num_features: int
    mode: Literal["train", "eval"] = "train"
    momentum: float = 0.1
    eps: float = 1e-5
    running_mean: np.ndarray = None  # type: ignore[assignment]
    running_var: np.ndarray = None  # type: ignore[assignment]
    unbiased_running_var: bool = True
    dtype: type = field(default=np.float64, repr=False)

    def __post_init__(self) -> None:
        if self.running_mean is None:
            self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        if self.running_var is None:
            self.running_var = np.ones(self.num_features, dtype=self.dtype)
        if self.mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {self.mode!r}")


@dataclass
class BatchNormCache:
    """What the batch-norm backward passes need.

    Introduced in lecture 02_backprop.
    """
    x_hat: np.ndarray      # (N, D) normalised input
    inv_std: np.ndarray    # (D,) 1 / sqrt(var + eps)
    gamma: np.ndarray      # (D,)
    xc: np.ndarray         # (N, D) centred input x - mu
    mode: str


class BatchNormGrads(NamedTuple):
    """Gradients of a normalisation layer, in the order ``(dx, dgamma, dbeta)``.

    Introduced in lecture 02_backprop.
    """
    dx: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      state: BatchNormState) -> tuple[np.ndarray, BatchNormCache]:
    """Batch normalisation over the batch axis (PyTorch's ``BatchNorm1d``).

    Train mode normalises with the batch mean and biased variance, and updates
    ``state.running_mean``/``state.running_var`` in place (see the module docstring
    for the momentum and variance conventions).  Eval mode normalises with the
    running statistics and changes nothing.

    Args:
        x: (N, D) input.
        gamma: (D,) scale.
        beta: (D,) shift.
        state: a :class:`BatchNormState` (mode, momentum, eps, running statistics).

    Returns:
        out: (N, D) ``gamma * x_hat + beta``, and a :class:`BatchNormCache`.

    Introduced in lecture 02_backprop.
    """
    if x.ndim != 2 or x.shape[1] != state.num_features:
        raise ValueError(f"batch norm expects x of shape (N, {state.num_features}), got {x.shape}")
    if state.mode == "train":
        n = x.shape[0]
        mu = x.mean(axis=0)
        xc = x - mu
        var = np.mean(xc ** 2, axis=0)
        inv_std = 1.0 / np.sqrt(var + state.eps)
        m = state.momentum
        var_run = var * n / (n - 1) if (state.unbiased_running_var and n > 1) else var
        state.running_mean = (1 - m) * state.running_mean + m * mu
        state.running_var = (1 - m) * state.running_var + m * var_run
    elif state.mode == "eval":
        xc = x - state.running_mean
        inv_std = 1.0 / np.sqrt(state.running_var + state.eps)
    else:
        raise ValueError(f"invalid batch-norm mode {state.mode!r}")
    x_hat = xc * inv_std
    out = gamma * x_hat + beta
    return out, BatchNormCache(x_hat=x_hat, inv_std=inv_std, gamma=gamma, xc=xc, mode=state.mode)


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache) -> BatchNormGrads:
    """Backward pass of :func:`batchnorm_forward`, step by step through the computational graph.

    Args:
        dout: (N, D) upstream gradient.

    Returns:
        ``BatchNormGrads(dx, dgamma, dbeta)``: (N, D), (D,), (D,).

    Introduced in lecture 02_backprop.
    """
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * cache.x_hat, axis=0)
    dx_hat = dout * cache.gamma
    if cache.mode == "eval":  # running statistics are constants
        return BatchNormGrads(dx_hat * cache.inv_std, dgamma, dbeta)
    n = dout.shape[0]
    xc, inv_std = cache.xc, cache.inv_std
    # x_hat = xc * inv_std, inv_std = (var + eps)^-1/2, var = mean(xc^2), xc = x - mean(x)
    dinv_std = np.sum(dx_hat * xc, axis=0)
    dvar = -0.5 * inv_std ** 3 * dinv_std
    dxc = dx_hat * inv_std + 2.0 * xc * dvar / n
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / n
    return BatchNormGrads(dx, dgamma, dbeta)


def batchnorm_backward_alt(dout: np.ndarray, cache: BatchNormCache) -> BatchNormGrads:
    """Backward pass of :func:`batchnorm_forward` in the simplified closed form.

    ``dx = inv_std / N * (N * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))``
    with ``dx_hat = dout * gamma``; same results as :func:`batchnorm_backward`.

    Introduced in lecture 02_backprop.
    """
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * cache.x_hat, axis=0)
    dx_hat = dout * cache.gamma
    if cache.mode == "eval":
        return BatchNormGrads(dx_hat * cache.inv_std, dgamma, dbeta)
    n = dout.shape[0]
    dx = (cache.inv_std / n) * (n * dx_hat - dx_hat.sum(axis=0)
                                - cache.x_hat * np.sum(dx_hat * cache.x_hat, axis=0))
    return BatchNormGrads(dx, dgamma, dbeta)


def spatial_batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                              state: BatchNormState) -> tuple[np.ndarray, BatchNormCache]:
    """Batch norm per channel over (N, H, W), as PyTorch's ``BatchNorm2d``.

    Args:
        x: (N, C, H, W); gamma, beta: (C,); state: with ``num_features == C``.

    Returns:
        out: (N, C, H, W) and the cache of the underlying :func:`batchnorm_forward`.

    Introduced in lecture 02_backprop.
    """
    n, c, h, w = x.shape
    x2 = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out2, cache = batchnorm_forward(x2, gamma, beta, state)
    return out2.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout: np.ndarray, cache: BatchNormCache) -> BatchNormGrads:
    """Backward pass of :func:`spatial_batchnorm_forward`: ``(dx (N, C, H, W), dgamma (C,), dbeta (C,))``.

    Introduced in lecture 02_backprop.
    """
    n, c, h, w = dout.shape
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx2, dgamma, dbeta = batchnorm_backward_alt(d2, cache)
    return BatchNormGrads(dx2.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta)


# --------------------------------------------------------------------------- layer norm
@dataclass
class LayerNormCache:
    """What :func:`layernorm_backward` needs.

    Introduced in lecture 02_backprop.
    """
    x_hat: np.ndarray     # (..., D)
    inv_std: np.ndarray   # (..., 1)
    gamma: np.ndarray     # (D,)


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float = 1e-5) -> tuple[np.ndarray, LayerNormCache]:
    """Layer normalisation over the last axis (PyTorch's ``LayerNorm(D)``; biased variance).

    The same computation in train and eval: there are no running statistics.

    Args:
        x: (..., D), e.g. (N, D) or (N, T, D).
        gamma: (D,) scale.
        beta: (D,) shift.
        eps: added to the variance before the square root.

    Returns:
        out: same shape as x, and a :class:`LayerNormCache`.

    Introduced in lecture 02_backprop.
    """
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc ** 2, axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = xc * inv_std
    return gamma * x_hat + beta, LayerNormCache(x_hat=x_hat, inv_std=inv_std, gamma=gamma)


def layernorm_backward(dout: np.ndarray, cache: LayerNormCache) -> BatchNormGrads:
    """Backward pass of :func:`layernorm_forward`: ``(dx (..., D), dgamma (D,), dbeta (D,))``.

    Introduced in lecture 02_backprop.
    """
    d = dout.shape[-1]
    lead = tuple(range(dout.ndim - 1))
    dbeta = dout.sum(axis=lead)
    dgamma = np.sum(dout * cache.x_hat, axis=lead)
    dx_hat = dout * cache.gamma
    dx = (cache.inv_std / d) * (d * dx_hat - dx_hat.sum(axis=-1, keepdims=True)
                                - cache.x_hat * np.sum(dx_hat * cache.x_hat, axis=-1, keepdims=True))
    return BatchNormGrads(dx, dgamma, dbeta)


# --------------------------------------------------------------------------- dropout
@dataclass
class DropoutCache:
    """The scaled keep-mask (``mask / (1 - p)``), or ``None`` in eval mode / when p == 0.

    Introduced in lecture 02_backprop.
    """
    scaled_mask: np.ndarray | None
    p: float
    train: bool


def dropout_forward(x: np.ndarray, p: float, train: bool = True,
                    rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, DropoutCache]:
    """Inverted dropout: in training, zero each unit with probability ``p`` and scale the rest by 1/(1-p).

    ``p`` is the DROP probability (PyTorch's convention).  In eval mode (``train=False``)
    this is the identity, and the expected value of the training output equals ``x``.

    Args:
        x: any shape.
        p: drop probability in [0, 1).  (p == 1 would divide by zero and is refused.)
        train: training or evaluation mode.
        rng: a ``numpy.random.Generator`` or a seed; ``None`` draws a fresh unseeded
            generator.  The global NumPy RNG is never used.

    Returns:
        out: same shape as x, and a :class:`DropoutCache`.

    Introduced in lecture 02_backprop.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout p is the drop probability and must be in [0, 1), got {p}")
    if not train or p == 0.0:
        return x, DropoutCache(scaled_mask=None, p=p, train=train)
    gen = as_rng(rng)
    keep = gen.random(x.shape) >= p
    scaled_mask = keep.astype(x.dtype) / (1.0 - p)
    return x * scaled_mask, DropoutCache(scaled_mask=scaled_mask, p=p, train=train)


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> np.ndarray:
    """Backward pass of :func:`dropout_forward`: ``dout`` times the same scaled mask (identity in eval).

    Introduced in lecture 02_backprop.
    """
    if cache.scaled_mask is None:
        return dout
    return dout * cache.scaled_mask

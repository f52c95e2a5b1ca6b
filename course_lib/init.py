"""Weight initialisers in NumPy: Xavier/Glorot and He/Kaiming.

Shapes follow the NumPy layers of this course (cs231n convention), which differ
from PyTorch's:

- fully connected ``W``: ``(fan_in, fan_out)`` = ``(D, M)`` because ``out = x @ W``
  (PyTorch's ``nn.Linear.weight`` is ``(out, in)``);
- convolution ``W``: ``(F, C, HH, WW)``, so ``fan_in = C * HH * WW`` and
  ``fan_out = F * HH * WW`` (the same as PyTorch).

Every function takes a ``numpy.random.Generator`` (or an int seed) and never
touches the global RNG.
"""
from __future__ import annotations

import math

import numpy as np

#: a Generator, a seed for a new one, or None (a fresh, unseeded one)
RNGLike = np.random.Generator | int | None

__all__ = ["fans", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "gain"]


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def fans(shape: tuple) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``: (D, M) for dense, (F, C, HH, WW) for conv.

    Introduced in lecture 02_backprop.
    """
    shape = tuple(shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) >= 3:
        receptive = int(np.prod(shape[2:]))
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"need a weight of at least 2 dimensions, got shape {shape}")


def gain(nonlinearity: str = "linear") -> float:
    """Recommended gain (PyTorch's ``calculate_gain``): 1 linear/sigmoid, 5/3 tanh, sqrt(2) relu.

    Introduced in lecture 02_backprop.
    """
    table = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}
    if nonlinearity not in table:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose from {sorted(table)}")
    return table[nonlinearity]


def xavier_uniform(shape: tuple, rng: RNGLike = None, *, gain: float = 1.0) -> np.ndarray:
    """Glorot uniform: U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``; variance ``2 gain^2 / (fan_in + fan_out)``.

    Returns:
        float64 array of ``shape``.

    Introduced in lecture 02_backprop.
    """
    fi, fo = fans(shape)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return _rng(rng).uniform(-a, a, size=shape)


def xavier_normal(shape: tuple, rng: RNGLike = None, *, gain: float = 1.0) -> np.ndarray:
    """Glorot normal: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Introduced in lecture 02_backprop.
    """
    fi, fo = fans(shape)
    return _rng(rng).normal(0.0, gain * math.sqrt(2.0 / (fi + fo)), size=shape)


def he_normal(shape: tuple, rng: RNGLike = None, *, mode: str = "fan_in", gain: float = math.sqrt(2.0)) -> np.ndarray:
    """He/Kaiming normal: N(0, std^2), ``std = gain / sqrt(fan)`` (gain sqrt(2) for ReLU).

    Args:
        mode: ``"fan_in"`` (keeps forward variance) or ``"fan_out"`` (keeps backward variance).

    Introduced in lecture 02_backprop.
    """
    fi, fo = fans(shape)
    fan = {"fan_in": fi, "fan_out": fo}[mode]
    return _rng(rng).normal(0.0, gain / math.sqrt(fan), size=shape)


def he_uniform(shape: tuple, rng: RNGLike = None, *, mode: str = "fan_in", gain: float = math.sqrt(2.0)) -> np.ndarray:
    """He/Kaiming uniform: U(-a, a), ``a = gain * sqrt(3 / fan)``.

    Introduced in lecture 02_backprop.
    """
    fi, fo = fans(shape)
    fan = {"fan_in": fi, "fan_out": fo}[mode]
    return _rng(rng).uniform(-1, 1, size=shape) * gain * math.sqrt(3.0 / fan)

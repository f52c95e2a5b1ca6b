"""Shared hypothesis strategies for the library tests (one module, as minitorch does).

Values are drawn from a bounded range with no NaN/inf so that float64 comparisons
against PyTorch are meaningful; shapes are kept small so that a test runs fast.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "floats", "float_arrays", "matrices", "conv_configs", "pool_configs", "attention_configs",
    "probabilities", "seeds",
]

seeds = st.integers(min_value=0, max_value=2**32 - 1)
probabilities = st.floats(min_value=0.0, max_value=0.9, allow_nan=False)


def floats(bound: float = 10.0) -> st.SearchStrategy[float]:
    """Finite float64 values in [-bound, bound]."""
    return st.floats(min_value=-bound, max_value=bound, allow_nan=False, allow_infinity=False, width=64)


def float_arrays(shape, bound: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` (a tuple or a shape strategy) with finite values in [-bound, bound]."""
    return hnp.arrays(np.float64, shape, elements=floats(bound))


def matrices(min_rows: int = 1, max_rows: int = 6, min_cols: int = 1, max_cols: int = 8,
             bound: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    """2-D float64 arrays of a random small shape."""
    shapes = st.tuples(st.integers(min_rows, max_rows), st.integers(min_cols, max_cols))
    return float_arrays(shapes, bound)


@st.composite
def conv_configs(draw) -> dict:
    """A small convolution problem whose kernel fits: x, w, b, stride, pad."""
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 3))
    f = draw(st.integers(1, 4))
    hh = draw(st.integers(1, 4))
    ww = draw(st.integers(1, 4))
    pad = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, hh - 2 * pad), 9))
    w = draw(st.integers(max(1, ww - 2 * pad), 9))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    return dict(x=rng.standard_normal((n, c, h, w)), w=rng.standard_normal((f, c, hh, ww)),
                b=rng.standard_normal(f), stride=stride, pad=pad)


@st.composite
def pool_configs(draw, integer_values: bool = False) -> dict:
    """A small pooling problem: x (N, C, H, W), pool_height, pool_width, stride.

    With ``integer_values`` the inputs are small integers, so ties in a window are common.
    """
    ph = draw(st.integers(1, 3))
    pw = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(ph, 9)), draw(st.integers(pw, 9))
    rng = np.random.default_rng(draw(seeds))
    x = rng.integers(-2, 3, (n, c, h, w)).astype(np.float64) if integer_values \
        else rng.standard_normal((n, c, h, w))
    return dict(x=x, pool_height=ph, pool_width=pw, stride=stride)


@st.composite
def attention_configs(draw) -> dict:
    """q (B, Lq, d), k (B, Lk, d), v (B, Lk, dv) and a random boolean mask (B, Lq, Lk)."""
    b, lq, lk = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d, dv = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(seeds))
    return dict(q=rng.standard_normal((b, lq, d)), k=rng.standard_normal((b, lk, d)),
                v=rng.standard_normal((b, lk, dv)), mask=rng.random((b, lq, lk)) < 0.6)

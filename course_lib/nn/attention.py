"""Scaled dot-product attention, multi-head attention and sinusoidal positional encoding.

Mask convention (as ``torch.nn.functional.scaled_dot_product_attention`` with a
boolean ``attn_mask``): ``mask[..., i, j] = True`` means query ``i`` MAY attend to
key ``j``; False entries get score ``-inf`` before the softmax.  (Careful:
``torch.nn.MultiheadAttention`` uses the opposite meaning for a boolean mask.)

Fully masked rows: a query that may attend to no key gets attention weights of
all zeros, hence an output of zeros and zero gradients, without NaN and without
a warning.  (A naive softmax over a row of ``-inf`` gives 0/0 = NaN.)

Weights multiply on the right, ``x @ Wq`` with ``Wq: (E, E)``; PyTorch's
``in_proj_weight`` rows hold the transposes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "AttentionCache", "AttentionGrads", "masked_softmax",
    "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward",
    "MultiHeadAttentionCache", "MultiHeadAttentionGrads",
    "multi_head_attention_forward", "multi_head_attention_backward",
    "sinusoidal_positional_encoding",
]


def masked_softmax(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis, ignoring entries where ``mask`` is False.

    Args:
        scores: (..., L) scores.
        mask: boolean, broadcastable to ``scores``; True = keep.  ``None`` keeps everything.

    Returns:
        Weights like ``scores``: masked entries are exactly 0; a row with no kept entry
        is all zeros (not NaN).

    Introduced in lecture 05_attention.
    """
    if mask is None:
        e = scores - scores.max(axis=-1, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=-1, keepdims=True)
        return e
    s = np.where(mask, scores, -np.inf)            # exp(-inf) is exactly 0: masked entries vanish
    m = s.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0.0                       # fully masked row: any finite shift will do
    s -= m
    np.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    total[total == 0] = 1.0                        # fully masked row: 0 / 1 = 0, not 0 / 0
    s /= total
    return s.astype(scores.dtype, copy=False)


@dataclass
class AttentionCache:
    """What :func:`scaled_dot_product_attention_backward` needs.

    Introduced in lecture 05_attention.
    """
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    weights: np.ndarray   # (..., Lq, Lk) attention weights (rows sum to 1, or 0 if fully masked)
    scale: float


class AttentionGrads(NamedTuple):
    """Gradients of attention with respect to its inputs, in the order ``(dq, dk, dv)``.

    Introduced in lecture 05_attention.
    """
    dq: np.ndarray
    dk: np.ndarray
    dv: np.ndarray


def scaled_dot_product_attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                         mask: np.ndarray | None = None, scale: float | None = None
                                         ) -> tuple[np.ndarray, AttentionCache]:
    """``softmax(q @ k^T * scale, masked) @ v``.

    Args:
        q: (..., Lq, d) queries; leading axes (batch, heads) are broadcast.
        k: (..., Lk, d) keys.
        v: (..., Lk, dv) values.
        mask: boolean, broadcastable to (..., Lq, Lk); True = may attend.  ``None``: all visible.
            For causal attention use ``np.tril(np.ones((L, L), bool))``.
        scale: multiplies the scores; default ``1 / sqrt(d)``.

    Returns:
        out: (..., Lq, dv) and an :class:`AttentionCache`.  Fully masked query rows
        give zeros (see the module docstring).

    Introduced in lecture 05_attention.
    """
    # a Python float, so that float32 inputs stay float32 (a NumPy float64 scalar would upcast)
    scale = float(1.0 / np.sqrt(q.shape[-1]) if scale is None else scale)
    scores = q @ np.swapaxes(k, -1, -2)
    scores *= scale
    weights = masked_softmax(scores, mask)
    return weights @ v, AttentionCache(q=q, k=k, v=v, weights=weights, scale=scale)


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that were broadcast to reach its shape from ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def scaled_dot_product_attention_backward(dout: np.ndarray, cache: AttentionCache) -> AttentionGrads:
    """Backward pass of :func:`scaled_dot_product_attention_forward`.

    Args:
        dout: (..., Lq, dv) upstream gradient.

    Returns:
        ``AttentionGrads(dq, dk, dv)`` with the shapes of q, k, v.

    Introduced in lecture 05_attention.
    """
    q, k, v, w, scale = cache.q, cache.k, cache.v, cache.weights, cache.scale
    dv = np.swapaxes(w, -1, -2) @ dout
    ds = dout @ np.swapaxes(v, -1, -2)                   # gradient of the weights
    ds -= np.sum(ds * w, axis=-1, keepdims=True)          # softmax backward ...
    ds *= w
    ds *= scale                                           # ... and the scale: gradient of q @ k^T
    dq = ds @ k
    dk = np.swapaxes(ds, -1, -2) @ q
    return AttentionGrads(_unbroadcast(dq, q.shape), _unbroadcast(dk, k.shape), _unbroadcast(dv, v.shape))


# --------------------------------------------------------------------------- multi-head
@dataclass
class MultiHeadAttentionCache:
    """What :func:`multi_head_attention_backward` needs.

    Introduced in lecture 05_attention.
    """
    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    Wo: np.ndarray
    concat: np.ndarray          # (N, Lq, E) heads concatenated, input of the output projection
    attention: AttentionCache   # on (N, heads, L, E / heads)
    num_heads: int


class MultiHeadAttentionGrads(NamedTuple):
    """Gradients of multi-head attention, in the order
    ``(dquery, dkey, dvalue, dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo)``.

    For self-attention (the same array passed as query, key and value) the gradient
    of that array is ``dquery + dkey + dvalue``.

    Introduced in lecture 05_attention.
    """
    dquery: np.ndarray
    dkey: np.ndarray
    dvalue: np.ndarray
    dWq: np.ndarray
    dbq: np.ndarray
    dWk: np.ndarray
    dbk: np.ndarray
    dWv: np.ndarray
    dbv: np.ndarray
    dWo: np.ndarray
    dbo: np.ndarray


def _split_heads(x: np.ndarray, h: int) -> np.ndarray:
    n, L, e = x.shape
    return x.reshape(n, L, h, e // h).transpose(0, 2, 1, 3)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    n, h, L, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, L, h * dh)


def multi_head_attention_forward(query: np.ndarray, key: np.ndarray, value: np.ndarray,
                                 Wq: np.ndarray, bq: np.ndarray, Wk: np.ndarray, bk: np.ndarray,
                                 Wv: np.ndarray, bv: np.ndarray, Wo: np.ndarray, bo: np.ndarray,
                                 num_heads: int, mask: np.ndarray | None = None
                                 ) -> tuple[np.ndarray, MultiHeadAttentionCache]:
    """Multi-head attention (Vaswani et al. 2017) without dropout.

    ``Q = query @ Wq + bq`` (likewise K, V), split into ``num_heads`` heads of size
    E / num_heads, scaled dot-product attention per head, heads concatenated, then
    ``@ Wo + bo``.

    Args:
        query: (N, Lq, E); key, value: (N, Lk, E).
        Wq, Wk, Wv, Wo: (E, E); bq, bk, bv, bo: (E,).
        num_heads: must divide E.
        mask: boolean (Lq, Lk) or (N, Lq, Lk), True = may attend (the same for every head).

    Returns:
        out: (N, Lq, E) and a :class:`MultiHeadAttentionCache`.

    Introduced in lecture 05_attention.
    """
    e = query.shape[-1]
    if e % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the embedding size {e}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 3:
            mask = mask[:, None]   # same mask for every head
    Q = _split_heads(query @ Wq + bq, num_heads)
    K = _split_heads(key @ Wk + bk, num_heads)
    V = _split_heads(value @ Wv + bv, num_heads)
    heads, att = scaled_dot_product_attention_forward(Q, K, V, mask)
    concat = _merge_heads(heads)
    out = concat @ Wo + bo
    return out, MultiHeadAttentionCache(query=query, key=key, value=value, Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo,
                                        concat=concat, attention=att, num_heads=num_heads)


def multi_head_attention_backward(dout: np.ndarray, cache: MultiHeadAttentionCache) -> MultiHeadAttentionGrads:
    """Backward pass of :func:`multi_head_attention_forward`.

    Args:
        dout: (N, Lq, E) upstream gradient.

    Returns:
        :class:`MultiHeadAttentionGrads` (see its docstring for the order).

    Introduced in lecture 05_attention.
    """
    c = cache
    e = dout.shape[-1]

    def flat(a):
        return a.reshape(-1, a.shape[-1])

    dWo = flat(c.concat).T @ flat(dout)
    dbo = flat(dout).sum(axis=0)
    dheads = _split_heads(dout @ c.Wo.T, c.num_heads)
    dQ, dK, dV = scaled_dot_product_attention_backward(dheads, c.attention)
    dQ, dK, dV = _merge_heads(dQ), _merge_heads(dK), _merge_heads(dV)
    grads = []
    for x, W, dP in ((c.query, c.Wq, dQ), (c.key, c.Wk, dK), (c.value, c.Wv, dV)):
        grads.append((dP @ W.T, flat(x).T @ flat(dP), flat(dP).sum(axis=0)))
    (dq, dWq, dbq), (dk, dWk, dbk), (dv, dWv, dbv) = grads
    assert dWo.shape == (e, e)
    return MultiHeadAttentionGrads(dq, dk, dv, dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo)


# --------------------------------------------------------------------------- positions
def sinusoidal_positional_encoding(length: int, dim: int, base: float = 10000.0,
                                   dtype: DTypeLike = np.float64) -> np.ndarray:
    """Sinusoidal position encodings of Vaswani et al. (2017), interleaved.

    ``PE[p, 2i] = sin(p / base**(2i / dim))`` and ``PE[p, 2i+1] = cos(p / base**(2i / dim))``
    (some libraries put all sines first, then all cosines; this one interleaves).
    An odd ``dim`` is allowed: the last column is a sine.

    Args:
        length: number of positions L (positions 0 .. L-1).
        dim: embedding size D.

    Returns:
        (L, D) array, values in [-1, 1]; row 0 is ``[0, 1, 0, 1, ...]``.

    Introduced in lecture 05_attention.
    """
    pos = np.arange(length, dtype=np.float64)[:, None]
    two_i = np.arange(0, dim, 2, dtype=np.float64)
    angles = pos / base ** (two_i / dim)           # (L, ceil(D/2))
    pe = np.empty((length, dim), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : dim // 2])
    return pe.astype(dtype, copy=False)

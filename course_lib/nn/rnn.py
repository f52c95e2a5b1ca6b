"""Recurrent layers (vanilla RNN, LSTM), word embeddings, temporal affine and temporal softmax loss.

Shapes follow cs231n: minibatch first, ``x: (N, T, D)``, hidden states ``(N, T, H)``,
weights multiply on the right (``x @ Wx`` with ``Wx: (D, H)``); PyTorch's
``weight_ih``/``weight_hh`` are the transposes.

LSTM gate order is PyTorch's **(i, f, g, o)**: input, forget, cell candidate, output,
so ``Wx = lstm.weight_ih_l0.T``, ``Wh = lstm.weight_hh_l0.T`` and
``b = bias_ih_l0 + bias_hh_l0`` reproduce ``torch.nn.LSTM`` (cs231n orders them i, f, o, g).
The sequence functions start from ``c0 = 0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .core import AffineGrads, log_softmax, sigmoid

__all__ = [
    "RNNStepCache", "RNNStepGrads", "rnn_step_forward", "rnn_step_backward",
    "RNNCache", "RNNGrads", "rnn_forward", "rnn_backward",
    "LSTMStepCache", "LSTMStepGrads", "lstm_step_forward", "lstm_step_backward",
    "LSTMCache", "lstm_forward", "lstm_backward",
    "EmbeddingCache", "word_embedding_forward", "word_embedding_backward",
    "TemporalAffineCache", "temporal_affine_forward", "temporal_affine_backward",
    "temporal_softmax_loss",
]


# --------------------------------------------------------------------------- vanilla RNN
@dataclass
class RNNStepCache:
    """What :func:`rnn_step_backward` needs.

    Introduced in lecture 04_rnn.
    """
    x: np.ndarray        # (N, D)
    prev_h: np.ndarray   # (N, H)
    next_h: np.ndarray   # (N, H)
    Wx: np.ndarray       # (D, H)
    Wh: np.ndarray       # (H, H)


class RNNStepGrads(NamedTuple):
    """Gradients of one RNN step, in the order ``(dx, dprev_h, dWx, dWh, db)``.

    Introduced in lecture 04_rnn.
    """
    dx: np.ndarray
    dprev_h: np.ndarray
    dWx: np.ndarray
    dWh: np.ndarray
    db: np.ndarray


def rnn_step_forward(x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, RNNStepCache]:
    """One step of a tanh RNN: ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``.

    Args:
        x: (N, D) input at this step.
        prev_h: (N, H) previous hidden state.
        Wx: (D, H) input-to-hidden weights.
        Wh: (H, H) hidden-to-hidden weights.
        b: (H,) bias.

    Returns:
        next_h: (N, H) and an :class:`RNNStepCache`.

    Introduced in lecture 04_rnn.
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, RNNStepCache(x=x, prev_h=prev_h, next_h=next_h, Wx=Wx, Wh=Wh)


def rnn_step_backward(dnext_h: np.ndarray, cache: RNNStepCache) -> RNNStepGrads:
    """Backward pass of :func:`rnn_step_forward`.

    Args:
        dnext_h: (N, H) gradient of the loss with respect to ``next_h``.

    Returns:
        ``RNNStepGrads(dx, dprev_h, dWx, dWh, db)``.

    Introduced in lecture 04_rnn.
    """
    da = dnext_h * (1 - cache.next_h ** 2)
    return RNNStepGrads(da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.prev_h.T @ da,
                        da.sum(axis=0))


@dataclass
class RNNCache:
    """What :func:`rnn_backward` needs: the inputs, all hidden states and the weights.

    Introduced in lecture 04_rnn.
    """
    x: np.ndarray    # (N, T, D)
    h0: np.ndarray   # (N, H)
    h: np.ndarray    # (N, T, H)
    Wx: np.ndarray
    Wh: np.ndarray


class RNNGrads(NamedTuple):
    """Gradients of a recurrent sequence layer, in the order ``(dx, dh0, dWx, dWh, db)``.

    Introduced in lecture 04_rnn.
    """
    dx: np.ndarray
    dh0: np.ndarray
    dWx: np.ndarray
    dWh: np.ndarray
    db: np.ndarray


def rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                b: np.ndarray) -> tuple[np.ndarray, RNNCache]:
    """Run a tanh RNN over a whole sequence.

    Args:
        x: (N, T, D) inputs.
        h0: (N, H) initial hidden state.
        Wx: (D, H); Wh: (H, H); b: (H,).

    Returns:
        h: (N, T, H) hidden states for every step (``h[:, t]`` after reading ``x[:, t]``), and a cache.

    Introduced in lecture 04_rnn.
    """
    n, t, _ = x.shape
    hdim = h0.shape[1]
    h = np.empty((n, t, hdim), dtype=np.result_type(x, h0, Wx, Wh, b))
    xw = x @ Wx + b   # the input projections of all steps at once
    prev = h0
    for s in range(t):
        prev = np.tanh(xw[:, s] + prev @ Wh)
        h[:, s] = prev
    return h, RNNCache(x=x, h0=h0, h=h, Wx=Wx, Wh=Wh)


def rnn_backward(dh: np.ndarray, cache: RNNCache) -> RNNGrads:
    """Backpropagation through time for :func:`rnn_forward`.

    Args:
        dh: (N, T, H) upstream gradients of every hidden state (from the outputs only;
            the gradient flowing between steps is added here).

    Returns:
        ``RNNGrads(dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,))``.

    Introduced in lecture 04_rnn.
    """
    x, h, Wx, Wh = cache.x, cache.h, cache.Wx, cache.Wh
    n, t, _ = x.shape
    da_all = np.empty_like(h, dtype=np.result_type(h, dh))
    dprev = np.zeros_like(cache.h0, dtype=da_all.dtype)
    for s in reversed(range(t)):
        da = (dh[:, s] + dprev) * (1 - h[:, s] ** 2)
        da_all[:, s] = da
        dprev = da @ Wh.T
    h_prev = np.concatenate([cache.h0[:, None], h[:, :-1]], axis=1)   # (N, T, H)
    return _sequence_grads(x, h_prev, da_all, Wx, dprev)


def _sequence_grads(x, h_prev, da_all, Wx, dh0) -> RNNGrads:
    """Parameter gradients of a recurrent layer over a whole sequence, shared by RNN and LSTM.

    x: (N, T, D) inputs; h_prev: (N, T, H) hidden state entering each step;
    da_all: (N, T, K) gradient of the pre-activations (K = H for the RNN, 4H for the LSTM).
    """
    dx = da_all @ Wx.T
    dWx = np.einsum("ntd,ntk->dk", x, da_all)
    dWh = np.einsum("nth,ntk->hk", h_prev, da_all)
    db = da_all.sum(axis=(0, 1))
    return RNNGrads(dx, dh0, dWx, dWh, db)


# --------------------------------------------------------------------------- LSTM
@dataclass
class LSTMStepCache:
    """What :func:`lstm_step_backward` needs (gate activations, cell states, inputs, weights).

    Introduced in lecture 04_rnn.
    """
    x: np.ndarray
    prev_h: np.ndarray
    prev_c: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    tanh_c: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray


class LSTMStepGrads(NamedTuple):
    """Gradients of one LSTM step, in the order ``(dx, dprev_h, dprev_c, dWx, dWh, db)``.

    Introduced in lecture 04_rnn.
    """
    dx: np.ndarray
    dprev_h: np.ndarray
    dprev_c: np.ndarray
    dWx: np.ndarray
    dWh: np.ndarray
    db: np.ndarray


def _lstm_gates(a: np.ndarray, hdim: int):
    i = sigmoid(a[:, :hdim])
    f = sigmoid(a[:, hdim:2 * hdim])
    g = np.tanh(a[:, 2 * hdim:3 * hdim])
    o = sigmoid(a[:, 3 * hdim:])
    return i, f, g, o


def lstm_step_forward(x: np.ndarray, prev_h: np.ndarray, prev_c: np.ndarray, Wx: np.ndarray,
                      Wh: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, LSTMStepCache]:
    """One LSTM step, gates in PyTorch's order (i, f, g, o).

    ``a = x @ Wx + prev_h @ Wh + b``; ``i, f, o = sigmoid(...)``, ``g = tanh(...)``;
    ``next_c = f * prev_c + i * g``; ``next_h = o * tanh(next_c)``.

    Args:
        x: (N, D); prev_h, prev_c: (N, H).
        Wx: (D, 4H); Wh: (H, 4H); b: (4H,).

    Returns:
        next_h: (N, H), next_c: (N, H), and an :class:`LSTMStepCache` (three values, as cs231n).

    Introduced in lecture 04_rnn.
    """
    hdim = prev_h.shape[1]
    i, f, g, o = _lstm_gates(x @ Wx + prev_h @ Wh + b, hdim)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, LSTMStepCache(x=x, prev_h=prev_h, prev_c=prev_c, i=i, f=f, g=g, o=o,
                                         tanh_c=tanh_c, Wx=Wx, Wh=Wh)


def _lstm_step_da(dnext_h, dnext_c, c: LSTMStepCache):
    """Gradient with respect to the gate pre-activations (N, 4H) and dprev_c."""
    do = dnext_h * c.tanh_c
    dc = dnext_c + dnext_h * c.o * (1 - c.tanh_c ** 2)
    di, df, dg = dc * c.g, dc * c.prev_c, dc * c.i
    da = np.concatenate([di * c.i * (1 - c.i), df * c.f * (1 - c.f), dg * (1 - c.g ** 2),
                         do * c.o * (1 - c.o)], axis=1)
    return da, dc * c.f


def lstm_step_backward(dnext_h: np.ndarray, dnext_c: np.ndarray, cache: LSTMStepCache) -> LSTMStepGrads:
    """Backward pass of :func:`lstm_step_forward`.

    Args:
        dnext_h, dnext_c: (N, H) gradients with respect to ``next_h`` and ``next_c``.

    Returns:
        ``LSTMStepGrads(dx, dprev_h, dprev_c, dWx, dWh, db)``.

    Introduced in lecture 04_rnn.
    """
    da, dprev_c = _lstm_step_da(dnext_h, dnext_c, cache)
    return LSTMStepGrads(da @ cache.Wx.T, da @ cache.Wh.T, dprev_c, cache.x.T @ da,
                         cache.prev_h.T @ da, da.sum(axis=0))


@dataclass
class LSTMCache:
    """The step caches of :func:`lstm_forward`, one per time step.

    Introduced in lecture 04_rnn.
    """
    steps: list[LSTMStepCache]
    x: np.ndarray
    h0: np.ndarray


def lstm_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
                 b: np.ndarray) -> tuple[np.ndarray, LSTMCache]:
    """Run an LSTM over a sequence, starting from ``h0`` and a zero cell state.

    Args:
        x: (N, T, D); h0: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,).

    Returns:
        h: (N, T, H) hidden states of every step, and an :class:`LSTMCache`.

    Introduced in lecture 04_rnn.
    """
    n, t, _ = x.shape
    hdim = h0.shape[1]
    h = np.empty((n, t, hdim), dtype=np.result_type(x, h0, Wx, Wh, b))
    prev_h, prev_c = h0, np.zeros_like(h0, dtype=h.dtype)
    steps = []
    for s in range(t):
        prev_h, prev_c, sc = lstm_step_forward(x[:, s], prev_h, prev_c, Wx, Wh, b)
        h[:, s] = prev_h
        steps.append(sc)
    return h, LSTMCache(steps=steps, x=x, h0=h0)


def lstm_backward(dh: np.ndarray, cache: LSTMCache) -> RNNGrads:
    """Backpropagation through time for :func:`lstm_forward`.

    Args:
        dh: (N, T, H) upstream gradients of the hidden states.

    Returns:
        ``RNNGrads(dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,))``.

    Introduced in lecture 04_rnn.
    """
    x, steps = cache.x, cache.steps
    n, t, d = x.shape
    hdim = cache.h0.shape[1]
    Wx, Wh = steps[0].Wx, steps[0].Wh
    dtype = np.result_type(dh, Wx)
    da_all = np.empty((n, t, 4 * hdim), dtype=dtype)
    dprev_h = np.zeros((n, hdim), dtype=dtype)
    dprev_c = np.zeros((n, hdim), dtype=dtype)
    for s in reversed(range(t)):
        da, dprev_c = _lstm_step_da(dh[:, s] + dprev_h, dprev_c, steps[s])
        da_all[:, s] = da
        dprev_h = da @ Wh.T
    h_prev = np.stack([sc.prev_h for sc in steps], axis=1)   # (N, T, H)
    return _sequence_grads(x, h_prev, da_all, Wx, dprev_h)


# --------------------------------------------------------------------------- embeddings
@dataclass
class EmbeddingCache:
    """The word indices and the vocabulary shape.

    Introduced in lecture 04_rnn.
    """
    x: np.ndarray
    W_shape: tuple
    dtype: np.dtype


def word_embedding_forward(x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, EmbeddingCache]:
    """Look up word vectors.

    Args:
        x: (N, T) integer word indices in [0, V).
        W: (V, D) embedding matrix.

    Returns:
        out: (N, T, D) with ``out[n, t] = W[x[n, t]]``, and an :class:`EmbeddingCache`.

    Introduced in lecture 04_rnn.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"word indices must be integers, got dtype {x.dtype}")
    return W[x], EmbeddingCache(x=x, W_shape=W.shape, dtype=W.dtype)


def word_embedding_backward(dout: np.ndarray, cache: EmbeddingCache) -> np.ndarray:
    """Backward pass of :func:`word_embedding_forward`.

    Returns:
        dW: (V, D); a word used several times accumulates all its gradients (``np.add.at``).

    Introduced in lecture 04_rnn.
    """
    dW = np.zeros(cache.W_shape, dtype=np.result_type(cache.dtype, dout))
    np.add.at(dW, cache.x.ravel(), dout.reshape(-1, cache.W_shape[1]))
    return dW


# --------------------------------------------------------------------------- temporal layers
@dataclass
class TemporalAffineCache:
    """What :func:`temporal_affine_backward` needs.

    Introduced in lecture 04_rnn.
    """
    x: np.ndarray
    w: np.ndarray


def temporal_affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, TemporalAffineCache]:
    """The same affine layer at every time step.

    Args:
        x: (N, T, D); w: (D, M); b: (M,).

    Returns:
        out: (N, T, M) and a :class:`TemporalAffineCache`.

    Introduced in lecture 04_rnn.
    """
    return x @ w + b, TemporalAffineCache(x=x, w=w)


def temporal_affine_backward(dout: np.ndarray, cache: TemporalAffineCache) -> AffineGrads:
    """Backward pass of :func:`temporal_affine_forward`: ``AffineGrads(dx (N, T, D), dw (D, M), db (M,))``.

    Introduced in lecture 04_rnn.
    """
    x, w = cache.x, cache.w
    dx = dout @ w.T
    dw = x.reshape(-1, x.shape[-1]).T @ dout.reshape(-1, dout.shape[-1])
    db = dout.sum(axis=(0, 1))
    return AffineGrads(dx, dw, db)


def temporal_softmax_loss(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None
                          ) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy at every time step, masked, SUMMED over time and AVERAGED over N (cs231n).

    ``loss = -(1/N) * sum_{n,t} mask[n, t] * log softmax(x[n, t])[y[n, t]]``.
    Note the divisor is N (the minibatch size), not the number of unmasked tokens
    (``F.cross_entropy(..., ignore_index=...)`` divides by the latter).

    Args:
        x: (N, T, V) scores.
        y: (N, T) integer targets in [0, V).
        mask: (N, T) boolean, True where the target counts (``None``: all count).

    Returns:
        loss as a float, and dx: (N, T, V).

    Introduced in lecture 04_rnn.
    """
    n, t, v = x.shape
    if mask is None:
        mask = np.ones((n, t), dtype=bool)
    xf = x.reshape(n * t, v)
    yf = np.asarray(y).reshape(n * t)
    mf = np.asarray(mask, dtype=bool).reshape(n * t)
    logp = log_softmax(xf, axis=1)
    rows = np.arange(n * t)
    loss = -float(np.sum(logp[rows, yf] * mf)) / n
    dx = np.exp(logp)
    dx[rows, yf] -= 1
    dx *= mf[:, None] / n
    return loss, dx.reshape(n, t, v)

"""Explorers and pictures of unit 05: attention weights, attention as kernel regression, positional
encodings and beam search.

- :func:`attention_state` behind :class:`AttentionExplorer`: one self-attention layer with random
  projections over a short token sequence: the weights of one head, with the 1/sqrt(d_k) scale on or
  off, a temperature, a causal mask (the standard ``j <= i`` or the notes' ``j < i``), trailing
  padding and optional positional encodings;
- :func:`kernel_regression_state` behind :class:`KernelRegressionExplorer`: Nadaraya-Watson kernel
  regression (d2l 11.2) as attention, queries = test inputs, keys = training inputs;
- :func:`positional_encoding_state` behind :class:`PositionalEncodingExplorer`: the sinusoidal
  encodings of :func:`course_lib.nn.sinusoidal_positional_encoding` and the dot product
  PE(p).PE(p+k) against the offset k;
- :func:`beam_search_trace` behind :class:`BeamSearchExplorer`: beam search on a small tree of
  next-token probabilities (:data:`TOY_TREE`, the notes' example: greedy 0.216, beam width 2 0.324),
  the hypotheses kept at each step.

Every explorer draws its figure when it is built, before any control moves, and carries it as a
static PNG beside the widget (see :mod:`course_lib.explorers.linear`).
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as W
import numpy as np

from ..nn.attention import masked_softmax, sinusoidal_positional_encoding
from ..viz import attention_heatmap
from ..widgets import Explorer, _slider
from .linear import _StaticFigure

__all__ = ["MASKS", "token_embeddings", "attention_state", "AttentionExplorer",
           "nadaraya_watson_data", "kernel_regression_state", "KernelRegressionExplorer",
           "positional_encoding_state", "PositionalEncodingExplorer",
           "TOY_TREE", "beam_search_trace", "BeamSearchExplorer"]

#: Masks :func:`attention_state` knows: none, the standard causal mask (query i sees keys j <= i) and
#: the notes' "j in [0, i)" (query i sees keys j < i: query 0 sees nothing).
MASKS = ("none", "causal j<=i", "notes' j<i")

PAD = "<pad>"


# =============================================================================
# Attention weights of one self-attention layer
# =============================================================================

def token_embeddings(tokens: Sequence[str], dim: int, seed: int = 0) -> np.ndarray:
    """A fixed random embedding per token string: standard normal entries, the same vector for the
    same string (a hash of the string seeds its row), whatever its position.

    Args:
        tokens: the sequence; dim: embedding size; seed: changes every vector.

    Returns:
        (len(tokens), dim) float64.

    Introduced in lecture 05_attention.
    """
    rows = [np.random.default_rng([seed, zlib.crc32(t.encode("utf-8"))]).standard_normal(dim) for t in tokens]
    return np.array(rows, dtype=np.float64).reshape(len(tokens), dim)


def _softmax_no_guard(scores: np.ndarray) -> np.ndarray:
    # the textbook recipe without course_lib's fully-masked-row guard, to show what it gives:
    # a row of -inf becomes exp(nan) -> NaN, exactly as torch.softmax does
    with np.errstate(invalid="ignore"):
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def attention_state(tokens: Sequence[str], *, num_heads: int = 1, head: int = 0, d_model: int = 64,
                    scaled: bool = True, temperature: float = 1.0, mask: str = "none", pad: int = 0,
                    positions: bool = False, seed: int = 0) -> dict[str, Any]:
    """The attention weights of one head of a random self-attention layer over ``tokens``.

    Each token gets :func:`token_embeddings` (plus the sinusoidal encoding of its position when
    ``positions``); queries, keys and values are ``x @ W`` with independent N(0, 1/d_model) weights
    (so their entries have variance about 1), split into ``num_heads`` heads of size
    ``d_k = d_model / num_heads``. The scores ``q k^T`` are multiplied by ``1/sqrt(d_k)`` when
    ``scaled`` and divided by ``temperature``; masked entries are set to ``-inf`` before the softmax.

    Args:
        tokens: the real tokens (at least one); ``pad`` copies of ``"<pad>"`` are appended and masked
            as keys (no query attends to them).
        num_heads: must divide ``d_model``; head: which head to return, ``0 <= head < num_heads``.
        mask: one of :data:`MASKS`. ``"notes' j<i"`` uses the softmax without a guard for fully
            masked rows, to show the NaN row the notes' mask gives; the others use
            :func:`course_lib.nn.masked_softmax`.

    Returns:
        dict with ``tokens`` (padded), ``d_k``, ``score_std`` (standard deviation of the scores fed to
        the softmax, over the entries that are not masked), ``max_weight`` (mean over real query rows of
        the largest weight), ``entropy`` (mean over real query rows, in nats), ``nan_rows`` (query rows
        with a NaN), ``pad_weight`` (total weight on padding keys), and for drawing ``_weights``
        (L, L), ``_scores`` (L, L, masked entries -inf) and ``_output`` (L, d_k) of the head.

    Introduced in lecture 05_attention.
    """
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise ValueError("give at least one token")
    if num_heads < 1 or d_model % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
    if not 0 <= head < num_heads:
        raise ValueError(f"head must be in 0..{num_heads - 1}, got {head}")
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    real = len(tokens)
    tokens = tokens + [PAD] * int(pad)
    L = len(tokens)
    x = token_embeddings(tokens, d_model, seed)
    if positions:
        x = x + sinusoidal_positional_encoding(L, d_model)
    rng = np.random.default_rng(seed + 1)
    Wq, Wk, Wv = (rng.standard_normal((d_model, d_model)) / math.sqrt(d_model) for _ in range(3))
    d_k = d_model // num_heads
    cols = slice(head * d_k, (head + 1) * d_k)             # head h uses columns h*d_k .. (h+1)*d_k - 1
    q, k, v = x @ Wq[:, cols], x @ Wk[:, cols], x @ Wv[:, cols]
    scores = q @ k.T
    if scaled:
        scores = scores / math.sqrt(d_k)
    scores = scores / temperature
    keep = np.ones((L, L), dtype=bool)
    if mask == "causal j<=i":
        keep = np.tril(keep)
    elif mask == "notes' j<i":
        keep = np.tril(keep, k=-1)
    keep[:, real:] = False                                 # padding keys are never attended to
    masked = np.where(keep, scores, -np.inf)
    weights = _softmax_no_guard(masked) if mask == "notes' j<i" else masked_softmax(scores, keep)
    rows = weights[:real]
    finite = rows[~np.isnan(rows).any(axis=1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(finite > 0, finite * np.log(finite), 0.0).sum(axis=1)
    return {"tokens": tokens, "d_k": d_k, "score_std": float(scores[keep].std()) if keep.any() else 0.0,
            "max_weight": float(finite.max(axis=1).mean()) if len(finite) else float("nan"),
            "entropy": float(ent.mean()) if len(finite) else float("nan"),
            "nan_rows": [int(i) for i in np.flatnonzero(np.isnan(rows).any(axis=1))],
            "pad_weight": float(np.nansum(weights[:, real:])),
            "_weights": weights, "_scores": masked, "_output": weights @ v}


class AttentionExplorer(_StaticFigure, Explorer):
    """Self-attention weights of a short sentence: scale, temperature, masks, padding, heads.

    Controls: ``tokens`` (a space-separated sentence), ``heads`` (1, 2, 4, 8 of a 64-wide layer),
    ``head``, ``scaled`` (the 1/sqrt(d_k) factor), ``temperature``, ``mask`` (:data:`MASKS`),
    ``pad`` (``<pad>`` tokens appended) and ``positions`` (add sinusoidal encodings). ``update``
    returns the numbers of :func:`attention_state` and ``dropped_tokens`` (words beyond
    :attr:`max_tokens`, left out).

    Introduced in lecture 05_attention.
    """

    figsize = (9.5, 4.0)
    #: the sentence is cut to its first ``max_tokens`` words (``dropped_tokens`` says how many went)
    max_tokens = 16

    def _controls(self) -> dict:
        return {
            "tokens": W.Text(value="the cat sat on the mat", description="tokens", continuous_update=False),
            "heads": W.Dropdown(options=[1, 2, 4, 8], value=1, description="heads"),
            "head": _slider(0, 0, 0, 1, "head"),
            "scaled": W.Checkbox(value=True, description="scale 1/sqrt(d_k)"),
            "temperature": _slider(1.0, -1, 1, 0.1, "temperature", log=True),
            "mask": W.Dropdown(options=list(MASKS), value="none", description="mask"),
            "pad": _slider(0, 0, 3, 1, "padding"),
            "positions": W.Checkbox(value=False, description="positional encoding"),
        }

    def _on_control(self, name: str, value: Any) -> None:
        if name == "heads":
            h = self.controls["head"]
            h.max = int(value) - 1
            h.value = min(h.value, h.max)

    def compute(self, *, tokens: str, heads: int, head: int, scaled: bool, temperature: float, mask: str,
                pad: int, positions: bool) -> dict:
        words = tokens.split() or ["?"]
        result = attention_state(words[:self.max_tokens], num_heads=int(heads), head=int(head), scaled=bool(scaled),
                                 temperature=float(temperature), mask=mask, pad=int(pad), positions=bool(positions))
        # a heat map of hundreds of rows is unreadable and slow to draw: keep the first max_tokens, and say so
        result["dropped_tokens"] = max(len(words) - self.max_tokens, 0)
        return result

    def draw(self, result: dict, **_: Any) -> None:
        ax_w, ax_o = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        raw = result["_weights"]
        w = np.nan_to_num(raw, nan=0.0)
        attention_heatmap(w, result["tokens"], result["tokens"], ax=ax_w, annotate=False)
        if w.shape[0] <= 10:                                # the numbers, and NaN where the softmax gave NaN
            for (i, j), v in np.ndenumerate(raw):
                nan = bool(np.isnan(v))
                ax_w.text(j, i, "NaN" if nan else f"{v:.2f}", ha="center", va="center", fontsize=7,
                          color="red" if nan else ("w" if v < 0.6 * max(w.max(), 1e-12) else "k"))
        ax_w.set_title(f"weights (d_k = {result['d_k']}, score std {result['score_std']:.2f})", fontsize=8)
        out = result["_output"]
        lim = max(float(np.nanmax(np.abs(out))) if np.isfinite(out).any() else 1.0, 1e-9)
        ax_o.imshow(np.nan_to_num(out, nan=0.0), cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto")
        ax_o.set_yticks(range(len(result["tokens"])), labels=result["tokens"])
        ax_o.set_xlabel("output dimension")
        ax_o.set_title("outputs of the head (weights @ V)", fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# Attention as kernel regression (Nadaraya-Watson)
# =============================================================================

def _f(x: np.ndarray) -> np.ndarray:
    return 2 * np.sin(x) + x ** 0.8


def nadaraya_watson_data(n: int = 50, sigma: float = 0.5, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """d2l's toy regression problem: f(x) = 2 sin x + x^0.8 on [0, 5], noise N(0, sigma^2).

    Returns:
        ``(x_train (n,) sorted, y_train (n,), x_test (50,) = 0, 0.1, ..., 4.9, f(x_test))``.

    Introduced in lecture 05_attention.
    """
    rng = np.random.default_rng(seed)
    x_train = np.sort(rng.uniform(0, 5, n))
    y_train = _f(x_train) + rng.normal(0.0, sigma, n)
    x_test = np.arange(0, 5, 0.1)
    return x_train, y_train, x_test, _f(x_test)


def kernel_regression_state(bandwidth: float, *, n: int = 50, sigma: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """Nadaraya-Watson regression with a Gaussian kernel, written as attention.

    Queries are the test inputs, keys the training inputs and values the training targets; the score
    of query x and key x_i is ``-(x - x_i)^2 / (2 h^2)`` with bandwidth h, and the prediction is the
    softmax-weighted mean of the values (:func:`course_lib.nn.masked_softmax`).

    Returns:
        dict with ``bandwidth``, ``test_mse`` (prediction against the noiseless f on the test grid),
        ``train_mse`` (prediction at the training inputs against their noisy targets),
        ``neighbours`` (mean over test queries of 1 / sum_i w_i^2, the effective number of training
        points a prediction averages), ``max_weight`` (mean largest weight of a row) and, for
        drawing, ``_weights`` (50, n), ``_y_hat`` (50,), ``_data`` (the 4 arrays of
        :func:`nadaraya_watson_data`).

    Introduced in lecture 05_attention.
    """
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    x_train, y_train, x_test, y_true = data = nadaraya_watson_data(n, sigma, seed)

    def weights(xq: np.ndarray) -> np.ndarray:
        return masked_softmax(-((xq[:, None] - x_train[None, :]) ** 2) / (2 * bandwidth ** 2))

    w = weights(x_test)
    y_hat = w @ y_train
    fit_train = weights(x_train) @ y_train
    return {"bandwidth": float(bandwidth), "test_mse": float(np.mean((y_hat - y_true) ** 2)),
            "train_mse": float(np.mean((fit_train - y_train) ** 2)),
            "neighbours": float(np.mean(1.0 / (w ** 2).sum(axis=1))), "max_weight": float(w.max(axis=1).mean()),
            "_weights": w, "_y_hat": y_hat, "_data": data}


class KernelRegressionExplorer(_StaticFigure, Explorer):
    """Nadaraya-Watson kernel regression as attention: a bandwidth slider, the weight matrix and the fit.

    Controls: ``bandwidth`` (log scale, 0.01 .. 10) and ``noise`` (sigma). ``update`` returns the
    numbers of :func:`kernel_regression_state`.

    Introduced in lecture 05_attention.
    """

    figsize = (9.5, 3.6)

    def _controls(self) -> dict:
        return {"bandwidth": _slider(0.3, -2, 1, 0.05, "bandwidth h", log=True),
                "noise": _slider(0.5, 0.0, 1.0, 0.1, "noise sigma")}

    def compute(self, *, bandwidth: float, noise: float) -> dict:
        return kernel_regression_state(float(bandwidth), sigma=float(noise))

    def draw(self, result: dict, **_: Any) -> None:
        ax_w, ax_f = self.fig.subplots(1, 2)
        attention_heatmap(result["_weights"], ax=ax_w, annotate=False)
        ax_w.set_xlabel("training input (sorted)")
        ax_w.set_ylabel("test input")
        ax_w.set_title(f"attention weights, h = {result['bandwidth']:.3g}", fontsize=8)
        x_train, y_train, x_test, y_true = result["_data"]
        ax_f.plot(x_test, y_true, "k--", lw=1, label="f(x)")
        ax_f.plot(x_test, result["_y_hat"], "C0", lw=2, label="prediction")
        ax_f.plot(x_train, y_train, "o", color="C1", ms=3, alpha=0.6, label="training data")
        ax_f.legend(fontsize=7)
        ax_f.set_title(f"test MSE {result['test_mse']:.3f}, about {result['neighbours']:.1f} points averaged",
                       fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# Positional encodings
# =============================================================================

def positional_encoding_state(dim: int = 32, position: int = 10, *, length: int = 64, max_offset: int = 40
                              ) -> dict[str, Any]:
    """The sinusoidal encodings of ``length`` positions and ``PE(p) . PE(p + k)`` for k = 0 .. max_offset.

    With interleaved sin/cos pairs of frequency w_i, ``PE(p) . PE(p + k) = sum_i cos(k w_i)``
    (plus ``sin(p w) sin((p + k) w)`` for the last column when ``dim`` is odd): for even ``dim`` it
    depends on the offset k only, and equals ``dim / 2`` at k = 0.

    Returns:
        dict with ``dim``, ``position``, ``dot_at_0``, ``dot_min`` and ``argmin`` (over k >= 1),
        ``shift_invariant`` (the curve is the same, to 1e-9, at every position 0 .. length - 1), and for
        drawing ``_pe`` (length, dim), ``_offsets`` (max_offset + 1,) and ``_dots``.

    Introduced in lecture 05_attention.
    """
    if dim < 1 or length < 1 or max_offset < 1:
        raise ValueError(f"need dim, length and max_offset >= 1, got {dim}, {length}, {max_offset}")
    if not 0 <= position < length:
        raise ValueError(f"position must be in 0..{length - 1}, got {position}")
    pe = sinusoidal_positional_encoding(length + max_offset, dim)
    offsets = np.arange(max_offset + 1)
    all_dots = np.stack([(pe[p] * pe[p + offsets]).sum(axis=1) for p in range(length)])
    dots = all_dots[position]
    return {"dim": dim, "position": position, "dot_at_0": float(dots[0]), "dot_min": float(dots[1:].min()),
            "argmin": int(np.argmin(dots[1:]) + 1),
            "shift_invariant": bool(np.abs(all_dots - dots).max() < 1e-9),
            "_pe": pe[:length], "_offsets": offsets, "_dots": dots}


class PositionalEncodingExplorer(_StaticFigure, Explorer):
    """Sinusoidal positional encodings: the (position x dimension) heat map and PE(p).PE(p+k) against k.

    Controls: ``dim`` (D) and ``position`` (p). ``update`` returns the numbers of
    :func:`positional_encoding_state`.

    Introduced in lecture 05_attention.
    """

    figsize = (9.5, 3.4)

    def _controls(self) -> dict:
        return {"dim": _slider(32, 2, 128, 2, "D"), "position": _slider(10, 0, 63, 1, "position p")}

    def compute(self, *, dim: int, position: int) -> dict:
        return positional_encoding_state(int(dim), int(position))

    def draw(self, result: dict, **_: Any) -> None:
        ax_h, ax_d = self.fig.subplots(1, 2)
        im = ax_h.imshow(result["_pe"], cmap="coolwarm", vmin=-1, vmax=1, aspect="auto")
        self.fig.colorbar(im, ax=ax_h, fraction=0.046)
        ax_h.axhline(result["position"], color="k", lw=1)
        ax_h.set_xlabel("dimension")
        ax_h.set_ylabel("position")
        ax_h.set_title(f"PE, D = {result['dim']}", fontsize=8)
        ax_d.plot(result["_offsets"], result["_dots"], "o-", ms=3)
        ax_d.set_xlabel("offset k")
        ax_d.set_ylabel("PE(p) . PE(p + k)")
        ax_d.set_title(f"p = {result['position']}: peak {result['dot_at_0']:.1f} = D/2 at k = 0", fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# Beam search on a toy tree
# =============================================================================

#: The notes' example (Hung-yi Lee's slide): two tokens, three steps; each prefix maps to its
#: next-token probabilities. Greedy follows A (0.6), A (0.6), A (0.6): 0.216; the path B (0.4),
#: B (0.9), B (0.9) scores 0.324.
TOY_TREE: dict[str, dict[str, float]] = {
    "": {"A": 0.6, "B": 0.4},
    "A": {"A": 0.6, "B": 0.4}, "B": {"A": 0.1, "B": 0.9},
    "AA": {"A": 0.6, "B": 0.4}, "AB": {"A": 0.5, "B": 0.5},
    "BA": {"A": 0.5, "B": 0.5}, "BB": {"A": 0.1, "B": 0.9},
}


def beam_search_trace(width: int, tree: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Beam search over a tree of next-token probabilities, keeping every step's hypotheses.

    At each step every kept prefix is extended by every token of ``tree[prefix]``; the ``width``
    extensions with the largest sum of log-probabilities are kept (ties: alphabetical). The search
    stops when no kept prefix is in ``tree``. Width 1 is greedy decoding.

    Args:
        width: beam width >= 1; tree: prefix string -> {token: probability}; default :data:`TOY_TREE`.

    Returns:
        dict with ``width``, ``best`` (the sequence), ``best_prob``, ``steps`` (one list per step of
        ``(prefix, probability)`` kept, best first) and ``candidates`` (how many extensions were
        scored in all).

    Introduced in lecture 05_attention.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    tree = TOY_TREE if tree is None else tree
    beam: list[tuple[str, float]] = [("", 0.0)]
    steps: list[list[tuple[str, float]]] = []
    scored = 0
    while any(p in tree for p, _ in beam):
        cand = [(p + t, lp + math.log(q)) for p, lp in beam if p in tree for t, q in tree[p].items() if q > 0]
        scored += len(cand)
        beam = sorted(cand, key=lambda c: (-c[1], c[0]))[:width]
        steps.append([(p, math.exp(lp)) for p, lp in beam])
    best, best_lp = beam[0]
    return {"width": width, "best": best, "best_prob": math.exp(best_lp), "steps": steps, "candidates": scored}


class BeamSearchExplorer(_StaticFigure, Explorer):
    """Beam search on :data:`TOY_TREE`: a width slider; the tree with the kept hypotheses of each step.

    ``update`` returns the numbers of :func:`beam_search_trace`.

    Introduced in lecture 05_attention.
    """

    figsize = (9.0, 3.8)

    def _controls(self) -> dict:
        return {"width": _slider(1, 1, 4, 1, "beam width")}

    def compute(self, *, width: int) -> dict:
        return beam_search_trace(int(width))

    def draw(self, result: dict, **_: Any) -> None:
        ax = self.fig.subplots()
        depth = max(len(p) for p in TOY_TREE) + 1
        kept = {p for step in result["steps"] for p, _ in step}
        pos: dict[str, tuple[float, float]] = {"": (0.0, 0.0)}
        for d in range(1, depth + 1):
            level = sorted({p + t for p in TOY_TREE if len(p) == d - 1 for t in TOY_TREE[p]})
            for i, p in enumerate(level):
                pos[p] = (float(d), (len(level) - 1) / 2 - i)
        for p, (x, y) in pos.items():
            if p:
                parent = p[:-1]
                px, py = pos[parent]
                prob = TOY_TREE[parent][p[-1]]
                on = p in kept
                ax.plot([px, x], [py, y], color="C3" if on else "0.8", lw=2.5 if on else 1)
                ax.text((px + x) / 2, (py + y) / 2 + 0.15, f"{prob:g}", fontsize=7, ha="center")
            ax.plot(x, y, "o", color="C3" if p in kept or not p else "0.7", ms=6)
            ax.text(x + 0.05, y - 0.3, p or "<start>", fontsize=7)
        ax.set_axis_off()
        ax.set_title(f"beam width {result['width']}: best {result['best']} with probability "
                     f"{result['best_prob']:.3f} (kept paths in red)", fontsize=9)
        self.fig.tight_layout()

"""Explorer of unit 02: activations and gradients, layer by layer, in a deep MLP at initialisation.

The numbers come from the plain function :func:`activation_statistics` (tests call it without a
browser); :class:`ActivationExplorer` draws them: histograms of the activations (fixed range per
nonlinearity, exact zeros of ReLU left out and counted instead, so the spike at 0 does not flatten
the rest), histograms of the gradients on a log scale (fixed range, so a vanishing gradient is seen
moving left), and the standard deviation of both per layer. It draws when built, before any control
moves, and offers its figure as a static PNG too.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
from scipy.special import erf

from ..autograd import topological_order
from ..viz import new_figure
from ..widgets import Explorer, _slider
from .linear import _StaticFigure

__all__ = ["NONLINEARITIES", "activation_statistics", "ActivationExplorer", "draw_computation_graph"]


def _gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))


def _gelu_grad(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + erf(z / math.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))      # no overflow for large |z|


# name: (f, f') as functions of the pre-activation z; leaky ReLU's slope is PyTorch's default 0.01
NONLINEARITIES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "gelu": (_gelu, _gelu_grad),
    "linear": (lambda z: z, np.ones_like),
}

# fixed histogram ranges of the activations, per nonlinearity (a collapse is seen, not rescaled away)
_ACT_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "relu": (0.0, 4.0), "leaky_relu": (-0.5, 4.0),
              "gelu": (-0.5, 4.0), "linear": (-4.0, 4.0)}
_GRAD_RANGE = (-8.0, 2.0)      # log10 |dL/dh|


def _init_std(init: str, std: float, width: int) -> float:
    if init == "std":
        return float(std)
    if init == "xavier":
        return 1.0 / math.sqrt(width)
    if init == "he":
        return math.sqrt(2.0 / width)
    raise ValueError(f"unknown init {init!r}; choose 'std', 'xavier' or 'he'")


def activation_statistics(depth: int, nonlinearity: str, init: str, std: float = 0.01, bias: float = 0.0, *,
                          width: int = 256, n: int = 500, seed: int = 0) -> dict[str, Any]:
    """Forward and backward pass of a deep MLP at initialisation, with the statistics of every layer.

    ``n`` inputs ``x ~ N(0, 1)`` of ``width`` features go through ``depth`` layers
    ``z_l = h_{l-1} W_l + bias``, ``h_l = f(z_l)``, ``W_l ~ N(0, s^2)`` (width x width) where ``s`` is
    ``std`` (``init="std"``), ``1/sqrt(width)`` (``"xavier"``) or ``sqrt(2/width)`` (``"he"``).
    A gradient ``dL/dh_depth ~ N(0, 1)`` is sent back through the same layers
    (``dL/dh_{l-1} = (dL/dh_l * f'(z_l)) W_l^T``). The same seed gives the same numbers.

    Args:
        depth: number of layers (>= 1).
        nonlinearity: a key of :data:`NONLINEARITIES`.
        init: ``"std"``, ``"xavier"`` or ``"he"``.
        std: the weights' standard deviation when ``init="std"``.
        bias: a constant added to every pre-activation (negative values push ReLU units below 0).
        width, n, seed: layer width, number of inputs, random seed.

    Returns:
        dict with per-layer lists (index 0 is layer 1): ``act_std``, ``act_rms`` (sqrt of E[h^2]),
        ``act_mean``, ``grad_std`` (of dL/dh_l), ``zero_frac`` (fraction of exact zeros),
        ``dead_frac`` (fraction of units that are 0 for every input: their weights get no gradient),
        ``saturated_frac`` (|h| > 0.99 for tanh, h < 0.01 or > 0.99 for sigmoid, else 0);
        scalars ``last_std``, ``first_grad_std``, ``last_grad_std``; and ``_acts``, ``_grads``
        (lists of arrays, for drawing).

    Raises:
        ValueError: for an unknown nonlinearity or init, or ``depth < 1``.

    Introduced in lecture 02_backprop.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose from {sorted(NONLINEARITIES)}")
    if int(depth) < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    f, df = NONLINEARITIES[nonlinearity]
    s = _init_std(init, std, width)
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, width))
    weights, pre, acts = [], [], []
    for _ in range(int(depth)):
        Wl = rng.standard_normal((width, width)) * s
        z = h @ Wl + bias
        h = f(z)
        weights.append(Wl)
        pre.append(z)
        acts.append(h)
    g = rng.standard_normal((n, width))
    grads: list[np.ndarray] = [g]
    for layer in range(int(depth) - 1, 0, -1):        # dL/dh_{l-1} from dL/dh_l
        g = (g * df(pre[layer])) @ weights[layer].T
        grads.insert(0, g)
    if nonlinearity == "tanh":
        sat = [float(np.mean(np.abs(a) > 0.99)) for a in acts]
    elif nonlinearity == "sigmoid":
        sat = [float(np.mean((a < 0.01) | (a > 0.99))) for a in acts]
    else:
        sat = [0.0] * len(acts)
    return {
        "act_std": [float(a.std()) for a in acts],
        "act_rms": [float(np.sqrt(np.mean(a * a))) for a in acts],
        "act_mean": [float(a.mean()) for a in acts],
        "grad_std": [float(gr.std()) for gr in grads],
        "zero_frac": [float(np.mean(a == 0)) for a in acts],
        "dead_frac": [float(np.mean(np.all(a == 0, axis=0))) for a in acts],
        "saturated_frac": sat,
        "last_std": float(acts[-1].std()),
        "first_grad_std": float(grads[0].std()),
        "last_grad_std": float(grads[-1].std()),
        "_acts": acts,
        "_grads": grads,
    }


def _shown_layers(depth: int, most: int = 5) -> list[int]:
    """Up to ``most`` layer indices spread from the first to the last (0-based)."""
    if depth <= most:
        return list(range(depth))
    return sorted({round(i * (depth - 1) / (most - 1)) for i in range(most)})


class ActivationExplorer(_StaticFigure, Explorer):
    """Activations and gradients of a deep MLP at initialisation, layer by layer.

    Controls: ``depth``, ``nonlinearity`` (tanh, sigmoid, relu, leaky_relu, gelu, linear), ``init``
    (``std``, ``xavier``, ``he``), ``std`` (used when init is ``std``) and a constant ``bias`` added to
    every pre-activation. Top row: histograms of the activations of up to five layers, on a fixed
    range per nonlinearity; exact zeros (ReLU's off units) are not drawn, their share is written
    above the panel. Bottom row: histograms of ``log10 |dL/dh|`` on a fixed range. Right: the standard
    deviation of the activations and of the gradients per layer (log scale).

    ``update`` returns the numbers of :func:`activation_statistics`.

    Introduced in lecture 02_backprop.
    """

    figsize = (11, 4.6)
    dpi = 80

    def __init__(self, width: int = 256, n: int = 500, seed: int = 0):
        self.width, self.n, self.seed = width, n, seed
        super().__init__()

    def _controls(self) -> dict:
        return {
            "depth": _slider(8, 1, 12, 1, "depth"),
            "nonlinearity": W.Dropdown(options=list(NONLINEARITIES), value="tanh", description="nonlinearity"),
            "init": W.Dropdown(options=["std", "xavier", "he"], value="std", description="init"),
            "std": _slider(0.01, -3, 1, 0.1, "std (init='std')", log=True),
            "bias": _slider(0.0, -3.0, 3.0, 0.25, "bias"),
        }

    def compute(self, *, depth: int, nonlinearity: str, init: str, std: float, bias: float) -> dict:
        return activation_statistics(int(depth), nonlinearity, init, std, bias, width=self.width, n=self.n,
                                     seed=self.seed)

    def draw(self, result: dict, *, depth: int, nonlinearity: str, init: str, std: float, **_: Any) -> None:
        layers = _shown_layers(int(depth))
        cols = len(layers)
        grid = self.fig.add_gridspec(2, cols + 1, width_ratios=[1.0] * cols + [1.6], hspace=0.75, wspace=0.3)
        lo, hi = _ACT_RANGE[nonlinearity]
        for j, li in enumerate(layers):
            a = result["_acts"][li].ravel()
            shown = a[a != 0] if nonlinearity == "relu" else a
            ax = self.fig.add_subplot(grid[0, j])
            counts, edges = np.histogram(np.clip(shown, lo, hi), bins=30, range=(lo, hi))
            ax.stairs(counts, edges, fill=True, color="C0")
            note = f"\n{result['zero_frac'][li]:.0%} exactly 0" if nonlinearity == "relu" else ""
            ax.set_title(f"layer {li + 1}: std {result['act_std'][li]:.2g}{note}", fontsize=9)
            ax.set_yticks([])
            ax.tick_params(labelsize=8)
            if j == 0:
                ax.set_ylabel("activations h", fontsize=9)
            g = np.abs(result["_grads"][li].ravel())
            logs = np.log10(np.maximum(g, 1e-300))
            ax = self.fig.add_subplot(grid[1, j])
            counts, edges = np.histogram(np.clip(logs, *_GRAD_RANGE), bins=30, range=_GRAD_RANGE)
            ax.stairs(counts, edges, fill=True, color="C1")
            zeros = float(np.mean(g == 0))
            note = f"\n{zeros:.0%} exactly 0 (left bar)" if zeros > 0 else ""
            ax.set_title(f"layer {li + 1}: grad std {result['grad_std'][li]:.2g}{note}", fontsize=9)
            ax.set_yticks([])
            ax.tick_params(labelsize=8)
            ax.set_xlabel("log10 |dL/dh|", fontsize=8)
            if j == 0:
                ax.set_ylabel("gradients", fontsize=9)
        ax = self.fig.add_subplot(grid[:, cols])
        x = np.arange(1, int(depth) + 1)
        ax.semilogy(x, np.maximum(result["act_std"], 1e-30), "o-", color="C0", label="std of h")
        ax.semilogy(x, np.maximum(result["grad_std"], 1e-30), "s-", color="C1", label="std of dL/dh")
        ax.set_xlabel("layer", fontsize=9)
        ax.set_ylim(1e-8, 1e3)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=8)
        scale = {"std": f"std {std:.2g}", "xavier": "Xavier", "he": "He"}[init]
        ax.set_title(f"{nonlinearity}, {scale}", fontsize=10)
        self.fig.subplots_adjust(left=0.04, right=0.98, bottom=0.12, top=0.88)


# =============================================================================
# A computation graph with its values and gradients on the wires
# =============================================================================

def draw_computation_graph(root: Any, ax: Any = None, *, fmt: str = "{:.3g}") -> Any:
    """Draw the graph of scalar :class:`course_lib.autograd.Value` nodes that computed ``root``, cs231n style.

    Nodes are placed by depth (longest path from a leaf), leaves on the left. On every wire the value that
    flows forward is written above in green and the gradient that flows back (``node.grad``, so call
    ``root.backward()`` first) below in red; the output's value and gradient are written after it.

    Args:
        root: the output ``Value``.
        ax: a matplotlib axes (default: a new figure's).
        fmt: format of the numbers.

    Returns:
        the axes; its texts hold every number drawn (tests read them).

    Introduced in lecture 02_backprop.
    """
    order = topological_order(root)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._prev), default=-1)
    users: dict[int, list[int]] = {}
    for node in order:
        for p in node._prev:
            users.setdefault(id(p), []).append(depth[id(node)])
    for node in order:          # a leaf sits just before its first user, not in a crowded first column
        if not node._prev and id(node) in users:
            depth[id(node)] = min(users[id(node)]) - 1
    columns: dict[int, list] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    xy = {id(n): (2.0 * d, 1.2 * ((len(ns) - 1) / 2 - i)) for d, ns in columns.items() for i, n in enumerate(ns)}
    if ax is None:
        fig, ax = new_figure((1.6 * len(columns) + 1.5, 0.9 * max(len(c) for c in columns.values()) + 1.2))
    for node in order:
        for p in set(node._prev):
            (x0, y0), (x1, y1) = xy[id(p)], xy[id(node)]
            ax.annotate("", (x1 - 0.3, y1), (x0 + 0.3, y0),
                        arrowprops={"arrowstyle": "->", "color": "0.5", "lw": 0.9})
            mx, my = x0 + 0.3 + 0.4 * (x1 - x0 - 0.6), y0 + 0.4 * (y1 - y0)
            ax.text(mx, my + 0.1, fmt.format(p.data), color="green", ha="center", va="bottom", fontsize=9)
            ax.text(mx, my - 0.1, fmt.format(p.grad), color="crimson", ha="center", va="top", fontsize=9)
    for node in order:
        x, y = xy[id(node)]
        leaf = not node._prev
        name = node.label or (fmt.format(node.data) if leaf else node._op)
        ax.text(x, y, name, ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round", "fc": "#cfe2ff" if leaf else "#ffe5b4", "ec": "0.4"})
    x, y = xy[id(root)]
    ax.annotate("", (x + 1.4, y), (x + 0.5, y), arrowprops={"arrowstyle": "->", "color": "0.5", "lw": 0.9})
    ax.text(x + 0.95, y + 0.1, fmt.format(root.data), color="green", ha="center", va="bottom", fontsize=9)
    ax.text(x + 0.95, y - 0.1, fmt.format(root.grad), color="crimson", ha="center", va="top", fontsize=9)
    ys = [v[1] for v in xy.values()]
    ax.set_xlim(min(v[0] for v in xy.values()) - 0.6, x + 1.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.axis("off")
    return ax

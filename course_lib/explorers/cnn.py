"""Explorers and pictures of unit 03: the sliding convolution window, and input gradients.

- :func:`sliding_window_state` behind :class:`SlidingWindowExplorer`: one position of a kernel
  sliding over a small input, the products it sums, the output filled up to that position, and
  which input cells no window reads (PyTorch's rounding down);
- :func:`input_gradient` (with :func:`relu_backward_rule`): the gradient of a class score with
  respect to the input, with the ReLU backward rule of plain backprop, the deconvnet or guided
  backprop, for saliency pictures.

The explorer draws its figure when it is built, before any control moves, and carries it as a
static PNG beside the widget (see :mod:`course_lib.explorers.linear`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np

from ..nn import conv_output_size
from ..widgets import KERNELS, Explorer, _slider, conv2d_single
from .linear import _StaticFigure

if TYPE_CHECKING:
    # lazy: PyTorch (seconds) only for the explorer's PyTorch part; the NumPy explorers work without it
    import torch

__all__ = ["sliding_window_state", "window_input", "SlidingWindowExplorer", "relu_backward_rule",
           "input_gradient", "RULES"]

#: ReLU backward rules :func:`input_gradient` knows.
RULES = ("backprop", "guided", "deconvnet")


def window_input(size: int = 7) -> np.ndarray:
    """The explorer's default input: a ``size`` x ``size`` grid of 0s with a 1-valued square.

    The square covers rows and columns ``[size // 4, size // 4 + size // 2)``, so an edge kernel
    has both edges and flat regions to find.

    Introduced in lecture 03_cnn.
    """
    if size < 3:
        raise ValueError(f"size must be >= 3, got {size}")
    x = np.zeros((size, size))
    lo = size // 4
    x[lo:lo + size // 2, lo:lo + size // 2] = 1.0
    return x


def sliding_window_state(x: np.ndarray, kernel: np.ndarray, *, stride: int = 1, pad: int = 0,
                         position: int = 0) -> dict[str, Any]:
    """Everything one position of a sliding convolution window shows.

    The output follows PyTorch's rule ``H_out = floor((H - HH + 2P) / S) + 1``; output cells are
    visited in row-major order and ``position`` (clipped to the last one) says how far.

    Args:
        x: (H, W) input; kernel: (HH, WW); stride >= 1; pad >= 0 zeros on every side.
        position: index of the current output cell, ``0 <= position < out_h * out_w``.

    Returns:
        dict with ``out_h``, ``out_w``, ``positions`` (= out_h * out_w), ``position`` (clipped),
        ``row``, ``col`` (the current output cell), ``top``, ``left`` (the window's corner in
        padded coordinates), ``value`` (the current output: the sum of the window's products),
        ``unused_rows``, ``unused_cols`` (padded rows / columns at the bottom / right that no
        window reads: nonzero only when the stride does not divide ``H - HH + 2P``), and, for
        drawing, ``_padded`` (the padded input), ``_products`` (window * kernel), ``_out`` (the
        whole output) and ``_filled`` (the output with cells after ``position`` set to NaN).

    Introduced in lecture 03_cnn.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if x.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"x and kernel must be 2-D, got shapes {x.shape} and {kernel.shape}")
    if stride < 1 or pad < 0:
        raise ValueError(f"need stride >= 1 and pad >= 0, got stride={stride}, pad={pad}")
    (H, Wd), (HH, WW) = x.shape, kernel.shape
    out = conv2d_single(x, kernel, stride, pad)            # raises if the kernel does not fit
    out_h, out_w = conv_output_size(H, HH, pad, stride), conv_output_size(Wd, WW, pad, stride)
    positions = out_h * out_w
    position = int(min(max(position, 0), positions - 1))
    row, col = divmod(position, out_w)
    top, left = row * stride, col * stride
    padded = np.pad(x, pad)
    window = padded[top:top + HH, left:left + WW]
    products = window * kernel
    filled = out.copy()
    filled.ravel()[position + 1:] = np.nan
    return {"out_h": out_h, "out_w": out_w, "positions": positions, "position": position, "row": row, "col": col,
            "top": top, "left": left, "value": float(products.sum()),
            "unused_rows": H + 2 * pad - ((out_h - 1) * stride + HH),
            "unused_cols": Wd + 2 * pad - ((out_w - 1) * stride + WW),
            "_padded": padded, "_products": products, "_out": out, "_filled": filled}


class SlidingWindowExplorer(_StaticFigure, Explorer):
    """A 3x3 kernel sliding over a small input: the window, its nine products, the output so far.

    Controls: ``kernel`` (a preset of :data:`course_lib.widgets.KERNELS`), ``size`` of the input
    (:func:`window_input`), ``stride``, ``padding`` and ``position`` (the output cell, row-major;
    its range follows the output size). ``update`` returns the numbers of
    :func:`sliding_window_state`.

    Args:
        x: an (H, W) input to use instead of :func:`window_input` (the ``size`` control then does nothing).

    Introduced in lecture 03_cnn.
    """

    figsize = (9.5, 3.4)

    def __init__(self, x: np.ndarray | None = None):
        self.fixed_input = None if x is None else np.asarray(x, dtype=np.float64)
        super().__init__()

    def _controls(self) -> dict:
        return {
            "kernel": W.Dropdown(options=[k for k in KERNELS if k != "gaussian"], value="sobel_x",
                                 description="kernel"),
            "size": _slider(7, 4, 9, 1, "input size"),
            "stride": _slider(1, 1, 3, 1, "stride"),
            "padding": _slider(0, 0, 2, 1, "padding"),
            "position": _slider(0, 0, 24, 1, "position"),
        }

    def input_grid(self, size: int) -> np.ndarray:
        """The (H, W) input drawn for the ``size`` control."""
        return window_input(int(size)) if self.fixed_input is None else self.fixed_input

    def _on_control(self, name: str, value: Any) -> None:
        if name in ("size", "stride", "padding"):
            v = {**self.values(), name: value}
            H, Wd = self.input_grid(v["size"]).shape
            n = conv_output_size(H, 3, int(v["padding"]), int(v["stride"])) * \
                conv_output_size(Wd, 3, int(v["padding"]), int(v["stride"]))
            pos = self.controls["position"]
            pos.max = n - 1
            pos.value = min(pos.value, n - 1)

    def compute(self, *, kernel: str, size: int, stride: int, padding: int, position: int) -> dict:
        return sliding_window_state(self.input_grid(size), KERNELS[kernel], stride=int(stride), pad=int(padding),
                                    position=int(position))

    def draw(self, result: dict, *, kernel: str, padding: int, **_: Any) -> None:
        # lazy: matplotlib loads when the explorer draws, as in course_lib.viz
        from matplotlib.patches import Rectangle

        ax_in, ax_k, ax_out = self.fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 1.4, 2]})
        padded, P = result["_padded"], int(padding)
        n = padded.shape[0]
        ax_in.imshow(padded, cmap="Greys", vmin=-0.5, vmax=2.5, interpolation="nearest")
        for (i, j), v in np.ndenumerate(padded):
            pad_cell = i < P or j < P or i >= n - P or j >= padded.shape[1] - P
            ax_in.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7, color="0.6" if pad_cell else "k")
        if P:
            ax_in.add_patch(Rectangle((P - 0.5, P - 0.5), padded.shape[1] - 2 * P, n - 2 * P, fill=False,
                                      lw=1, ls="--", ec="0.4"))
        ur, uc = result["unused_rows"], result["unused_cols"]
        if ur:
            ax_in.add_patch(Rectangle((-0.5, n - ur - 0.5), padded.shape[1], ur, fc="orange", alpha=0.35))
        if uc:
            ax_in.add_patch(Rectangle((padded.shape[1] - uc - 0.5, -0.5), uc, n, fc="orange", alpha=0.35))
        ax_in.add_patch(Rectangle((result["left"] - 0.5, result["top"] - 0.5), 3, 3, fill=False, lw=2.5, ec="red"))
        ax_in.set_title(f"input (padding {P}; orange: never read)", fontsize=8)
        k = KERNELS[kernel]
        ax_k.imshow(k, cmap="coolwarm", vmin=-np.abs(k).max(), vmax=np.abs(k).max())
        for (i, j), v in np.ndenumerate(k):
            ax_k.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=8)
        ax_k.set_title(f"kernel '{kernel}'", fontsize=8)
        out = result["_filled"]
        lim = max(float(np.nanmax(np.abs(result["_out"]))), 1e-9)
        ax_out.imshow(out, cmap="coolwarm", vmin=-lim, vmax=lim, interpolation="nearest")
        for (i, j), v in np.ndenumerate(out):
            if not np.isnan(v):
                ax_out.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=8)
        ax_out.add_patch(Rectangle((result["col"] - 0.5, result["row"] - 0.5), 1, 1, fill=False, lw=2.5, ec="red"))
        ax_out.set_title(f"output {result['out_h']}x{result['out_w']}: cell {result['position'] + 1}/"
                         f"{result['positions']} = {result['value']:.3g}", fontsize=8)
        for ax in (ax_in, ax_k, ax_out):
            ax.set_xticks([])
            ax.set_yticks([])
        self.fig.tight_layout()


# =============================================================================
# Input gradients: saliency, deconvnet, guided backpropagation
# =============================================================================

@contextlib.contextmanager
def relu_backward_rule(model: torch.nn.Module, rule: str = "backprop") -> Iterator[None]:
    """Inside the block, every ``nn.ReLU`` of ``model`` (``model`` itself included) sends gradients back
    by ``rule``: given the ReLU's input ``x`` and the upstream gradient ``g``,

    - ``"backprop"``: ``g * [x > 0]`` (the true gradient; nothing changes);
    - ``"deconvnet"`` (Zeiler and Fergus, 2014): ``max(g, 0)``;
    - ``"guided"`` (Springenberg et al., 2015): ``g * [x > 0] * [g > 0]``.

    The ReLUs must not be in-place (``nn.ReLU(inplace=True)``), as full backward hooks require.

    Introduced in lecture 03_cnn.
    """
    # lazy: PyTorch (seconds) only for the explorer's PyTorch part; the NumPy explorers work without it
    import torch.nn as nn

    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")

    def hook(module: nn.Module, grad_input: tuple, grad_output: tuple) -> tuple | None:
        if rule == "guided":
            return (grad_input[0].clamp(min=0),)        # g * [x > 0], then keep the positive part
        if rule == "deconvnet":
            return (grad_output[0].clamp(min=0),)       # ignore x: the positive part of g
        return None

    handles = [m.register_full_backward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def input_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, rule: str = "backprop") -> torch.Tensor:
    """The gradient of each image's class score ``model(x)[n, y[n]]`` with respect to ``x``.

    Args:
        model: returns scores (N, K); put in ``eval()`` mode here (batch norm and dropout fixed).
        x: (N, C, H, W); y: (N,) class indices; rule: one of :data:`RULES` (see :func:`relu_backward_rule`).

    Returns:
        (N, C, H, W) tensor, detached, on ``x``'s device. Its absolute value, maximised over
        channels, is the saliency map of Simonyan et al. (2014).

    Introduced in lecture 03_cnn.
    """
    # lazy: PyTorch (seconds) only for the explorer's PyTorch part; the NumPy explorers work without it
    import torch

    model.eval()
    xg = x.detach().clone().requires_grad_(True)
    with relu_backward_rule(model, rule):
        score = model(xg).gather(1, y.view(-1, 1)).sum()       # images are independent: one backward
        (grad,) = torch.autograd.grad(score, xg)
    return grad.detach()

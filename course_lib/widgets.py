"""Interactive explorers (ipywidgets 8) built on :mod:`course_lib.viz`.

Every explorer separates *what it computes* from *how it is shown*:

- ``compute(**values) -> dict`` is a plain method (a function of the control
  values) that returns numbers: tests and notebook asserts call it, or
  ``update(**values)``, without a browser;
- ``update(**values)`` sets the given controls, recomputes, redraws the figure
  into a ``widgets.Image`` as PNG bytes (``explorer.png``) and returns the
  numbers (entries whose name starts with ``_`` — arrays for drawing — are left out);
- moving a control in the notebook calls ``update()`` too.

Show one with ``explorer`` as the last expression of a cell, or ``display(explorer)``.

Explorers: :class:`OptimizerExplorer`, :class:`ActivationHistogramExplorer`,
:class:`ConvKernelExplorer`; the units' own explorers are in :mod:`course_lib.explorers`
(unit 01: ``linear``; unit 02: ``backprop`` and ``optim``).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from . import nn as _nn
from . import optim as _optim
from .data import sample_image
from .viz import figure_to_png, new_figure

__all__ = ["Explorer", "OptimizerExplorer", "ActivationHistogramExplorer", "ConvKernelExplorer", "conv2d_single",
           "KERNELS", "SURFACES"]


class Explorer:
    """Base class: controls + a PNG image of a figure + a read-out of numbers.

    Subclasses implement ``_controls() -> dict[name, widget]``, ``compute(**values) -> dict``
    and ``draw(result, **values)`` (drawing on ``self.fig``).

    Attributes:
        controls: name -> ipywidgets control.
        image: ``widgets.Image`` holding the PNG of the current figure.
        readout: ``widgets.HTML`` showing the numbers.
        widget: the whole ``VBox`` (what is displayed).
        last: the full result of the most recent compute.
        render: set to False to skip drawing in ``update`` (fast number-only checks).

    Introduced in lecture 01_linear_classifiers.
    """

    figsize: tuple = (6, 4)
    dpi: int = 72

    def __init__(self):
        self.fig, _ = new_figure(self.figsize, pyplot=False)
        self.image = W.Image(format="png")
        self.readout = W.HTML()
        self.controls: dict[str, W.ValueWidget] = self._controls()
        self._busy = False
        self.render = True
        for _name, control in self.controls.items():
            control.observe(self._on_change, names="value")
        self.widget = W.VBox([W.HBox(self._layout_controls(), layout=W.Layout(flex_flow="row wrap")),
                              W.HBox([self.image, self.readout])])
        self.last: dict = {}
        self.update()

    # --- to be provided by subclasses ------------------------------------------------
    def _controls(self) -> dict:
        raise NotImplementedError

    def compute(self, **values: Any) -> dict:
        raise NotImplementedError

    def draw(self, result: dict, **values: Any) -> None:
        raise NotImplementedError

    def _on_control(self, name: str, value) -> None:
        """Hook: a control changed (before recomputing); e.g. fill dependent controls."""

    # --- machinery ---------------------------------------------------------------------
    def _layout_controls(self) -> list:
        return list(self.controls.values())

    @contextlib.contextmanager
    def _hold(self):
        """Change controls without triggering recomputation for each one."""
        busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = busy

    def _set(self, name: str, value) -> None:
        with self._hold():
            self.controls[name].value = value

    def _on_change(self, change) -> None:
        if self._busy:
            return
        name = next(k for k, c in self.controls.items() if c is change["owner"])
        with self._hold():
            self._on_control(name, change["new"])
        self.update()

    def values(self) -> dict:
        """Current control values, name -> value."""
        return {k: c.value for k, c in self.controls.items()}

    def update(self, **values: Any) -> dict:
        """Set the named controls, recompute, redraw; return the numbers.

        Raises:
            ValueError: for a name that is not a control.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; controls are {sorted(self.controls)}")
        with self._hold():
            for name, value in values.items():
                self.controls[name].value = value
                self._on_control(name, value)
        vals = self.values()
        result = self.compute(**vals)
        self.last = result
        if self.render:
            self.fig.clear()
            self.draw(result, **vals)
            self.image.value = figure_to_png(self.fig, dpi=self.dpi)
        numbers = {k: v for k, v in result.items() if not k.startswith("_")}
        self.readout.value = "<br>".join(f"<b>{k}</b>: {_fmt(v)}" for k, v in numbers.items())
        return numbers

    @property
    def png(self) -> bytes:
        """PNG bytes of the current figure."""
        return bytes(self.image.value)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _slider(value, lo, hi, step, desc, log=False):
    style = {"description_width": "initial"}
    if log:
        return W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=step, description=desc,
                                continuous_update=False, style=style, readout_format=".2g")
    if isinstance(value, int) and isinstance(step, int):
        return W.IntSlider(value=value, min=lo, max=hi, step=step, description=desc, continuous_update=False,
                           style=style)
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=desc, continuous_update=False,
                         style=style)


# =============================================================================
# Optimisers on 2-D loss surfaces
# =============================================================================

SURFACES: dict[str, tuple[Callable, Callable, tuple]] = {
    # name: (f(w1, w2), grad(w1, w2) -> (g1, g2), plot box (x0, x1, y0, y1))
    "bowl": (lambda a, b: a ** 2 + 25 * b ** 2, lambda a, b: (2 * a, 50 * b), (-5, 5, -2, 2)),
    "saddle": (lambda a, b: a ** 2 - b ** 2, lambda a, b: (2 * a, -2 * b), (-3, 3, -3, 3)),
    "rosenbrock": (lambda a, b: (1 - a) ** 2 + 10 * (b - a ** 2) ** 2,
                   lambda a, b: (-2 * (1 - a) - 40 * a * (b - a ** 2), 20 * (b - a ** 2)), (-2, 2, -1, 3)),
}

_OPT_NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


def _optimizer_step(name: str, lr: float, momentum: float) -> tuple[Callable, dict]:
    if name == "sgd":
        return _optim.sgd_step, {"lr": lr}
    if name in ("momentum", "nesterov"):
        return _optim.sgd_step, {"lr": lr, "momentum": momentum, "nesterov": name == "nesterov"}
    if name == "adagrad":
        return _optim.adagrad_step, {"lr": lr}
    if name == "rmsprop":
        return _optim.rmsprop_step, {"lr": lr}
    if name == "adam":
        return _optim.adam_step, {"lr": lr, "beta1": momentum}
    raise ValueError(f"unknown optimiser {name!r}")


class OptimizerExplorer(Explorer):
    """An optimiser from :mod:`course_lib.optim` on a 2-D surface, with its trajectory.

    Surfaces: ``bowl`` (w1^2 + 25 w2^2, ill-conditioned), ``saddle`` (w1^2 - w2^2),
    ``rosenbrock``. ``momentum`` is mu for momentum/Nesterov and beta1 for Adam.

    ``update`` returns ``initial_loss``, ``final_loss``, ``final_w1``, ``final_w2``,
    ``diverged`` (1.0 if the iterate left a huge box or became NaN, else 0.0) and ``steps_taken``.

    Lecture 02 now uses :class:`course_lib.explorers.optim.OptimizerPathExplorer` (equal axis
    scales, SGD as a reference, a loss-per-step inset); this one stays for notebooks written
    against it.

    Introduced in lecture 02_backprop.
    """

    figsize = (5, 4)

    def _controls(self) -> dict:
        return {
            "surface": W.Dropdown(options=list(SURFACES), value="bowl", description="surface"),
            "optimizer": W.Dropdown(options=_OPT_NAMES, value="sgd", description="optimizer"),
            "lr": _slider(0.02, -4, 0.5, 0.05, "lr", log=True),
            "momentum": _slider(0.9, 0.0, 0.99, 0.01, "momentum"),
            "steps": _slider(50, 1, 300, 1, "steps"),
            "w1_0": _slider(-4.0, -5.0, 5.0, 0.1, "start w1"),
            "w2_0": _slider(1.5, -3.0, 3.0, 0.05, "start w2"),
        }

    @staticmethod
    def trajectory(surface: str, optimizer: str, lr: float, momentum: float, steps: int,
                   w0: tuple[float, float]) -> np.ndarray:
        """Iterates of ``optimizer`` on ``surface`` from ``w0``: (steps_taken + 1, 2); stops early on divergence."""
        _, grad, _ = SURFACES[surface]
        step, kw = _optimizer_step(optimizer, lr, momentum)
        w, state, path = np.array(w0, dtype=np.float64), None, [np.array(w0, dtype=np.float64)]
        with np.errstate(all="ignore"):
            for _ in range(int(steps)):
                w, state = step(w, np.array(grad(*w)), state, **kw)
                path.append(w.copy())
                if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e6:
                    break
        return np.array(path)

    def compute(self, *, surface: str, optimizer: str, lr: float, momentum: float, steps: int, w1_0: float,
                w2_0: float) -> dict:
        f, _, _ = SURFACES[surface]
        path = self.trajectory(surface, optimizer, lr, momentum, steps, (w1_0, w2_0))
        w = path[-1]
        diverged = not np.all(np.isfinite(w)) or np.abs(w).max() > 1e6
        with np.errstate(all="ignore"):
            final = float(f(*w))
        return {"initial_loss": float(f(w1_0, w2_0)), "final_loss": final, "final_w1": float(w[0]),
                "final_w2": float(w[1]), "diverged": float(diverged), "steps_taken": len(path) - 1,
                "_path": path}

    def draw(self, result: dict, *, surface: str, optimizer: str, lr: float, **_: Any) -> None:
        f, _grad, (x0, x1, y0, y1) = SURFACES[surface]
        ax = self.fig.subplots()
        gx, gy = np.meshgrid(np.linspace(x0, x1, 120), np.linspace(y0, y1, 120))
        Z = f(gx, gy)
        if surface == "saddle":
            ax.contour(gx, gy, Z, levels=20, cmap="coolwarm", linewidths=0.7)
        else:
            ax.contour(gx, gy, np.log1p(Z - Z.min()), levels=20, cmap="viridis", linewidths=0.7)
        p = result["_path"]
        with np.errstate(all="ignore"):
            p = np.clip(p, [[x0 - 1, y0 - 1]], [[x1 + 1, y1 + 1]])
        ax.plot(p[:, 0], p[:, 1], "o-", color="crimson", ms=2.5, lw=1)
        ax.plot(p[0, 0], p[0, 1], "ks", ms=5)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        state = "diverged" if result["diverged"] else f"loss {result['final_loss']:.3g}"
        ax.set_title(f"{optimizer}, lr={lr:.3g}: {state}", fontsize=9)
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
        self.fig.tight_layout()


# =============================================================================
# Activations through a deep network
# =============================================================================

_NONLIN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 0.5 * (1 + np.tanh(0.5 * z)),
    "linear": lambda z: z}


class ActivationHistogramExplorer(Explorer):
    """Histograms of the activations of each layer of a deep MLP at initialisation.

    ``N(0, 1)`` inputs (N x width) go through ``depth`` layers ``h = f(h @ W)``, ``W`` of
    shape (width, width). ``init``: ``"std"`` draws ``W ~ N(0, std^2)``; ``"xavier"`` uses
    ``std = 1/sqrt(width)``; ``"he"`` uses ``std = sqrt(2/width)``.

    ``update`` returns per-layer ``means`` and ``stds`` (lists), ``last_std`` and
    ``saturated`` (fraction of last-layer units with |h| > 0.99 for tanh, h == 0 for relu,
    h < 0.01 or > 0.99 for sigmoid, 0 for linear).

    Lecture 02 now uses :class:`course_lib.explorers.backprop.ActivationExplorer` (gradients too,
    fixed ranges, ReLU's zeros counted rather than drawn, a bias control); this one stays for
    notebooks written against it.

    Introduced in lecture 02_backprop.
    """

    figsize = (9, 2.6)

    def __init__(self, width: int = 256, n: int = 500, seed: int = 0):
        self.width, self.n, self.seed = width, n, seed
        super().__init__()

    def _controls(self) -> dict:
        return {
            "depth": _slider(6, 1, 10, 1, "depth"),
            "nonlinearity": W.Dropdown(options=list(_NONLIN), value="tanh", description="nonlinearity"),
            "init": W.Dropdown(options=["std", "xavier", "he"], value="std", description="init"),
            "std": _slider(0.01, -3, 1, 0.1, "std (init='std')", log=True),
        }

    def activations(self, depth: int, nonlinearity: str, init: str, std: float) -> list[np.ndarray]:
        """The activations of each layer: list of ``depth`` arrays (n, width). Same seed every call."""
        rng = np.random.default_rng(self.seed)
        h = rng.standard_normal((self.n, self.width))
        s = {"std": std, "xavier": 1 / math.sqrt(self.width), "he": math.sqrt(2 / self.width)}[init]
        f = _NONLIN[nonlinearity]
        out = []
        for _ in range(int(depth)):
            h = f(h @ (rng.standard_normal((self.width, self.width)) * s))
            out.append(h)
        return out

    def compute(self, *, depth: int, nonlinearity: str, init: str, std: float) -> dict:
        acts = self.activations(depth, nonlinearity, init, std)
        last = acts[-1]
        saturated = {"tanh": np.mean(np.abs(last) > 0.99), "relu": np.mean(last == 0),
                     "sigmoid": np.mean((last < 0.01) | (last > 0.99)), "linear": 0.0}[nonlinearity]
        return {"means": [float(a.mean()) for a in acts], "stds": [float(a.std()) for a in acts],
                "last_std": float(last.std()), "saturated": float(saturated), "_acts": acts}

    def draw(self, result: dict, *, nonlinearity: str, **_: Any) -> None:
        acts = result["_acts"]
        axes = np.atleast_1d(self.fig.subplots(1, len(acts), sharey=True))
        span: tuple[float, float] | None = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(nonlinearity)
        for i, (ax, a) in enumerate(zip(axes, acts)):
            counts, edges = np.histogram(a.ravel(), bins=30, range=span)
            ax.stairs(counts, edges, fill=True, color="C0")     # one artist: much faster than ax.hist
            ax.set_title(f"layer {i + 1}\nstd {a.std():.2g}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
        self.fig.subplots_adjust(left=0.02, right=0.98, bottom=0.12, top=0.8, wspace=0.15)


# =============================================================================
# Convolution kernels
# =============================================================================

KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64),
    "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64),
    "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64),
    "blur": np.full((3, 3), 1 / 9),
    "gaussian": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
}


def conv2d_single(image: np.ndarray, kernel: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Cross-correlation of one channel with one kernel, zero padding (what deep-learning "conv" means).

    Args:
        image: (H, W); kernel: (HH, WW); stride S >= 1; pad P >= 0.

    Returns:
        (H', W') with ``H' = (H - HH + 2P) // S + 1`` and ``W' = (W - WW + 2P) // S + 1``.

    Introduced in lecture 03_cnn.
    """
    HH, WW = kernel.shape
    H, Wd = image.shape
    if H + 2 * pad < HH or Wd + 2 * pad < WW:
        raise ValueError(f"kernel {HH}x{WW} does not fit in the padded {(H + 2 * pad, Wd + 2 * pad)} input")
    # one image, one channel, one filter: the tested course_lib.nn convolution
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    out, _ = _nn.conv_forward_fast(image[None, None], kernel[None, None], np.zeros(1), stride, pad)
    return out[0, 0]


class ConvKernelExplorer(Explorer):
    """Convolve an image with a 3x3 kernel (preset or typed in), with stride and padding.

    Controls: ``preset`` (fills the nine ``k00 .. k22`` boxes; ``custom`` keeps them),
    the nine kernel entries, ``stride`` and ``padding``. ``update`` returns ``in_h``, ``in_w``,
    ``out_h``, ``out_w`` (following ``(W - F + 2P) / S + 1``), and the feature map's ``mean``,
    ``std``, ``min``, ``max``.

    Args:
        image: (H, W) grayscale in [0, 1]; default: matplotlib's Grace Hopper photo, downsampled
            to about 64 x 64.

    Introduced in lecture 03_cnn.
    """

    figsize = (7, 3.4)

    def __init__(self, image: np.ndarray | None = None):
        if image is None:
            img = sample_image()
            step = max(1, min(img.shape) // 64)
            image = img[::step, ::step]
        self.input = np.asarray(image, dtype=np.float64)
        super().__init__()

    def _controls(self) -> dict:
        c: dict[str, Any] = {
            "preset": W.Dropdown(options=[*KERNELS, "custom"], value="edge", description="kernel"),
            "stride": _slider(1, 1, 4, 1, "stride"),
            "padding": _slider(0, 0, 3, 1, "padding"),
        }
        for i in range(3):
            for j in range(3):
                c[f"k{i}{j}"] = W.FloatText(value=float(KERNELS["edge"][i, j]), layout=W.Layout(width="60px"))
        return c

    def _layout_controls(self) -> list:
        grid = W.GridBox([self.controls[f"k{i}{j}"] for i in range(3) for j in range(3)],
                         layout=W.Layout(grid_template_columns="repeat(3, 64px)"))
        return [W.VBox([self.controls["preset"], self.controls["stride"], self.controls["padding"]]), grid]

    def _on_control(self, name, value) -> None:
        if name == "preset" and value != "custom":
            for i in range(3):
                for j in range(3):
                    self.controls[f"k{i}{j}"].value = float(KERNELS[value][i, j])
        elif name.startswith("k") and self.controls["preset"].value != "custom":
            preset = self.controls["preset"].value
            if not np.isclose(KERNELS[preset].ravel(), self.kernel().ravel()).all():
                self.controls["preset"].value = "custom"

    def kernel(self) -> np.ndarray:
        """The current (3, 3) kernel."""
        return np.array([[self.controls[f"k{i}{j}"].value for j in range(3)] for i in range(3)])

    def compute(self, *, stride: int, padding: int, **_: Any) -> dict:
        out = conv2d_single(self.input, self.kernel(), int(stride), int(padding))
        return {"in_h": self.input.shape[0], "in_w": self.input.shape[1], "out_h": out.shape[0],
                "out_w": out.shape[1], "mean": float(out.mean()), "std": float(out.std()),
                "min": float(out.min()), "max": float(out.max()), "_out": out}

    def draw(self, result: dict, *, stride: int, padding: int, **_: Any) -> None:
        ax1, ax2 = self.fig.subplots(1, 2)
        ax1.imshow(self.input, cmap="gray", interpolation="nearest")
        ax1.set_title(f"input {result['in_h']}x{result['in_w']}", fontsize=9)
        ax2.imshow(result["_out"], cmap="gray", interpolation="nearest")
        ax2.set_title(f"feature map {result['out_h']}x{result['out_w']} (S={stride}, P={padding})", fontsize=9)
        for ax in (ax1, ax2):
            ax.axis("off")
        self.fig.tight_layout()

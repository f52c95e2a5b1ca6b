"""Explorer of unit 02: optimisers from :mod:`course_lib.optim` on 2-D loss surfaces.

The numbers come from the plain function :func:`optimizer_run` (tests call it without a browser);
:class:`OptimizerPathExplorer` draws the path on the contours with **equal axis scales** (so the
ill-conditioned bowl looks as narrow as it is), plain SGD at the same learning rate as a grey
reference, and the loss per step in an inset. Its default (SGD at lr 0.038 on
``w1^2 + 25 w2^2``) shows ill-conditioning before any control moves: the path zig-zags across the
valley while it creeps along it.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np

from ..widgets import _OPT_NAMES, SURFACES, Explorer, _optimizer_step, _slider
from .linear import _StaticFigure

__all__ = ["OPTIMIZERS", "optimizer_run", "OptimizerPathExplorer"]

OPTIMIZERS = list(_OPT_NAMES)


def optimizer_run(surface: str, optimizer: str, lr: float, momentum: float = 0.9, steps: int = 40,
                  w0: tuple[float, float] = (-4.0, 1.5)) -> dict[str, Any]:
    """Run ``optimizer`` (the :mod:`course_lib.optim` step functions) on a 2-D ``surface`` from ``w0``.

    Args:
        surface: ``"bowl"`` (w1^2 + 25 w2^2), ``"saddle"`` (w1^2 - w2^2) or ``"rosenbrock"``.
        optimizer: one of :data:`OPTIMIZERS`.
        lr: learning rate.
        momentum: mu for momentum and Nesterov, beta1 for Adam (ignored by the others).
        steps: number of steps; the run stops early when the iterate leaves |w| < 1e6 or is not finite.
        w0: the start.

    Returns:
        dict with ``initial_loss``, ``final_loss``, ``final_w1``, ``final_w2``, ``diverged`` (the iterate
        left |w| < 1e6 or is not finite, or, on ``bowl`` and ``rosenbrock``, the final loss exceeds the initial one),
        ``steps_taken``, ``w2_sign_changes`` (how often w2 changed sign: the zig-zag across the valley),
        ``max_abs_w2_last10`` (largest |w2| over the last 10 iterates: what is left of the zig-zag);
        ``_path`` ((steps_taken + 1, 2) iterates) and ``_losses`` (loss per iterate), for drawing.

    Raises:
        ValueError: for an unknown surface or optimiser.

    Introduced in lecture 02_backprop.
    """
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; choose from {sorted(SURFACES)}")
    f, grad, _ = SURFACES[surface]
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {optimizer!r}; choose from {OPTIMIZERS}")
    step, kw = _optimizer_step(optimizer, lr, momentum)
    w = np.array(w0, dtype=np.float64)
    path, state = [w.copy()], None
    with np.errstate(all="ignore"):
        for _ in range(int(steps)):
            w, state = step(w, np.array(grad(*w)), state, **kw)
            path.append(np.array(w, dtype=np.float64))
            if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e6:
                break
        P = np.array(path)
        losses = np.array([f(*p) for p in P], dtype=np.float64)
    # diverged: the iterate blew up, or (on the surfaces bounded below) the loss ended above where it started
    diverged = bool(not np.all(np.isfinite(P[-1])) or np.abs(P[-1]).max() > 1e6
                    or (surface != "saddle" and losses[-1] > losses[0]))
    w2 = P[:, 1]
    signs = np.sign(w2[w2 != 0])
    return {
        "initial_loss": float(losses[0]), "final_loss": float(losses[-1]),
        "final_w1": float(P[-1, 0]), "final_w2": float(P[-1, 1]), "diverged": diverged,
        "steps_taken": len(P) - 1, "w2_sign_changes": int(np.sum(signs[1:] != signs[:-1])),
        "max_abs_w2_last10": float(np.abs(w2[-10:]).max()),
        "_path": P, "_losses": losses,
    }


class OptimizerPathExplorer(_StaticFigure, Explorer):
    """An optimiser's path on a 2-D surface, beside plain SGD at the same learning rate.

    Controls: ``surface``, ``optimizer``, ``lr`` (log slider), ``momentum`` (mu, or beta1 for Adam),
    ``steps`` and the start ``w1_0``, ``w2_0``. The contours are drawn with equal scales on both axes;
    the chosen optimiser's path is red, plain SGD's (same lr, same start) grey; the inset shows the
    loss per step of both (log scale).

    ``update`` returns the numbers of :func:`optimizer_run` for the chosen optimiser, and
    ``sgd_final_loss``, the reference's.

    Introduced in lecture 02_backprop.
    """

    figsize = (8.5, 3.6)
    dpi = 80

    def _controls(self) -> dict:
        return {
            "surface": W.Dropdown(options=list(SURFACES), value="bowl", description="surface"),
            "optimizer": W.Dropdown(options=OPTIMIZERS, value="sgd", description="optimizer"),
            "lr": _slider(0.038, -4, 0.5, 0.01, "lr", log=True),
            "momentum": _slider(0.9, 0.0, 0.99, 0.01, "momentum / beta1"),
            "steps": _slider(40, 1, 300, 1, "steps"),
            "w1_0": _slider(-4.0, -5.0, 5.0, 0.1, "start w1"),
            "w2_0": _slider(1.5, -3.0, 3.0, 0.05, "start w2"),
        }

    def compute(self, *, surface: str, optimizer: str, lr: float, momentum: float, steps: int, w1_0: float,
                w2_0: float) -> dict:
        out = optimizer_run(surface, optimizer, lr, momentum, int(steps), (w1_0, w2_0))
        ref = out if optimizer == "sgd" else optimizer_run(surface, "sgd", lr, momentum, int(steps), (w1_0, w2_0))
        out["sgd_final_loss"] = ref["final_loss"]
        out["_sgd_path"], out["_sgd_losses"] = ref["_path"], ref["_losses"]
        return out

    def draw(self, result: dict, *, surface: str, optimizer: str, lr: float, **_: Any) -> None:
        f, _grad, (x0, x1, y0, y1) = SURFACES[surface]
        ax = self.fig.add_axes((0.07, 0.13, 0.6, 0.78))
        gx, gy = np.meshgrid(np.linspace(x0, x1, 160), np.linspace(y0, y1, 160))
        Z = f(gx, gy)
        if surface == "saddle":
            ax.contour(gx, gy, Z, levels=20, cmap="coolwarm", linewidths=0.7)
        else:
            ax.contour(gx, gy, np.log1p(Z - Z.min()), levels=20, cmap="viridis", linewidths=0.7)
        box = ([[x0 - 1, y0 - 1]], [[x1 + 1, y1 + 1]])
        with np.errstate(all="ignore"):
            if optimizer != "sgd":
                ref = np.clip(result["_sgd_path"], *box)
                ax.plot(ref[:, 0], ref[:, 1], "o-", color="0.6", ms=2, lw=0.8, label=f"sgd, lr {lr:.3g}")
            p = np.clip(result["_path"], *box)
        ax.plot(p[:, 0], p[:, 1], "o-", color="crimson", ms=2.5, lw=1.1, label=f"{optimizer}, lr {lr:.3g}")
        ax.plot(p[0, 0], p[0, 1], "ks", ms=6)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")      # equal scales: the valley is as narrow as the curvatures make it
        ax.set_xlabel("w1", fontsize=10)
        ax.set_ylabel("w2", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.legend(fontsize=8, loc="upper right")
        state = "diverged" if result["diverged"] else f"final loss {result['final_loss']:.3g}"
        ax.set_title(f"{surface}: {optimizer}, lr {lr:.3g}: {state}", fontsize=10)
        inset = self.fig.add_axes((0.76, 0.16, 0.22, 0.7))
        with np.errstate(all="ignore"):
            for losses, color, name in ((result["_sgd_losses"], "0.6", "sgd"), (result["_losses"], "crimson",
                                                                                  optimizer)):
                shown = np.abs(losses) if surface == "saddle" else losses
                ok = np.isfinite(shown)
                inset.semilogy(np.flatnonzero(ok), np.maximum(shown[ok], 1e-16), color=color, lw=1.2, label=name)
        inset.set_xlabel("step", fontsize=9)
        inset.set_title("|loss| per step" if surface == "saddle" else "loss per step", fontsize=9)
        inset.tick_params(labelsize=8)

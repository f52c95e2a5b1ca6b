"""Explorers of unit 01: nearest neighbours and linear classifiers on 2-D toy sets.

Each explorer's numbers come from a plain function that tests call without a browser:

- :func:`linear_classifier_state` (and :func:`gradient_descent`) behind
  :class:`LinearClassifierExplorer`: a linear classifier set by hand with sliders, beside the
  classifier that gradient descent reaches from it;
- :func:`knn_state` behind :class:`KNNExplorer`: kNN decision regions as ``k`` and the distance
  change.

Both draw their figure when they are built, before any control moves, and also offer it as a
static PNG (``image/png`` beside the widget in their display bundle), so a notebook rendered
without a live kernel (an export, a page on the web) still shows a picture.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from .. import nn as _nn
from ..classifiers import knn_predict, pairwise_distances
from ..data import make_blobs
from ..viz import decision_regions
from ..widgets import Explorer, _slider

__all__ = ["linear_softmax_loss", "linear_svm_loss", "gradient_descent", "linear_classifier_state",
           "LinearClassifierExplorer", "explorer_blobs", "knn_state", "knn_dataset", "KNNExplorer"]


class _StaticFigure:
    """Mixin: the display bundle carries the current figure as ``image/png`` besides the widget,
    for renderers that have no widget state (a live JupyterLab shows the widget)."""

    widget: Any       # the Explorer's, which this is mixed into
    image: Any

    def _repr_mimebundle_(self, **kwargs):
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        if self.image.value:
            bundle["image/png"] = base64.b64encode(bytes(self.image.value)).decode("ascii")
        return bundle


# =============================================================================
# Linear classifier
# =============================================================================

def _linear_loss(loss_fn: Callable, Wm: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray,
                 reg: float) -> tuple[float, np.ndarray, np.ndarray]:
    # the data loss and its score gradient come from the tested course_lib.nn; only the
    # chain rule through the linear scores and the L2 term live here
    loss, dscores = loss_fn(X @ Wm.T + b, y)
    return float(loss + reg * np.sum(Wm * Wm)), dscores.T @ X + 2 * reg * Wm, dscores.sum(0)


def linear_softmax_loss(Wm: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
                        ) -> tuple[float, np.ndarray, np.ndarray]:
    """Softmax loss (:func:`course_lib.nn.softmax_loss`) of scores ``X @ Wm.T + b`` plus ``reg * sum(Wm**2)``.

    The bias is not penalised here (the math convention of this picture: ``b`` is apart from ``W``).

    Args:
        Wm: (C, D) one row per class; b: (C,); X: (N, D); y: (N,) ints; reg: L2 strength.

    Returns:
        (loss, dW (C, D), db (C,)).

    Introduced in lecture 01_linear_classifiers.
    """
    return _linear_loss(_nn.softmax_loss, Wm, b, X, y, reg)


def linear_svm_loss(Wm: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """Multiclass hinge loss (:func:`course_lib.nn.svm_loss`, margin 1) of ``X @ Wm.T + b`` plus
    ``reg * sum(Wm**2)``; same shapes as :func:`linear_softmax_loss`.

    Introduced in lecture 01_linear_classifiers.
    """
    return _linear_loss(_nn.svm_loss, Wm, b, X, y, reg)


_LOSSES = {"softmax": linear_softmax_loss, "svm": linear_svm_loss}


def gradient_descent(loss: str, Wm: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray, *, reg: float,
                     lr: float, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` full-batch gradient-descent steps from ``(Wm, b)``.

    Returns:
        (Wm, b, curve): the final parameters and the loss before the first step and after each
        step (``steps + 1`` values); stops early, with ``inf`` last, once the loss overflows.

    Introduced in lecture 01_linear_classifiers.
    """
    fn = _LOSSES[loss]
    Wt, bt = np.array(Wm, dtype=np.float64), np.array(b, dtype=np.float64)
    curve = [fn(Wt, bt, X, y, reg)[0]]
    with np.errstate(all="ignore"):
        for _ in range(int(steps)):
            _, dW, db = fn(Wt, bt, X, y, reg)
            Wt, bt = Wt - lr * dW, bt - lr * db
            value = fn(Wt, bt, X, y, reg)[0]
            if not np.isfinite(value) or value > 1e12:
                curve.append(np.inf)
                break
            curve.append(value)
    return Wt, bt, np.array(curve)


def _count_rises(curve: np.ndarray) -> int:
    """How many steps of a loss curve went up (by more than rounding)."""
    c = curve[np.isfinite(curve)]
    return int(np.sum(np.diff(c) > 1e-9 * np.maximum(1.0, np.abs(c[:-1]))))


def linear_classifier_state(X: np.ndarray, y: np.ndarray, Wm: np.ndarray, b: np.ndarray, *, scale: float = 1.0,
                            loss: str = "softmax", reg: float = 0.0, lr: float = 0.1, steps: int = 0) -> dict:
    """Everything :class:`LinearClassifierExplorer` shows, as numbers.

    The classifier set by hand is ``scores = X @ (scale * Wm).T + scale * b``; gradient descent
    (:func:`gradient_descent`) runs ``steps`` steps from it.

    Returns:
        dict with, for the hand-set classifier, ``loss`` (data + reg), ``data_loss``, ``reg_loss``,
        ``accuracy``, ``min_margin`` (smallest ``s_y - max_{j != y} s_j`` over the points: > 1 means
        every point is beyond the SVM margin); for the trained one ``trained_loss``,
        ``trained_data_loss``, ``trained_accuracy``, ``trained_weight_norm`` (``||W||``),
        ``rises`` (steps at which the loss went up: oscillation), ``diverged`` (the loss overflowed);
        and arrays for drawing (keys starting with ``_``): ``_W``, ``_b``, ``_Wt``, ``_bt``, ``_curve``,
        ``_pred`` (the hand-set classifier's labels).

    Introduced in lecture 01_linear_classifiers.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {loss!r}")
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    Ws, bs = scale * np.asarray(Wm, dtype=np.float64), scale * np.asarray(b, dtype=np.float64)
    fn = _LOSSES[loss]
    value = fn(Ws, bs, X, y, reg)[0]
    reg_loss = float(reg * np.sum(Ws * Ws))
    scores = X @ Ws.T + bs
    pred = np.argmax(scores, axis=1)
    others = scores.copy()
    others[np.arange(len(y)), y] = -np.inf
    margins = scores[np.arange(len(y)), y] - others.max(axis=1)
    Wt, bt, curve = gradient_descent(loss, Ws, bs, X, y, reg=reg, lr=lr, steps=steps)
    diverged = not np.isfinite(curve[-1])
    with np.errstate(all="ignore"):
        trained_reg = float(reg * np.sum(Wt * Wt))
        trained_pred = np.argmax(X @ Wt.T + bt, axis=1) if not diverged else np.full(len(y), -1)
    return {"loss": float(value), "data_loss": float(value) - reg_loss, "reg_loss": reg_loss,
            "accuracy": float(np.mean(pred == y)), "min_margin": float(margins.min()),
            "trained_loss": float(curve[-1]), "trained_data_loss": float(curve[-1]) - trained_reg,
            "trained_accuracy": float(np.mean(trained_pred == y)),
            "trained_weight_norm": float(np.sqrt(np.sum(Wt * Wt))), "rises": _count_rises(curve),
            "diverged": bool(diverged),
            "_W": Ws, "_b": bs, "_Wt": Wt, "_bt": bt, "_curve": curve, "_pred": pred}


def _linear_scores(Wm: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The score function ``P -> P @ Wm.T + b`` of a linear classifier (for drawing its regions)."""
    def scores(P: np.ndarray) -> np.ndarray:
        return P @ Wm.T + b
    return scores


def explorer_blobs(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The linear explorer's data: three well-separated blobs, 20 points each (linearly separable).

    Introduced in lecture 01_linear_classifiers.
    """
    return make_blobs(20, 3, spread=0.45, radius=2.0, seed=seed)


# a deliberately poor start: class 0's arrow points at class 1's blob, class 2 is nearly silent
_START_W = np.array([[-0.5, 0.9], [0.8, 0.2], [0.1, -0.1]])
_START_B = np.array([0.0, 0.0, 0.0])


class LinearClassifierExplorer(_StaticFigure, Explorer):
    """Set a linear classifier by hand, and see where gradient descent takes it.

    Scores are ``X @ W.T + b`` with ``W`` (3, 2), one row per class (an arrow in the picture).
    Controls: the class ``row`` being edited and its ``w1``, ``w2``, ``b``; ``scale``, which
    multiplies every row and bias at once; the ``loss`` (softmax or SVM); ``reg`` (L2 strength,
    on ``W`` only); the learning rate ``lr`` and the number of full-batch gradient-descent
    ``steps`` started from the hand-set classifier. The figure shows the hand-set classifier
    (left), the classifier after the steps (middle) and the loss at each step (right).

    ``update`` returns the numbers of :func:`linear_classifier_state`.

    Args:
        X, y: (N, 2) points and (N,) labels in {0, 1, 2}; default :func:`explorer_blobs`.
        W0, b0: the starting (3, 2) weights and (3,) biases (default: a deliberately poor classifier).

    Introduced in lecture 01_linear_classifiers.
    """

    figsize = (10.5, 3.4)

    def __init__(self, X: np.ndarray | None = None, y: np.ndarray | None = None, *,
                 W0: np.ndarray | None = None, b0: np.ndarray | None = None, resolution: int = 100):
        if X is None:
            X, y = explorer_blobs()
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.num_classes = int(self.y.max()) + 1
        self.W = np.array(_START_W if W0 is None else W0, dtype=np.float64)
        self.b = np.array(_START_B if b0 is None else b0, dtype=np.float64)
        if self.W.shape != (self.num_classes, 2) or self.b.shape != (self.num_classes,):
            raise ValueError(f"need W0 of shape ({self.num_classes}, 2) and b0 of shape ({self.num_classes},)")
        self.resolution = resolution
        super().__init__()

    def _controls(self) -> dict:
        return {
            "row": W.Dropdown(options=list(range(self.num_classes)), value=0, description="class row"),
            "w1": _slider(float(self.W[0, 0]), -3.0, 3.0, 0.05, "w1"),
            "w2": _slider(float(self.W[0, 1]), -3.0, 3.0, 0.05, "w2"),
            "b": _slider(float(self.b[0]), -3.0, 3.0, 0.05, "b"),
            "scale": _slider(1.0, 0.0, 4.0, 0.25, "scale all rows"),
            "loss": W.Dropdown(options=["softmax", "svm"], value="softmax", description="loss"),
            "reg": _slider(0.0, 0.0, 1.0, 0.01, "reg"),
            "lr": _slider(0.1, -3, 1, 0.1, "lr", log=True),
            "steps": _slider(50, 0, 200, 5, "GD steps"),
        }

    def _on_control(self, name, value) -> None:
        r = self.controls["row"].value
        if name == "row":      # show the newly selected row on the sliders
            self.controls["w1"].value = float(self.W[r, 0])
            self.controls["w2"].value = float(self.W[r, 1])
            self.controls["b"].value = float(self.b[r])
        elif name in ("w1", "w2"):
            self.W[r, 0 if name == "w1" else 1] = float(value)
        elif name == "b":
            self.b[r] = float(value)

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the hand-set (W (C, 2), b (C,)), before ``scale``."""
        return self.W.copy(), self.b.copy()

    def compute(self, *, row: int, w1: float, w2: float, b: float, scale: float, loss: str, reg: float,
                lr: float, steps: int) -> dict:
        self.W[row] = (w1, w2)
        self.b[row] = b
        return linear_classifier_state(self.X, self.y, self.W, self.b, scale=scale, loss=loss, reg=reg, lr=lr,
                                       steps=int(steps))

    def draw(self, result: dict, *, row: int, steps: int, lr: float, **_: Any) -> None:
        ax1, ax2, ax3 = self.fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 3, 2.4]})
        for ax, Wk, bk, title in (
                (ax1, result["_W"], result["_b"], f"set by hand: acc {result['accuracy']:.2f}, "
                                                   f"loss {result['loss']:.3f}"),
                (ax2, result["_Wt"], result["_bt"], f"after {steps} GD steps: acc {result['trained_accuracy']:.2f}")):
            if np.all(np.isfinite(Wk)) and np.all(np.isfinite(bk)):
                decision_regions(_linear_scores(Wk, bk), self.X, self.y, ax=ax, resolution=self.resolution)
                for c in range(self.num_classes):   # each class's weight vector, drawn from the origin
                    tip = Wk[c] / max(1.0, float(np.abs(Wk).max()) / 2.5)
                    ax.annotate("", xy=tuple(tip), xytext=(0, 0),
                                arrowprops={"arrowstyle": "->", "lw": 2.2 if c == row else 1.0,
                                            "color": "k" if c == row else "0.35"})
            else:
                ax.text(0.5, 0.5, "diverged", transform=ax.transAxes, ha="center", va="center")
            ax.set_title(title, fontsize=8)
            ax.tick_params(labelsize=7)
        curve = result["_curve"]
        finite = np.isfinite(curve)
        ax3.plot(np.flatnonzero(finite), curve[finite], marker="o", markersize=2.5,
                 markevery=max(1, len(curve) // 20))
        if result["diverged"]:
            ax3.set_yscale("log")
            ax3.text(0.5, 0.9, "diverged", transform=ax3.transAxes, ha="center", color="crimson", fontsize=8)
        elif len(curve) == 1:
            ax3.text(0.5, 0.5, "set GD steps > 0\nto see the curve", transform=ax3.transAxes,
                     ha="center", va="center", fontsize=8, color="0.4")
        ax3.set_xlabel("GD step", fontsize=8)
        ax3.set_ylabel("loss", fontsize=8)
        ax3.tick_params(labelsize=7)
        ax3.set_title(f"lr {lr:.3g}: loss {result['loss']:.3f} -> {result['trained_loss']:.3g}", fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# k-nearest neighbours
# =============================================================================

def knn_dataset(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kNN explorer's data: three overlapping blobs, 40 training and 40 validation points per class.

    Returns:
        (X_train, y_train, X_val, y_val).

    Introduced in lecture 01_linear_classifiers.
    """
    X, y = make_blobs(80, 3, spread=0.9, radius=1.5, seed=seed)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(X))
    train, val = order[: len(X) // 2], order[len(X) // 2:]
    return X[train], y[train], X[val], y[val]


def _grid(X: np.ndarray, resolution: int, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    x0, x1 = X[:, 0].min() - margin, X[:, 0].max() + margin
    y0, y1 = X[:, 1].min() - margin, X[:, 1].max() + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    return gx, gy


def knn_state(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *, k: int = 1,
              metric: str = "l2", resolution: int = 80) -> dict:
    """Everything :class:`KNNExplorer` shows, as numbers (kNN from :mod:`course_lib.classifiers`).

    Returns:
        dict with ``train_accuracy`` (each training point predicted from the whole training set,
        itself included), ``val_accuracy``, ``boundary`` (fraction of neighbouring grid cells, across
        and down, whose predicted labels differ: a rough, jagged boundary scores high), ``regions``
        (number of distinct labels predicted on the grid), and the grid labels ``_labels``
        (resolution x resolution) with ``_gx``, ``_gy`` for drawing.

    Introduced in lecture 01_linear_classifiers.
    """
    X_train, X_val = np.asarray(X_train, dtype=np.float64), np.asarray(X_val, dtype=np.float64)
    k = int(k)
    train_pred = knn_predict(pairwise_distances(X_train, X_train, metric), y_train, k)
    val_pred = knn_predict(pairwise_distances(X_val, X_train, metric), y_train, k)
    gx, gy = _grid(np.vstack([X_train, X_val]), resolution)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    labels = knn_predict(pairwise_distances(grid, X_train, metric), y_train, k).reshape(gx.shape)
    changes = np.sum(labels[:, 1:] != labels[:, :-1]) + np.sum(labels[1:, :] != labels[:-1, :])
    pairs = labels[:, 1:].size + labels[1:, :].size
    return {"train_accuracy": float(np.mean(train_pred == y_train)), "val_accuracy": float(np.mean(val_pred == y_val)),
            "boundary": float(changes / pairs), "regions": int(len(np.unique(labels))),
            "_labels": labels, "_gx": gx, "_gy": gy}


class KNNExplorer(_StaticFigure, Explorer):
    """kNN decision regions on a 2-D toy set as ``k`` and the distance (L1 or L2) change.

    Training points are drawn as dots, validation points as crosses. ``update`` returns the
    numbers of :func:`knn_state` (training and validation accuracy, boundary roughness, number of
    regions).

    Args:
        data: (X_train, y_train, X_val, y_val); default :func:`knn_dataset`.

    Introduced in lecture 01_linear_classifiers.
    """

    figsize = (5.2, 4.0)

    def __init__(self, data: tuple | None = None, *, resolution: int = 80):
        self.X_train, self.y_train, self.X_val, self.y_val = (np.asarray(a) for a in (data or knn_dataset()))
        self.resolution = resolution
        super().__init__()

    def _controls(self) -> dict:
        return {
            "k": W.IntSlider(value=1, min=1, max=len(self.X_train), step=1, description="k",
                             continuous_update=False),
            "metric": W.Dropdown(options=["l2", "l1"], value="l2", description="distance"),
        }

    def compute(self, *, k: int, metric: str) -> dict:
        return knn_state(self.X_train, self.y_train, self.X_val, self.y_val, k=k, metric=metric,
                         resolution=self.resolution)

    def draw(self, result: dict, *, k: int, metric: str) -> None:
        ax = self.fig.subplots()
        labels = result["_labels"]
        num = int(max(self.y_train.max(), labels.max())) + 1
        ax.contourf(result["_gx"], result["_gy"], labels, levels=np.arange(num + 1) - 0.5, cmap="viridis",
                    alpha=0.3, vmin=0, vmax=num - 1)
        ax.scatter(self.X_train[:, 0], self.X_train[:, 1], c=self.y_train, cmap="viridis", vmin=0, vmax=num - 1,
                   s=14, edgecolors="k", linewidths=0.3, label="train")
        ax.scatter(self.X_val[:, 0], self.X_val[:, 1], c=self.y_val, cmap="viridis", vmin=0, vmax=num - 1,
                   s=18, marker="x", linewidths=0.8, label="validation")
        ax.set_title(f"k = {k}, {metric.upper()}: train acc {result['train_accuracy']:.2f}, "
                     f"val acc {result['val_accuracy']:.2f}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.tick_params(labelsize=7)
        self.fig.tight_layout()

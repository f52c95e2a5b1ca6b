"""Plots the units share (matplotlib). Nothing here calls ``plt.show()``.

Every function takes an optional ``ax`` (or builds its own figure) and returns
what it drew on (an ``Axes``, or a ``Figure`` for multi-panel plots), so a
notebook can add titles and a test can inspect it. New figures are made with
pyplot, so a notebook's inline backend shows them at the end of the cell (tests
should ``plt.close`` them). :func:`new_figure` with ``pyplot=False`` makes a
figure pyplot does not track (what :mod:`course_lib.widgets` draws on), and
:func:`figure_to_png` turns a figure into PNG bytes.
"""
from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = ["image_grid", "training_curves", "decision_regions", "attention_heatmap", "embedding_2d",
           "new_figure", "figure_to_png"]


def new_figure(figsize: tuple[float, float] = (5, 4), nrows: int = 1, ncols: int = 1, *,
               pyplot: bool = True) -> tuple[Figure, Any]:
    """A new figure with ``nrows x ncols`` axes.

    Args:
        pyplot: if False, the figure is not registered with pyplot (no global state,
            never shown automatically, freed with its last reference; Agg canvas).

    Returns:
        (fig, ax) for one panel, (fig, axes array) for several.

    Introduced in lecture 01_linear_classifiers.
    """
    if pyplot:
        # lazy: matplotlib (a second to import) loads when a figure is drawn, not with course_lib
        import matplotlib.pyplot as plt
        return plt.subplots(nrows, ncols, figsize=figsize, squeeze=True)
    # lazy: as above, a figure without pyplot's global state
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def _ax(ax, figsize=(5, 4)):
    if ax is not None:
        return ax.figure, ax
    return new_figure(figsize)


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """PNG bytes of ``fig`` (deterministic for the same drawing).

    Introduced in lecture 01_linear_classifiers.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _to_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def image_grid(images: ArrayLike, labels: Sequence | None = None, ncols: int = 8, *, cmap: str = "gray",
               class_names: Sequence[str] | None = None, figsize: tuple[float, float] | None = None,
               fig: Figure | None = None) -> Figure:
    """Show images in a grid.

    Args:
        images: (N, H, W), (N, 1, H, W), (N, 3, H, W) or (N, H, W, 3); NumPy or torch.
            (N, D) with D a perfect square is reshaped to (N, sqrt(D), sqrt(D)).
        labels: optional (N,) titles (class ids, mapped through ``class_names`` if given).
        ncols: images per row.
        fig: draw into this (cleared) figure instead of a new one.

    Returns:
        the Figure.

    Introduced in lecture 01_linear_classifiers.
    """
    imgs = _to_numpy(images).astype(np.float64)
    if imgs.ndim == 2:
        side = int(round(math.sqrt(imgs.shape[1])))
        if side * side != imgs.shape[1]:
            raise ValueError(f"cannot reshape rows of length {imgs.shape[1]} into square images")
        imgs = imgs.reshape(-1, side, side)
    if imgs.ndim == 4 and imgs.shape[1] in (1, 3) and imgs.shape[-1] not in (1, 3):
        imgs = imgs.transpose(0, 2, 3, 1)
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        imgs = imgs[..., 0]
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    if fig is None:
        fig, axes = new_figure(figsize or (1.2 * ncols, 1.3 * nrows), nrows, ncols)
    else:
        fig.clear()
        axes = fig.subplots(nrows, ncols, squeeze=True)
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        img = imgs[i]
        if img.ndim == 3:  # colour: rescale to [0, 1] for imshow
            lo, hi = img.min(), img.max()
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None, interpolation="nearest")
        if labels is not None:
            lab = labels[i]
            ax.set_title(str(class_names[int(lab)] if class_names is not None else lab), fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(history: Mapping, *, figsize: tuple[float, float] = (9, 3.5),
                    fig: Figure | None = None) -> Figure:
    """Loss (left) and accuracy (right) from a history of :mod:`course_lib.train`.

    Understands the keys of ``Solver.history`` (``loss`` per step, ``train_acc``,
    ``val_acc`` per epoch) and of ``fit`` (``train_loss``, ``val_loss``, ``train_acc``,
    ``val_acc`` per epoch). Missing or all-NaN series are skipped.

    Args:
        history: the dict described above.
        fig: draw into this (cleared) figure instead of a new one.

    Returns:
        the Figure (two Axes).

    Introduced in lecture 03_cnn.
    """
    if fig is None:
        fig, (ax_loss, ax_acc) = new_figure(figsize, 1, 2)
    else:
        fig.clear()
        ax_loss, ax_acc = fig.subplots(1, 2)

    def plot(ax, key, label, **kw):
        vals = history.get(key)
        if vals is None or len(vals) == 0 or np.all(np.isnan(np.asarray(vals, dtype=float))):
            return False
        ax.plot(np.arange(1, len(vals) + 1) if "acc" in key or key.endswith("_loss") else np.arange(len(vals)),
                vals, label=label, **kw)
        return True

    plot(ax_loss, "loss", "train loss (per step)", lw=0.8, alpha=0.8)
    plot(ax_loss, "train_loss", "train loss", marker="o", ms=3)
    plot(ax_loss, "val_loss", "val loss", marker="o", ms=3)
    ax_loss.set_xlabel("step" if "loss" in history else "epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=8)
    has_acc = plot(ax_acc, "train_acc", "train", marker="o", ms=3)
    has_acc |= plot(ax_acc, "val_acc", "val", marker="o", ms=3)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    if has_acc:
        ax_acc.legend(fontsize=8)
    fig.tight_layout()
    return fig


def decision_regions(predict_fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray | None = None,
                     ax: Axes | None = None, resolution: int = 200, *, margin: float = 0.5,
                     cmap: str = "viridis", alpha: float = 0.3) -> Axes:
    """Colour the plane by the class ``predict_fn`` assigns, and scatter the points.

    Args:
        predict_fn: maps (M, 2) points to (M,) labels or (M, C) scores (argmax is taken).
        X: (N, 2) points; y: (N,) labels (optional).
        resolution: grid points per axis.

    Returns:
        the Axes.

    Introduced in lecture 01_linear_classifiers.
    """
    fig, ax = _ax(ax)
    X = np.asarray(X, dtype=np.float64)
    x0, x1 = X[:, 0].min() - margin, X[:, 0].max() + margin
    y0, y1 = X[:, 1].min() - margin, X[:, 1].max() + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    out = _to_numpy(predict_fn(grid))
    labels = out.argmax(1) if out.ndim == 2 else out
    k = int(max(labels.max(), (y.max() if y is not None and len(y) else 0))) + 1
    ax.contourf(gx, gy, labels.reshape(gx.shape), levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=alpha,
                vmin=0, vmax=max(k - 1, 1))
    ax.scatter(X[:, 0], X[:, 1], c=None if y is None else y, cmap=cmap, s=12, edgecolors="k", linewidths=0.3,
               vmin=0, vmax=max(k - 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax


def attention_heatmap(weights: ArrayLike, x_labels: Sequence[str] | None = None,
                      y_labels: Sequence[str] | None = None, ax: Axes | None = None, *,
                      cmap: str = "viridis", annotate: bool | None = None) -> Axes:
    """Attention weights as a heat map: rows are queries (``y_labels``), columns keys (``x_labels``).

    Args:
        weights: (Tq, Tk), NumPy or torch.
        annotate: write the numbers in the cells (default: when at most 10 x 10).

    Returns:
        the Axes.

    Introduced in lecture 05_attention.
    """
    fig, ax = _ax(ax)
    w = _to_numpy(weights).astype(np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (queries, keys), got shape {w.shape}")
    im = ax.imshow(w, cmap=cmap, vmin=0, vmax=max(1e-12, w.max()), aspect="auto")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if x_labels is not None:
        ax.set_xticks(range(w.shape[1]), labels=list(x_labels), rotation=90)
    if y_labels is not None:
        ax.set_yticks(range(w.shape[0]), labels=list(y_labels))
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if annotate is None:
        annotate = w.shape[0] <= 10 and w.shape[1] <= 10
    if annotate:
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if w[i, j] < 0.6 * w.max() else "k")
    return ax


def embedding_2d(Z: ArrayLike, labels: Sequence | None = None, ax: Axes | None = None, *,
                 class_names: Sequence[str] | None = None, method: str = "pca", s: float = 10.0,
                 cmap: str = "tab10") -> Axes:
    """Scatter an embedding in 2-D, coloured by label.

    Args:
        Z: (N, 2) points, or (N, D) projected to 2-D by PCA (``method="pca"``, via SVD).
        labels: (N,) class ids (optional).

    Returns:
        the Axes.

    Introduced in lecture 01_linear_classifiers.
    """
    fig, ax = _ax(ax)
    pts = _to_numpy(Z).astype(np.float64)
    if pts.shape[1] > 2:
        if method != "pca":
            raise ValueError("only method='pca' is built in; project with your own method first")
        Zc = pts - pts.mean(0)
        _, _, Vt = np.linalg.svd(Zc, full_matrices=False)
        pts = Zc @ Vt[:2].T
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=s)
    else:
        lab = _to_numpy(labels)
        for k in np.unique(lab):
            sel = lab == k
            name = class_names[int(k)] if class_names is not None else str(k)
            ax.scatter(pts[sel, 0], pts[sel, 1], s=s, label=name, color=_cmap_color(cmap, int(k)))
        ax.legend(fontsize=7, markerscale=1.5, loc="best")
    return ax


def _cmap_color(name: str, k: int):
    # lazy: matplotlib loads when a figure is drawn, not with course_lib
    import matplotlib
    cmap = matplotlib.colormaps[name]
    return cmap(k % cmap.N) if hasattr(cmap, "N") and cmap.N < 256 else cmap((k % 10) / 9)

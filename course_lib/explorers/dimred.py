"""Explorers of unit 07 (dimensionality reduction): projection, eigen-digits, t-SNE, kernels, neighbourhoods.

Each explorer's numbers come from a plain function tested without a browser:

- :func:`projection_state` behind :class:`ProjectionExplorer`: a 2-D cloud projected on the line
  at an angle; projected variance plus reconstruction error is the (constant) total variance;
- :func:`eigendigits_state` behind :class:`EigenDigitsExplorer`: one digit rebuilt from its first
  k principal components, its residual, the cumulative explained variance;
- :func:`tsne_state` behind :class:`TSNEExplorer`: a short t-SNE of 300 digits for a perplexity,
  a kernel form and early exaggeration on or off (computed live, cached per setting);
- :func:`kernel_state` behind :class:`KernelExplorer`: the distance the Gaussian and the
  Student-t kernel need for the same similarity;
- :func:`neighbourhood_state` behind :class:`NeighbourhoodExplorer`: a kNN graph on a swiss roll
  and how well the first Laplacian-eigenmap coordinate follows the roll.

All draw their figure when built, before any control moves, and carry it as a static PNG.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import ipywidgets as W
import numpy as np

from .. import dimred as dr
from ..widgets import Explorer, _slider
from .linear import _StaticFigure

__all__ = ["TOY_POINTS", "projection_state", "ProjectionExplorer", "digits_raw", "eigendigits_state",
           "EigenDigitsExplorer", "tsne_state", "TSNEExplorer", "kernel_state", "KernelExplorer",
           "swiss_roll", "neighbourhood_state", "NeighbourhoodExplorer"]

#: The course notes' five 2-D points (002 L6283-6352): 1/N covariance [[2, 1.4], [1.4, 1.6]], lambda_1 = 3.2142.
TOY_POINTS = np.array([[2.0, 1.0], [0.0, -1.0], [-2.0, -1.0], [1.0, 2.0], [-1.0, -1.0]])


# =============================================================================
# Projection
# =============================================================================

def projection_state(X: np.ndarray, angle_deg: float) -> dict[str, Any]:
    """Project the centred 2-D cloud ``X`` on the unit vector at ``angle_deg`` (degrees from the x axis).

    Returns:
        dict with ``angle`` (degrees, as given), ``variance`` (1/N variance of the projections,
        ``w^T S w``), ``error`` (mean squared distance from each point to its projection),
        ``total`` (= variance + error = trace S, whatever the angle), ``best_angle`` (the top
        eigenvector's angle in [0, 180)), ``lambda1``, ``lambda2`` (eigenvalues of S, descending),
        and for drawing ``_w``, ``_centred``, ``_projected`` (points on the line, data space).

    Introduced in lecture 07_dimensionality_reduction.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must be (N, 2) points, got shape {X.shape}")
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / len(Xc)
    t = np.deg2rad(angle_deg)
    w = np.array([np.cos(t), np.sin(t)])
    z = Xc @ w
    proj = np.outer(z, w)
    lam, vecs = np.linalg.eigh(S)
    best = float(np.rad2deg(np.arctan2(vecs[1, -1], vecs[0, -1])) % 180.0)
    return {"angle": float(angle_deg), "variance": float(z @ z / len(z)),
            "error": float(((Xc - proj) ** 2).sum() / len(Xc)), "total": float(np.trace(S)),
            "best_angle": best, "lambda1": float(lam[-1]), "lambda2": float(lam[0]),
            "_w": w, "_centred": Xc, "_projected": proj}


class ProjectionExplorer(_StaticFigure, Explorer):
    """An angle slider turns a line through the centre of a 2-D cloud; the points' projections, the
    projected variance, the reconstruction error and their constant sum are shown, the optimum marked.

    Args:
        X: (N, 2) points (default :data:`TOY_POINTS`).

    Introduced in lecture 07_dimensionality_reduction.
    """

    figsize = (9.0, 3.6)

    def __init__(self, X: np.ndarray | None = None):
        self.X = TOY_POINTS if X is None else np.asarray(X, dtype=np.float64)
        super().__init__()

    def _controls(self) -> dict:
        return {"angle": _slider(0.0, 0.0, 180.0, 1.0, "angle (degrees)")}

    def compute(self, *, angle: float) -> dict:
        return projection_state(self.X, angle)

    def draw(self, result: dict, **_: Any) -> None:
        ax, ax2 = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1.4]})
        Xc, P, w = result["_centred"], result["_projected"], result["_w"]
        r = float(np.abs(Xc).max()) * 1.3
        ax.plot([-r * w[0], r * w[0]], [-r * w[1], r * w[1]], "C0-", lw=1.5, label="projection line")
        tb = np.deg2rad(result["best_angle"])
        ax.plot([-r * np.cos(tb), r * np.cos(tb)], [-r * np.sin(tb), r * np.sin(tb)], "C2--", lw=1,
                label=f"optimum {result['best_angle']:.1f} deg")
        for a, b in zip(Xc, P):
            ax.plot([a[0], b[0]], [a[1], b[1]], "r-", lw=0.8)
        ax.scatter(*Xc.T, c="k", s=18, zorder=3)
        ax.scatter(*P.T, c="C0", s=14, zorder=3)
        ax.set_aspect("equal")
        ax.set_xlim(-r, r)
        ax.set_ylim(-r, r)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title("centred points, projections (red: residuals)", fontsize=8)
        angles = np.linspace(0, 180, 181)
        states = [projection_state(self.X, a) for a in angles]
        ax2.plot(angles, [s["variance"] for s in states], label="projected variance")
        ax2.plot(angles, [s["error"] for s in states], label="reconstruction error")
        ax2.axhline(result["total"], color="0.4", ls=":", label=f"sum = trace S = {result['total']:.3g}")
        ax2.axvline(result["best_angle"], color="C2", ls="--", lw=1)
        ax2.axvline(result["angle"], color="C0", lw=1)
        ax2.set_xlabel("angle (degrees)")
        ax2.legend(fontsize=7)
        ax2.set_title(f"variance {result['variance']:.3f} + error {result['error']:.3f} = {result['total']:.3f}",
                      fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# Eigen-digits
# =============================================================================

@lru_cache(maxsize=1)
def digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as (X (N, 64) float64 in 0..16, y (N,) int64), unscaled, in file order.

    The lecture's PCA numbers (565,183.40; 73.8 %) are for these raw pixel values. The arrays are
    shared between calls and read-only: copy them (``X.copy()``) to change them.

    Introduced in lecture 07_dimensionality_reduction.
    """
    # lazy: scikit-learn and SciPy load for the figure that needs them, not with the explorers
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X.astype(np.float64), y.astype(np.int64)
    X.setflags(write=False)                        # cached and shared: a caller's edit must not change the explorers'
    y.setflags(write=False)
    return X, y


@lru_cache(maxsize=1)
def _digits_pca() -> dr.PCA:
    return dr.pca(digits_raw()[0])


def eigendigits_state(index: int, k: int, *, X: np.ndarray | None = None, fit: dr.PCA | None = None
                      ) -> dict[str, Any]:
    """Digit ``index`` rebuilt from its first ``k`` principal components.

    Args:
        index: row of ``X`` (default the raw digits, :func:`digits_raw`); k: 0..D components.
        fit: the full PCA of ``X`` (computed if omitted).

    Returns:
        dict with ``k``, ``index``, ``digit_error`` (squared error of this digit's
        reconstruction), ``kept`` (cumulative explained variance of k components), ``sse`` (the
        squared error summed over all of ``X``; equals N times the discarded eigenvalues),
        ``discarded`` (N times the sum of the discarded eigenvalues), and ``_original``,
        ``_reconstruction``, ``_residual`` (D,), ``_cumulative`` (D,), ``_components`` (first 7, D).

    Introduced in lecture 07_dimensionality_reduction.
    """
    if X is None:
        X = digits_raw()[0]
        fit = _digits_pca() if fit is None else fit
    X = np.asarray(X, dtype=np.float64)
    fit = dr.pca(X) if fit is None else fit
    D = fit.components.shape[0]
    if not 0 <= k <= D:
        raise ValueError(f"k must be between 0 and {D}, got {k}")
    if not 0 <= index < len(X):
        raise ValueError(f"index must be between 0 and {len(X) - 1}, got {index}")
    V = fit.components[:k]
    Z = (X - fit.mean) @ V.T
    R = Z @ V + fit.mean
    x, r = X[index], R[index]
    cum = np.cumsum(fit.variances) / fit.total_variance
    return {"k": int(k), "index": int(index), "digit_error": float(((x - r) ** 2).sum()),
            "kept": float(cum[k - 1]) if k else 0.0, "sse": float(((X - R) ** 2).sum()),
            "discarded": float(len(X) * fit.variances[k:].sum()),
            "_original": x, "_reconstruction": r, "_residual": x - r, "_cumulative": cum,
            "_components": fit.components[:7]}


class EigenDigitsExplorer(_StaticFigure, Explorer):
    """A k slider (0-64) and a digit picker: the digit, its reconstruction from k components, the
    residual, the cumulative explained variance, the first seven eigen-digits.

    Introduced in lecture 07_dimensionality_reduction.
    """

    figsize = (10.0, 3.6)

    def _controls(self) -> dict:
        return {"k": _slider(10, 0, 64, 1, "k components"), "index": _slider(0, 0, 1796, 1, "digit")}

    def compute(self, *, k: int, index: int) -> dict:
        return eigendigits_state(int(index), int(k))

    def draw(self, result: dict, **_: Any) -> None:
        gs = self.fig.add_gridspec(2, 7)
        for j, (name, img) in enumerate((("digit", result["_original"]),
                                         (f"k = {result['k']}", result["_reconstruction"]),
                                         ("residual", result["_residual"]))):
            ax = self.fig.add_subplot(gs[0, j])
            if name == "residual":
                lim = max(float(np.abs(img).max()), 1e-9)
                ax.imshow(img.reshape(8, 8), cmap="coolwarm", vmin=-lim, vmax=lim)
            else:
                ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
            ax.set_title(name, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        for j, comp in enumerate(result["_components"]):
            ax = self.fig.add_subplot(gs[1, j])
            lim = float(np.abs(comp).max())
            ax.imshow(comp.reshape(8, 8), cmap="coolwarm", vmin=-lim, vmax=lim)
            ax.set_title(f"PC {j + 1}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        axc = self.fig.add_subplot(gs[0, 3:])
        cum = result["_cumulative"]
        axc.plot(np.arange(1, len(cum) + 1), cum)
        axc.axvline(max(result["k"], 0.5), color="C3", lw=1)
        axc.set_ylim(0, 1.02)
        axc.set_xlabel("k", fontsize=8)
        axc.set_title(f"variance kept {100 * result['kept']:.1f} %; digit error {result['digit_error']:.0f}",
                      fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# t-SNE
# =============================================================================

#: The t-SNE explorer's perplexity presets.
PERPLEXITIES = (5, 15, 30, 50)


@lru_cache(maxsize=32)
def _tsne_cached(perplexity: float, squared: bool, exaggeration: bool, n: int, n_iter: int
                 ) -> tuple[dr.TSNEResult, float]:
    X, y = digits_raw()
    res = dr.tsne(X[:n], perplexity=perplexity, n_iter=n_iter, exaggeration_iters=100,
                  early_exaggeration=12.0 if exaggeration else 1.0, squared=squared)
    return res, dr.knn_accuracy(res.Y, y[:n], 5)


def tsne_state(perplexity: float = 30, *, squared: bool = True, exaggeration: bool = True, n: int = 300,
               n_iter: int = 250) -> dict[str, Any]:
    """A short exact t-SNE (:func:`course_lib.dimred.tsne`) of the first ``n`` raw digits, cached per setting.

    Exaggeration, when on, multiplies P by 12 for the first 100 iterations. ``squared=False``
    uses the course notes' unsquared distances in both kernels.

    Returns:
        dict with ``perplexity``, ``kl`` (final KL(P || Q)), ``knn_accuracy`` (5-NN, leave-one-out,
        in 2-D), ``median_sigma`` (median of the per-point Gaussian widths ``1 / sqrt(2 beta_i)``),
        ``extent`` (the larger side of the embedding's bounding box), and ``_Y`` (n, 2), ``_y`` (n,).

    Introduced in lecture 07_dimensionality_reduction.
    """
    res, acc = _tsne_cached(float(perplexity), bool(squared), bool(exaggeration), int(n), int(n_iter))
    assert res.betas is not None
    sig = 1.0 / np.sqrt(2.0 * res.betas)
    return {"perplexity": float(perplexity), "kl": res.kl, "knn_accuracy": acc,
            "median_sigma": float(np.median(sig)), "extent": float(np.ptp(res.Y, axis=0).max()),
            "_Y": res.Y, "_y": digits_raw()[1][:n]}


class TSNEExplorer(_StaticFigure, Explorer):
    """t-SNE of 300 digits: perplexity (5, 15, 30, 50), kernel form (squared distances as in the paper,
    or the notes' unsquared form), early exaggeration on or off. Each setting runs 250 iterations
    once (about a third of a second) and is cached.

    Introduced in lecture 07_dimensionality_reduction.
    """

    figsize = (5.6, 4.6)

    def _controls(self) -> dict:
        return {"perplexity": W.Dropdown(options=list(PERPLEXITIES), value=30, description="perplexity"),
                "kernel": W.Dropdown(options=["squared (t-SNE)", "unsquared (notes)"], value="squared (t-SNE)",
                                     description="kernel"),
                "exaggeration": W.Checkbox(value=True, description="early exaggeration")}

    def compute(self, *, perplexity: float, kernel: str, exaggeration: bool) -> dict:
        return tsne_state(perplexity, squared=kernel.startswith("squared"), exaggeration=exaggeration)

    def draw(self, result: dict, **values: Any) -> None:
        ax = self.fig.subplots()
        Y, y = result["_Y"], result["_y"]
        sc = ax.scatter(Y[:, 0], Y[:, 1], c=y, cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
        self.fig.colorbar(sc, ax=ax, ticks=range(10), shrink=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"perplexity {result['perplexity']:g}, {values.get('kernel', '')}: KL {result['kl']:.3f}, "
                     f"5-NN {result['knn_accuracy']:.3f}", fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# Kernels
# =============================================================================

def kernel_state(s: float) -> dict[str, Any]:
    """The distances at which the Gaussian ``exp(-d^2/2)`` and the Student-t ``1/(1 + d^2)`` reach similarity ``s``.

    Returns:
        dict with ``s``, ``d_gaussian``, ``d_student``, ``ratio`` (= d_student / d_gaussian).

    Introduced in lecture 07_dimensionality_reduction.
    """
    dg = float(dr.distance_for_similarity(s, "gaussian"))
    dt = float(dr.distance_for_similarity(s, "student-t"))
    return {"s": float(s), "d_gaussian": dg, "d_student": dt, "ratio": dt / dg if dg > 0 else 1.0}


class KernelExplorer(_StaticFigure, Explorer):
    """A similarity slider: both kernels' curves, and the distance each needs to reach that similarity.

    Introduced in lecture 07_dimensionality_reduction.
    """

    figsize = (6.0, 3.6)

    def _controls(self) -> dict:
        return {"s": _slider(0.1, 0.01, 0.99, 0.01, "similarity s")}

    def compute(self, *, s: float) -> dict:
        return kernel_state(s)

    def draw(self, result: dict, **_: Any) -> None:
        ax = self.fig.subplots()
        d = np.linspace(0, 6, 300)
        ax.plot(d, dr.similarity(d, "gaussian"), label="Gaussian exp(-d²/2) (data)")
        ax.plot(d, dr.similarity(d, "student-t"), label="Student-t 1/(1+d²) (embedding)")
        ax.axhline(result["s"], color="0.5", ls=":")
        ax.plot([result["d_gaussian"]], [result["s"]], "o", color="C0")
        ax.plot([result["d_student"]], [result["s"]], "o", color="C1")
        ax.set_xlabel("distance d")
        ax.set_ylabel("similarity")
        ax.legend(fontsize=7)
        ax.set_title(f"s = {result['s']:.2f}: d = {result['d_gaussian']:.3f} (Gaussian) vs "
                     f"{result['d_student']:.3f} (Student-t)", fontsize=8)
        self.fig.tight_layout()


# =============================================================================
# Neighbourhoods on a swiss roll
# =============================================================================

@lru_cache(maxsize=2)
def swiss_roll(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``make_swiss_roll(n, random_state=seed)``: points (n, 3) and roll parameter t (n,).

    Introduced in lecture 07_dimensionality_reduction.
    """
    # lazy: scikit-learn and SciPy load for the figure that needs them, not with the explorers
    from sklearn.datasets import make_swiss_roll

    X, t = make_swiss_roll(n, random_state=seed)
    X.setflags(write=False)                        # cached and shared, like digits_raw's arrays
    t.setflags(write=False)
    return X, t


def neighbourhood_state(k: int, *, n: int = 400, seed: int = 0) -> dict[str, Any]:
    """kNN graph (:func:`course_lib.dimred.knn_graph`) of the swiss roll and its first Laplacian-eigenmap coordinate.

    Returns:
        dict with ``k``, ``components`` (connected components of the graph), ``spearman`` (|Spearman
        correlation| of the first non-trivial eigenvector with the roll parameter), ``shortcuts``
        (edges joining points whose roll parameters differ by more than 2: edges across layers), and
        ``_X``, ``_t``, ``_z``, ``_W``.

    Introduced in lecture 07_dimensionality_reduction.
    """
    # lazy: scikit-learn and SciPy load for the figure that needs them, not with the explorers
    from scipy.sparse.csgraph import connected_components
    from scipy.stats import spearmanr

    X, t = swiss_roll(n, seed)
    Wg = dr.knn_graph(X, int(k))
    z = dr.laplacian_eigenmaps(Wg, 1)[:, 0]
    i, j = np.nonzero(np.triu(Wg))
    return {"k": int(k), "components": int(connected_components(Wg, directed=False)[0]),
            "spearman": float(abs(spearmanr(z, t)[0])),
            "shortcuts": int((np.abs(t[i] - t[j]) > 2.0).sum()), "_X": X, "_t": t, "_z": z, "_W": Wg}


class NeighbourhoodExplorer(_StaticFigure, Explorer):
    """A k slider on a 400-point swiss roll: the kNN graph in 3-D (shortcut edges in red) and the first
    Laplacian-eigenmap coordinate against the roll parameter.

    Introduced in lecture 07_dimensionality_reduction.
    """

    figsize = (9.0, 3.8)

    def _controls(self) -> dict:
        return {"k": _slider(6, 2, 14, 1, "k neighbours")}

    def compute(self, *, k: int) -> dict:
        return neighbourhood_state(int(k))

    def draw(self, result: dict, **_: Any) -> None:
        X, t, z, Wg = result["_X"], result["_t"], result["_z"], result["_W"]
        # lazy: matplotlib's 3-D toolkit loads when the swiss roll is drawn
        from mpl_toolkits.mplot3d.art3d import Line3DCollection

        ax = self.fig.add_subplot(1, 2, 1, projection="3d")
        i, j = np.nonzero(np.triu(Wg))
        bad = np.abs(t[i] - t[j]) > 2.0
        segments = np.stack([X[i], X[j]], axis=1)
        ax.add_collection3d(Line3DCollection(segments[~bad], colors="0.7", linewidths=0.3))
        ax.add_collection3d(Line3DCollection(segments[bad], colors="r", linewidths=1.2))
        ax.scatter(*X.T, c=t, cmap="viridis", s=4)
        ax.view_init(10, -70)
        ax.set_title(f"k = {result['k']}: {result['shortcuts']} shortcut edges, {result['components']} "
                     f"component(s)", fontsize=8)
        ax2 = self.fig.add_subplot(1, 2, 2)
        ax2.scatter(t, z, c=t, cmap="viridis", s=5)
        ax2.set_xlabel("roll parameter t")
        ax2.set_ylabel("first eigenmap coordinate")
        ax2.set_title(f"|Spearman| = {result['spearman']:.3f}", fontsize=8)
        self.fig.tight_layout()

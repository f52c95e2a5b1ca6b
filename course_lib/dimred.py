"""Dimensionality reduction in NumPy: PCA, graph Laplacians and t-SNE (unit 07's reference code).

Conventions (the lecture's *Conventions* notes say why):

- rows are samples: ``X`` is (N, D); the components are the rows of a (k, D) matrix;
- the covariance is normalised by 1/N (``np.cov`` and scikit-learn's ``explained_variance_``
  use 1/(N - 1): same eigenvectors, eigenvalues larger by N / (N - 1));
- a component's sign is arbitrary; :func:`pca` fixes it so that the entry of largest absolute
  value is positive (scikit-learn's ``svd_flip`` does the same on U). Compare components up to sign;
- both t-SNE kernels take **squared** distances: ``exp(-beta_i * d_ij^2)`` in the data and
  ``(1 + d_ij^2)^-1`` in the embedding (the course notes write unsquared distances; ``squared=False``
  gives that form, for the explorer's comparison only);
- perplexity is ``2 ** H`` with the entropy ``H`` in bits (= ``exp(H)`` with ``H`` in nats).

The t-SNE here is exact (every pair, O(N^2) memory and time per step), vectorised, with
scikit-learn's optimiser (momentum 0.5 then 0.8, per-parameter gains, early exaggeration for the
first iterations, learning rate ``max(N / exaggeration / 4, 50)``, PCA initialisation scaled to a
standard deviation of 1e-4).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PCA", "pca", "explained_variance_ratio", "pairwise_sq_dists", "perplexity_of",
           "conditional_probabilities", "joint_probabilities", "tsne_kl_and_grad", "TSNEResult", "tsne",
           "knn_accuracy", "knn_graph", "graph_laplacian", "laplacian_eigenmaps", "similarity",
           "distance_for_similarity", "KERNELS"]

#: Similarity kernels of :func:`similarity`: the Gaussian of SNE's data side, the Student-t of t-SNE's embedding.
KERNELS = ("gaussian", "student-t")


# =============================================================================
# PCA
# =============================================================================

@dataclass
class PCA:
    """A fitted PCA: ``mean`` (D,), ``components`` (k, D) orthonormal rows, ``variances`` (k,) descending.

    ``variances`` are eigenvalues of the 1/N covariance (the variance of each coordinate of
    :meth:`transform`); ``total_variance`` is the trace of that covariance (all D eigenvalues).

    Introduced in lecture 07_dimensionality_reduction.
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    total_variance: float

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates ``Z = (X - mean) @ components.T``: (N, D) -> (N, k).

        Introduced in lecture 07_dimensionality_reduction.
        """
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.components.T

    def reconstruct(self, Z: np.ndarray) -> np.ndarray:
        """Back to the data space, ``Z @ components + mean``: (N, k) -> (N, D).

        Introduced in lecture 07_dimensionality_reduction.
        """
        return np.asarray(Z, dtype=np.float64) @ self.components + self.mean

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """(k,) fraction of the total variance each kept component explains.

        Raises:
            ValueError: if the data had no variance at all (every row the same).

        Introduced in lecture 07_dimensionality_reduction.
        """
        if self.total_variance <= 0:
            raise ValueError("the data have zero variance (all rows are equal): no direction explains anything")
        return self.variances / self.total_variance


def _as_2d(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"{name} must be 2-D (N samples as rows, N >= 2), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} has NaN or infinite entries: remove or impute them first")
    return X


def pca(X: np.ndarray, k: int | None = None) -> PCA:
    """PCA of the rows of ``X`` by the SVD of the centred data (never forms the covariance).

    ``Xc = X - mean = U S V^T``; the rows of ``V^T`` are the eigenvectors of the 1/N covariance
    ``Xc^T Xc / N`` and its eigenvalues are ``S**2 / N``.

    Args:
        X: (N, D) data, rows are samples; k: components to keep (default min(N, D)).

    Returns:
        :class:`PCA` with components' signs fixed (largest-magnitude entry positive).

    Introduced in lecture 07_dimensionality_reduction.
    """
    X = _as_2d(X)
    N, D = X.shape
    k = min(N, D) if k is None else int(k)
    if not 1 <= k <= min(N, D):
        raise ValueError(f"k must be between 1 and min(N, D) = {min(N, D)}, got {k}")
    mean = X.mean(axis=0)
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
    signs = np.sign(Vt[np.arange(len(Vt)), np.abs(Vt).argmax(axis=1)])
    Vt = Vt * np.where(signs == 0, 1.0, signs)[:, None]
    lam = s ** 2 / N
    return PCA(mean=mean, components=Vt[:k].copy(), variances=lam[:k].copy(), total_variance=float(lam.sum()))


def explained_variance_ratio(X: np.ndarray, *, standardize: bool = False) -> np.ndarray:
    """(min(N, D),) fraction of the variance along each principal axis, descending, summing to 1.

    With ``standardize=True`` every column is first divided by its (1/N) standard deviation: PCA
    of the correlation matrix, so a feature's units no longer decide the axes. Constant columns
    are refused in that case (their standard deviation is 0).

    Introduced in lecture 07_dimensionality_reduction.
    """
    X = _as_2d(X)
    if standardize:
        sd = X.std(axis=0)
        if (sd == 0).any():
            raise ValueError(f"columns {np.flatnonzero(sd == 0).tolist()} are constant: drop them before "
                             "standardising")
        X = (X - X.mean(axis=0)) / sd
    return pca(X).explained_variance_ratio


# =============================================================================
# Distances and t-SNE's similarities
# =============================================================================

def pairwise_sq_dists(A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances ``||a_i - b_j||^2`` as ``|a|^2 + |b|^2 - 2 a.b``: (N, D), (M, D) -> (N, M).

    No (N, M, D) difference tensor is formed (for the 1,797 digits that would be 1.65 GB).
    Rounding can make the formula slightly negative: results are clipped at 0, and with ``B``
    omitted the diagonal is set to exactly 0.

    Introduced in lecture 07_dimensionality_reduction.
    """
    A = np.asarray(A, dtype=np.float64)
    same = B is None
    B = A if B is None else np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"need (N, D) and (M, D) arrays, got {A.shape} and {B.shape}")
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    np.maximum(sq, 0.0, out=sq)
    if same:
        np.fill_diagonal(sq, 0.0)
    return sq


def perplexity_of(p: np.ndarray) -> float | np.ndarray:
    """``2 ** H(p)`` with the entropy in bits, of a distribution (last axis); zeros contribute nothing.

    Introduced in lecture 07_dimensionality_reduction.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(-1)
    return 2.0 ** h


def _row_probs(d: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of exp(-beta_i d_ij) (diagonal already excluded by d = inf), normalised; entropy in nats."""
    logits = -beta[:, None] * d
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    total = e.sum(axis=1, keepdims=True)
    p = e / total
    # H = -sum p log p = log S - sum p * logit (log p = logit - log S): one pass, no log of N^2 numbers;
    # the excluded entries (logit -inf, p 0) contribute nothing
    np.copyto(logits, 0.0, where=~np.isfinite(logits))
    h = np.log(total[:, 0]) - np.einsum("ij,ij->i", p, logits)
    return p, h


def conditional_probabilities(D2: np.ndarray, perplexity: float = 30.0, *, tol: float = 1e-5,
                              max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """SNE's ``p_{j|i} = exp(-beta_i d_ij) / sum_{k != i} exp(-beta_i d_ik)``, each ``beta_i`` found by bisection.

    Every row's perplexity (``2 ** H`` in bits, i.e. ``exp(H)`` in nats) is brought to ``perplexity``
    within ``tol``: all rows are searched at once (vectorised bisection on ``log beta``).

    Args:
        D2: (N, N) squared distances (pass plain distances for the notes' unsquared variant).
        perplexity: target, ``1 < perplexity < N - 1`` (scikit-learn's default 30).

    Returns:
        (P (N, N) rows summing to 1 with a zero diagonal, beta (N,) = 1 / (2 sigma_i^2)).

    Introduced in lecture 07_dimensionality_reduction.
    """
    D2 = np.asarray(D2, dtype=np.float64)
    N = D2.shape[0]
    if D2.ndim != 2 or D2.shape != (N, N):
        raise ValueError(f"D2 must be a square (N, N) matrix, got shape {D2.shape}")
    if not 1.0 < perplexity < N - 1:
        raise ValueError(f"perplexity must be between 1 and N - 1 = {N - 1} (exclusive), got {perplexity}")
    d = D2.copy()
    np.fill_diagonal(d, np.inf)
    target = np.log(perplexity)                    # the entropy in nats whose exp is the perplexity
    lo, hi = np.full(N, -np.inf), np.full(N, np.inf)
    log_beta = np.zeros(N) - np.log(np.median(d[np.isfinite(d)]) + 1e-12)
    p = np.empty_like(d)
    rows = np.arange(N)                            # the rows still searching: done rows drop out
    for _ in range(max_iter):
        p_rows, h = _row_probs(d[rows], np.exp(log_beta[rows]))
        p[rows] = p_rows
        done = np.abs(np.exp(h) - perplexity) <= tol
        if np.all(done):
            break
        rows, h = rows[~done], h[~done]
        up = h - target > 0                        # too much entropy: beta too small, go up
        lo[rows] = np.where(up, log_beta[rows], lo[rows])
        hi[rows] = np.where(up, hi[rows], log_beta[rows])
        log_beta[rows] = np.where(np.isfinite(lo[rows]) & np.isfinite(hi[rows]), (lo[rows] + hi[rows]) / 2,
                                  np.where(up, log_beta[rows] + 1.0, log_beta[rows] - 1.0))
    np.fill_diagonal(p, 0.0)
    return p, np.exp(log_beta)


def joint_probabilities(P_cond: np.ndarray) -> np.ndarray:
    """t-SNE's symmetric ``p_ij = (p_{j|i} + p_{i|j}) / (2N)``: sums to 1 over all pairs.

    Introduced in lecture 07_dimensionality_reduction.
    """
    P_cond = np.asarray(P_cond, dtype=np.float64)
    return (P_cond + P_cond.T) / (2.0 * P_cond.shape[0])


def tsne_kl_and_grad(P: np.ndarray, Y: np.ndarray, *, squared: bool = True) -> tuple[float, np.ndarray]:
    """KL(P || Q) and its gradient for the Student-t embedding kernel, ``q_ij ∝ (1 + d_ij^2)^-1``.

    ``dKL/dy_i = 4 sum_j (p_ij - q_ij) (y_i - y_j) / (1 + ||y_i - y_j||^2)``. With
    ``squared=False`` the kernel is the course notes' ``(1 + d_ij)^-1`` and the gradient is
    ``2 sum_j (p_ij - q_ij) (y_i - y_j) / ((1 + d_ij) d_ij)`` (for the explorer's comparison).

    Args:
        P: (N, N) joint probabilities (symmetric, zero diagonal, sum 1); Y: (N, m) embedding.

    Introduced in lecture 07_dimensionality_reduction.
    """
    return _kl_grad(np.asarray(P, dtype=np.float64), np.asarray(Y, dtype=np.float64), squared, True)


def _kl_grad(P: np.ndarray, Y: np.ndarray, squared: bool, with_kl: bool) -> tuple[float, np.ndarray]:
    # in-place on one (N, N) buffer: the exact gradient's cost is a few passes over N^2 numbers
    w = pairwise_sq_dists(Y)
    if squared:
        w += 1.0
        np.reciprocal(w, out=w)                    # (1 + d^2)^-1
        dist = None
    else:
        dist = np.sqrt(w)
        w = 1.0 / (1.0 + dist)
    np.fill_diagonal(w, 0.0)
    Z = w.sum()
    kl = float("nan")
    if with_kl:
        pos = P > 0
        kl = float(np.sum(P[pos] * np.log(P[pos] * Z / np.maximum(w[pos], 1e-300))))
    M = P - w / Z                                  # p_ij - q_ij
    M *= w
    if dist is None:
        M *= 4.0
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            M = np.where(dist > 0, 2.0 * M / dist, 0.0)
    grad = M.sum(1)[:, None] * Y - M @ Y
    return kl, grad


def _tsne_grad_blocked(P: np.ndarray, Y: np.ndarray, block: int = 128) -> np.ndarray:
    """The exact gradient of :func:`tsne_kl_and_grad` (squared kernel), computed ``block`` rows at a
    time so that each (block, N) slice stays in the processor's cache: one pass over ``P`` per
    call instead of a dozen over (N, N) temporaries (4-5x faster on the digits; no library offers
    an exact t-SNE gradient to call, scikit-learn's is private Cython)."""
    N = Y.shape[0]
    sq = np.einsum("ij,ij->i", Y, Y)
    sq1 = sq + 1
    Z = 0.0
    ws = []
    for s in range(0, N, block):
        e = min(s + block, N)
        w = Y[s:e] @ Y.T                           # (1 + |y_i|^2 + |y_j|^2 - 2 y_i.y_j)^-1
        w *= -2
        w += sq[None, :]
        w += sq1[s:e, None]
        np.reciprocal(w, out=w)
        w[np.arange(e - s), np.arange(s, e)] = 0.0
        Z += float(w.sum(dtype=np.float64))
        ws.append(w)
    grad = np.empty_like(Y)
    inv_z = Y.dtype.type(1.0 / Z)
    for w, s in zip(ws, range(0, N, block)):
        e = s + w.shape[0]
        M = w * inv_z                              # q_ij
        np.subtract(P[s:e], M, out=M)              # p_ij - q_ij
        M *= w
        grad[s:e] = M.sum(1)[:, None] * Y[s:e] - M @ Y
    grad *= 4
    return grad


def _tsne_kl_blocked(P: np.ndarray, Y: np.ndarray, p_log_p: float, block: int = 256) -> float:
    """KL(P || Q) for the squared kernel as ``sum p log p - sum p log w + log Z`` (P sums to 1, zero
    diagonal), ``block`` rows at a time: the cheap form of :func:`tsne_kl_and_grad`'s KL for logging."""
    N = Y.shape[0]
    sq = np.einsum("ij,ij->i", Y, Y)
    sq1 = sq + 1
    Z, p_log_w = 0.0, 0.0
    for s in range(0, N, block):
        e = min(s + block, N)
        w = Y[s:e] @ Y.T
        w *= -2
        w += sq[None, :]
        w += sq1[s:e, None]
        np.reciprocal(w, out=w)                    # its diagonal is 1: log 1 = 0, and p_ii = 0
        Z += float(w.sum(dtype=np.float64)) - (e - s)
        np.log(w, out=w)
        p_log_w += float(np.einsum("ij,ij->", P[s:e], w, dtype=np.float64))
    return p_log_p - p_log_w + float(np.log(Z))


@dataclass
class TSNEResult:
    """The output of :func:`tsne`: ``Y`` (N, m) embedding, final ``kl``, ``kl_history`` [(iteration, KL)].

    Introduced in lecture 07_dimensionality_reduction.
    """

    Y: np.ndarray
    kl: float
    kl_history: list[tuple[int, float]] = field(default_factory=list)
    betas: np.ndarray | None = None


def tsne(X: np.ndarray, *, perplexity: float = 30.0, n_iter: int = 1000, early_exaggeration: float = 12.0,
         exaggeration_iters: int = 250, learning_rate: float | str = "auto", init: str | np.ndarray = "pca",
         pca_dims: int | None = 50, n_components: int = 2, squared: bool = True, seed: int = 0,
         callback: Callable[[int, np.ndarray], None] | None = None, log_every: int = 50,
         dtype: type = np.float32) -> TSNEResult:
    """Exact t-SNE (van der Maaten and Hinton, 2008) with scikit-learn's optimiser.

    Steps: PCA to ``pca_dims`` dimensions if ``D`` is larger; squared distances; per-point
    bandwidths by perplexity (:func:`conditional_probabilities`); symmetric P
    (:func:`joint_probabilities`); gradient descent on KL(P || Q) with momentum 0.5 for the first
    ``exaggeration_iters`` iterations (P multiplied by ``early_exaggeration``) and 0.8 after,
    per-coordinate gains (+0.2 / x0.8, at least 0.01).

    Args:
        X: (N, D) data; perplexity: effective number of neighbours (bits convention).
        learning_rate: a number or ``"auto"`` = ``max(N / early_exaggeration / 4, 50)``.
        init: ``"pca"`` (first PCA coordinates scaled to std 1e-4, deterministic), ``"random"``
            (N(0, 1e-4) with ``seed``) or an (N, n_components) array.
        squared: False uses the notes' unsquared distances in both kernels (a demonstration).
        callback: called as ``callback(iteration, Y)`` after each step (e.g. to record snapshots).
        dtype: of the optimisation (P, Y and the gradient): float32, as scikit-learn's, halves the
            memory traffic of the exact gradient; float64 for bit-level comparisons. The
            probabilities, bandwidths and the reported KL are computed in float64 either way.

    Introduced in lecture 07_dimensionality_reduction.
    """
    X = _as_2d(X)
    N = X.shape[0]
    if pca_dims is not None and X.shape[1] > pca_dims:
        X = pca(X, min(pca_dims, N)).transform(X)
    D2 = pairwise_sq_dists(X)
    P_cond, betas = conditional_probabilities(D2 if squared else np.sqrt(D2), perplexity)
    P = np.maximum(joint_probabilities(P_cond), 1e-12)
    np.fill_diagonal(P, 0.0)
    P /= P.sum()
    if isinstance(init, str):
        if init == "pca":
            Y = pca(X, n_components).transform(X)
            sd = Y[:, 0].std()
            Y = Y / sd * 1e-4 if sd > 0 else np.zeros_like(Y)    # all points equal: nothing to scale
        elif init == "random":
            Y = 1e-4 * np.random.default_rng(seed).standard_normal((N, n_components))
        else:
            raise ValueError(f"init must be 'pca', 'random' or an array, got {init!r}")
    else:
        Y = np.array(init, dtype=np.float64)
        if Y.shape != (N, n_components):
            raise ValueError(f"init array must have shape {(N, n_components)}, got {Y.shape}")
    lr = max(N / early_exaggeration / 4.0, 50.0) if learning_rate == "auto" else float(learning_rate)
    Y = Y.astype(dtype)
    update = np.zeros_like(Y)
    gains = np.ones_like(Y)
    history: list[tuple[int, float]] = []
    P_run = P.astype(dtype)
    P_exaggerated = P_run * early_exaggeration if exaggeration_iters > 0 else P_run
    off = P > 0
    p_log_p = float(np.sum(P[off] * np.log(P[off])))
    for it in range(n_iter):
        exaggerating = it < exaggeration_iters
        if squared:
            grad = _tsne_grad_blocked(P_exaggerated if exaggerating else P_run, Y)
        else:
            _, grad = _kl_grad(P * early_exaggeration if exaggerating else P, Y.astype(np.float64), squared, False)
            grad = grad.astype(dtype)
        momentum = 0.5 if exaggerating else 0.8
        inc = update * grad < 0.0                  # the step keeps its direction: grow the gain
        gains = np.maximum(np.where(inc, gains + 0.2, gains * 0.8), 0.01)
        update = momentum * update - lr * gains * grad
        Y = Y + update
        if callback is not None:
            callback(it, Y)
        if it % log_every == 0 or it == n_iter - 1:
            history.append((it, _tsne_kl_blocked(P, Y.astype(np.float64), p_log_p) if squared
                            else _kl_grad(P, Y.astype(np.float64), squared, True)[0]))
    Y = Y.astype(np.float64)
    kl = tsne_kl_and_grad(P, Y, squared=squared)[0]
    return TSNEResult(Y=Y, kl=kl, kl_history=history, betas=betas)


def knn_accuracy(Z: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy of labels ``y`` in the space ``Z`` (majority vote,
    ties to the smallest label): how well an embedding keeps classes together. Labels may be of any
    sortable type.

    Introduced in lecture 07_dimensionality_reduction.
    """
    Z = np.asarray(Z, dtype=np.float64)
    classes, y = np.unique(np.asarray(y), return_inverse=True)      # any labels: ints, strings, floats
    if len(y) != len(Z) or not 1 <= k < len(Z):
        raise ValueError(f"need one label per row of Z and 1 <= k < N; got {len(y)} labels, N = {len(Z)}, k = {k}")
    d = pairwise_sq_dists(Z)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1, kind="stable")[:, :k]
    votes = np.array([np.bincount(y[row], minlength=len(classes)).argmax() for row in nn])
    return float((votes == y).mean())


# =============================================================================
# Graphs: kNN graph, Laplacian, Laplacian eigenmaps
# =============================================================================

def knn_graph(X: np.ndarray, k: int) -> np.ndarray:
    """Symmetrised 0/1 k-nearest-neighbour graph: ``W_ij = 1`` if j is among i's k nearest or i among j's.

    Introduced in lecture 07_dimensionality_reduction.
    """
    X = _as_2d(X)
    if not 1 <= k < X.shape[0]:
        raise ValueError(f"k must be between 1 and N - 1 = {X.shape[0] - 1}, got {k}")
    d = pairwise_sq_dists(X)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1, kind="stable")[:, :k]
    W = np.zeros_like(d)
    W[np.repeat(np.arange(len(d)), k), nn.ravel()] = 1.0
    return np.maximum(W, W.T)


def graph_laplacian(W: np.ndarray) -> np.ndarray:
    """``L = D - W`` with ``D = diag(row sums of W)``; ``y^T L y = 1/2 sum_ij w_ij (y_i - y_j)^2``.

    Introduced in lecture 07_dimensionality_reduction.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or not np.allclose(W, W.T):
        raise ValueError("W must be a symmetric (N, N) weight matrix")
    return np.diag(W.sum(1)) - W


def laplacian_eigenmaps(W: np.ndarray, m: int = 2) -> np.ndarray:
    """(N, m) coordinates: eigenvectors 2..m+1 of ``L = D - W`` (ascending eigenvalues; the first,
    constant, with eigenvalue 0, is skipped). The graph should be connected (else more zero eigenvalues).

    Introduced in lecture 07_dimensionality_reduction.
    """
    _, vecs = np.linalg.eigh(graph_laplacian(W))
    Z = vecs[:, 1:m + 1]
    signs = np.sign(Z[np.abs(Z).argmax(axis=0), np.arange(Z.shape[1])])
    return Z * np.where(signs == 0, 1.0, signs)


# =============================================================================
# Kernels
# =============================================================================

def similarity(d: np.ndarray | float, kernel: str = "gaussian", *, squared: bool = True) -> np.ndarray:
    """Unnormalised similarity at distance ``d``: Gaussian ``exp(-d^2 / 2)`` or Student-t ``1 / (1 + d^2)``.

    ``squared=False`` gives the course notes' forms ``exp(-d)`` and ``1 / (1 + d)``.

    Introduced in lecture 07_dimensionality_reduction.
    """
    d = np.asarray(d, dtype=np.float64)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel == "gaussian":
        return np.exp(-d ** 2 / 2.0) if squared else np.exp(-d)
    return 1.0 / (1.0 + d ** 2) if squared else 1.0 / (1.0 + d)


def distance_for_similarity(s: np.ndarray | float, kernel: str = "gaussian") -> np.ndarray:
    """The distance at which :func:`similarity` (squared forms) equals ``s`` in (0, 1]: the inverse kernel.

    Gaussian: ``sqrt(-2 ln s)``; Student-t: ``sqrt(1 / s - 1)``. For small ``s`` the Student-t
    distance is larger: a moderate gap in the data becomes a larger gap in the embedding.

    Introduced in lecture 07_dimensionality_reduction.
    """
    s = np.asarray(s, dtype=np.float64)
    if np.any((s <= 0) | (s > 1)):
        raise ValueError("similarities must lie in (0, 1]")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    return np.sqrt(-2.0 * np.log(s)) if kernel == "gaussian" else np.sqrt(1.0 / s - 1.0)

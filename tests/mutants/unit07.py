"""Mutants and correct alternatives of unit 07 (dimensionality reduction: PCA, t-SNE, Laplacian eigenmaps).

Each mutant is the full source of a solution cell with one plausible mistake (the bugs of
shared/units/07_pca_tsne.md (d) and issue #20); it is derived from the solution cell by a textual
edit (``_edit`` fails loudly when the edit no longer applies, so a mutant cannot silently turn into a
copy of the solution).
"""
from __future__ import annotations

from tests.mutants import Mutant, edited_solution, solution_source

UNIT = "07_dimensionality_reduction"
NOTEBOOK = "07_dimensionality_reduction.ipynb"

def _solution(task: str) -> str:
    return solution_source(UNIT, NOTEBOOK, task)


def _edit(task: str, *pairs: tuple[str, str]) -> str:
    return edited_solution(UNIT, NOTEBOOK, task, *pairs)


def M(task: str, name: str, *pairs: tuple[str, str]) -> Mutant:
    return Mutant(task=task, name=name, source=_edit(task, *pairs))


_Q_ALL_PAIRS = "    Q = num / num.sum()\n"
_GRAD = "    grad = 4.0 * (W.sum(axis=1)[:, None] * Y - W @ Y)\n    return kl, grad"

MUTANTS = [
    # --- task 7.1: PCA fit
    M("task7_1", "no centring", ("    Xc = X - mean\n", "    Xc = X\n")),
    M("task7_1", "eigh's ascending order taken as descending",
      ("order = np.argsort(eigvals)[::-1][:k]", "order = np.arange(k)")),
    M("task7_1", "1/(N-1) where 1/N is specified", ("S = Xc.T @ Xc / N", "S = Xc.T @ Xc / (N - 1)")),
    M("task7_1", "eigenvectors taken as rows of eigh's matrix",
      ("components=eigvecs[:, order].T.copy()", "components=eigvecs[order].copy()")),
    # --- task 7.2: transform and reconstruct
    M("task7_2", "the mean not added back", ("@ np.asarray(pca.components) + pca.mean", "@ np.asarray(pca.components)")),
    M("task7_2", "transform without centring",
      ("(np.asarray(X, dtype=float) - pca.mean) @ np.asarray(pca.components).T",
       "np.asarray(X, dtype=float) @ np.asarray(pca.components).T")),
    # --- task 7.3: explained variance ratio
    M("task7_3", "standardize ignored", ("    if standardize:\n        Xc = Xc / Xc.std(axis=0)\n", "")),
    M("task7_3", "no centring", ("    Xc = X - X.mean(axis=0)\n", "    Xc = X\n")),
    M("task7_3", "divided by the variance instead of the standard deviation",
      ("Xc = Xc / Xc.std(axis=0)", "Xc = Xc / Xc.var(axis=0)")),
    M("task7_3", "ascending order", ("[::-1]\n    return", "\n    return")),
    # --- task 7.4: pairwise squared distances
    M("task7_4", "an (N, N, D) broadcast for distances",
      ("    sq = np.einsum(\"ij,ij->i\", X, X)\n    D2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)\n",
       "    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1)\n")),
    M("task7_4", "round-off not cleaned (negative entries, non-zero diagonal)",
      ("    np.maximum(D2, 0.0, out=D2)\n    np.fill_diagonal(D2, 0.0)\n", "")),
    M("task7_4", "distances not squared",
      ("    return D2\n", "    return np.sqrt(D2)\n")),
    # --- task 7.5: perplexity search
    M("task7_5", "bits and nats mixed in the perplexity target",
      ("target = np.log(perplexity)", "target = np.log2(perplexity)")),
    M("task7_5", "one global bandwidth",
      ("        beta, lo, hi = 1.0, 0.0, np.inf\n        for _ in range(max_iter):",
       "        beta, lo, hi = 1.0, 0.0, np.inf\n        for _ in range(max_iter if i == 0 else 0):"),
      ("    P = np.zeros((N, N))\n    for i in range(N):",
       "    P = np.zeros((N, N))\n    beta = 1.0\n    for i in range(N):"),
      ("        beta, lo, hi = 1.0, 0.0, np.inf\n", "        beta, lo, hi = (1.0 if i == 0 else beta), 0.0, np.inf\n")),
    M("task7_5", "p_ii left non-zero",
      ("        d = np.delete(D2[i], i)\n", "        d = D2[i].copy()\n"),
      ("        P[i, np.arange(N) != i] = p\n", "        P[i] = p\n")),
    M("task7_5", "unsquared kernel distances", ("        d = np.delete(D2[i], i)\n", "        d = np.sqrt(np.delete(D2[i], i))\n")),
    M("task7_5", "row minimum not subtracted (exp underflows to 0/0 for far points)", ("        d = d - d.min()\n", "")),
    M("task7_5", "bisection moves the wrong way",
      ("            if H > target:", "            if H < target:")),
    # --- task 7.6: joint probabilities, KL and gradient
    M("task7_6", "no symmetrisation", ("return (P_cond + P_cond.T) / (2.0 * P_cond.shape[0])",
                                       "return P_cond / P_cond.shape[0]")),
    M("task7_6", "divided by n instead of 2n", ("return (P_cond + P_cond.T) / (2.0 * P_cond.shape[0])",
                                                "return (P_cond + P_cond.T) / P_cond.shape[0]")),
    M("task7_6", "Q normalised per row", (_Q_ALL_PAIRS, "    Q = num / num.sum(axis=1, keepdims=True)\n")),
    M("task7_6", "the gradient's factor 4 missing", (_GRAD, _GRAD.replace("4.0 * ", ""))),
    M("task7_6", "the gradient's (1 + d^2)^-1 missing", ("    W = (P - Q) * num\n", "    W = P - Q\n")),
    M("task7_6", "unsquared distances in the Student-t kernel",
      ("num = 1.0 / (1.0 + np.maximum(sq[:, None] + sq[None, :] - 2.0 * (Y @ Y.T), 0.0))",
       "num = 1.0 / (1.0 + np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (Y @ Y.T), 0.0)))")),
    # --- task 7.7: Laplacian eigenmaps
    M("task7_7", "L = W - D", ("return np.diag(W.sum(axis=1)) - W", "return W - np.diag(W.sum(axis=1))")),
    M("task7_7", "kNN graph not symmetrised", ("    return np.maximum(W, W.T)\n", "    return W\n")),
    M("task7_7", "the zero eigenvector kept", ("return eigvecs[:, 1:m + 1]", "return eigvecs[:, :m]")),
    M("task7_7", "a point counted as its own neighbour", ("    np.fill_diagonal(D2, np.inf)\n", "")),
    # --- task 7.8: t-SNE
    M("task7_8", "exaggeration never switched off", ("        early = it < exaggeration_iters\n", "        early = True\n")),
    M("task7_8", "the seed ignored", ("    rng = np.random.default_rng(seed)\n", "    rng = np.random.default_rng()\n")),
    M("task7_8", "no gains (plain momentum)",
      ("        update = momentum * update - lr * gains * grad\n", "        update = momentum * update - lr * grad\n")),
    # --- task 7.9: linear autoencoder
    M("task7_9", "no centring (a linear model without bias cannot fit the mean)",
      ("Xc = torch.from_numpy(X - X.mean(axis=0))", "Xc = torch.from_numpy(X.copy())")),
    M("task7_9", "steps ignored (20 steps)", ("    for _ in range(steps):\n", "    for _ in range(20):\n")),
    M("task7_9", "PCA's axes returned instead of training",
      ("    opt = torch.optim.Adam([W_enc, W_dec], lr=lr)\n    for _ in range(steps):\n",
       "    V = np.linalg.eigh((X - X.mean(axis=0)).T @ (X - X.mean(axis=0)))[1][:, ::-1][:, :k].copy()\n"
       "    W_enc, W_dec = torch.from_numpy(V).requires_grad_(), torch.from_numpy(V.T.copy()).requires_grad_()\n"
       "    opt = torch.optim.Adam([W_enc, W_dec], lr=lr)\n    for _ in range(0):\n")),
]

# The mistakes issue #20 names, graded for real by tests/test_units_grading.py (at most three per task, so
# that the grading run stays short; every mutant above is graded in-process by tests/test_unit07.py).
NAMED = [
    ("task7_1", "no centring"),
    ("task7_1", "eigh's ascending order taken as descending"),
    ("task7_1", "1/(N-1) where 1/N is specified"),
    ("task7_2", "the mean not added back"),
    ("task7_4", "an (N, N, D) broadcast for distances"),
    ("task7_5", "bits and nats mixed in the perplexity target"),
    ("task7_5", "one global bandwidth"),
    ("task7_5", "p_ii left non-zero"),
    ("task7_6", "Q normalised per row"),
    ("task7_6", "the gradient's factor 4 missing"),
    ("task7_6", "no symmetrisation"),
    ("task7_8", "exaggeration never switched off"),
    ("task7_9", "no centring (a linear model without bias cannot fit the mean)"),
]

CORRECT_ALTERNATIVES = [
    Mutant(task="task7_1", name="SVD of the centred data", source='''def pca_fit(X, k):
    """PCA by the SVD of the centred data: the right singular vectors are the axes, s**2 / N the variances."""
    X = np.asarray(X, dtype=float)
    N, D = X.shape
    if not 1 <= k <= D:
        raise ValueError(f"k must be between 1 and {D}")
    mean = X.mean(axis=0)
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
    return PCAResult(mean, -Vt[:k], s[:k] ** 2 / N)
'''),
    Mutant(task="task7_3", name="hint-following student: standardise by X.std, sort the eigenvalues",
           source='''def explained_variance_ratio(X, standardize=False):
    Xc = X - X.mean(axis=0)
    if standardize:
        Xc = Xc / X.std(axis=0)
    lam = np.sort(np.linalg.eigvalsh(Xc.T @ Xc / X.shape[0]))[::-1]
    lam = np.maximum(lam, 0)
    return lam / np.sum(lam)
'''),
    Mutant(task="task7_4", name="dot products by einsum, clipping with np.clip", source='''def pairwise_sq_dists(X):
    G = np.einsum("id,jd->ij", X, X)
    d = np.diag(G)
    D2 = np.clip(d[:, None] + d[None, :] - 2 * G, 0, None)
    D2[np.diag_indices_from(D2)] = 0
    return D2
'''),
    Mutant(task="task7_5", name="entropy in bits, target log2(perplexity), vectorised over rows",
           source='''def conditional_probabilities(D2, perplexity, tol=1e-5, max_iter=100):
    N = D2.shape[0]
    off = ~np.eye(N, dtype=bool)
    d = D2[off].reshape(N, N - 1)
    d = d - d.min(axis=1, keepdims=True)
    target = np.log2(perplexity)
    beta, lo, hi = np.ones(N), np.zeros(N), np.full(N, np.inf)
    for _ in range(max_iter):
        p = np.exp(-beta[:, None] * d)
        p /= p.sum(axis=1, keepdims=True)
        H = -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=1)
        done = np.abs(H - target) < tol / np.log(2)
        if done.all():
            break
        up = (H > target) & ~done
        down = (H <= target) & ~done
        lo = np.where(up, beta, lo)
        hi = np.where(down, beta, hi)
        beta = np.where(up, np.where(np.isinf(hi), beta * 2, (beta + hi) / 2), np.where(down, (beta + lo) / 2, beta))
    P = np.zeros((N, N))
    P[off] = p.ravel()
    return P
'''),
    Mutant(task="task7_7", name="hint-following student: knn_graph calls pairwise_sq_dists, argpartition",
           source='''def graph_laplacian(W):
    return np.diag(np.sum(W, axis=0)) - W


def knn_graph(X, k):
    D2 = pairwise_sq_dists(X) + np.diag(np.full(len(X), np.inf))
    idx = np.argpartition(D2, k, axis=1)[:, :k]
    W = np.zeros(D2.shape)
    for i, row in enumerate(idx):
        W[i, row] = 1
    W = ((W + W.T) > 0).astype(float)
    return W


def laplacian_eigenmaps(W, m):
    lam, V = np.linalg.eigh(graph_laplacian(W))
    order = np.argsort(lam)
    return V[:, order[1:m + 1]]
'''),
    Mutant(task="task7_8", name="hint-following student: calls every earlier task, tsne_kl_and_grad in the loop",
           source='''def tsne(X, *, perplexity=30.0, n_iter=300, exaggeration=12.0, exaggeration_iters=100, lr=100.0, seed=0):
    D2 = pairwise_sq_dists(X)
    P = joint_probabilities(conditional_probabilities(D2, perplexity))
    rng = np.random.default_rng(seed)
    N = X.shape[0]
    Y = 1e-4 * rng.standard_normal((N, 2))
    update = np.zeros((N, 2))
    gains = np.ones((N, 2))
    for it in range(n_iter):
        if it < exaggeration_iters:
            _, grad = tsne_kl_and_grad(exaggeration * P, Y)
            momentum = 0.5
        else:
            _, grad = tsne_kl_and_grad(P, Y)
            momentum = 0.8
        gains = np.where(np.sign(grad) != np.sign(update), gains + 0.2, gains * 0.8)
        gains[gains < 0.01] = 0.01
        update = momentum * update - lr * gains * grad
        Y = Y + update
    return Y
'''),
]

CORRECT_ALTERNATIVES.append(Mutant(task="task7_9", name="hint-following student: mean loss over samples in a closure",
                                   source='''def linear_autoencoder(X, k, steps=300, lr=2e-2, seed=0):
    mu = X.mean(axis=0, keepdims=True)
    Xc = torch.tensor(X - mu, dtype=torch.float64)
    N, D = Xc.shape
    g = torch.Generator().manual_seed(seed)
    W_enc = 0.1 * torch.randn(D, k, generator=g, dtype=torch.float64)
    W_dec = 0.1 * torch.randn(k, D, generator=g, dtype=torch.float64)
    W_enc.requires_grad = True
    W_dec.requires_grad = True
    opt = torch.optim.Adam([W_enc, W_dec], lr=lr)

    def closure():
        opt.zero_grad()
        loss = torch.sum((Xc @ W_enc @ W_dec - Xc) ** 2) / N
        loss.backward()
        return loss

    for step in range(steps):
        opt.step(closure)
    return W_enc.detach().clone().numpy(), W_dec.detach().clone().numpy()
'''))

# Shortcuts: correct results through what the notebook's course.forbid or a task's forbid_names rules out.
SHORTCUTS = [
    Mutant(task="task7_1", name="shortcut: sklearn.decomposition.PCA", source='''def pca_fit(X, k):
    from sklearn.decomposition import PCA
    p = PCA(n_components=k).fit(X)
    return PCAResult(p.mean_, p.components_, p.explained_variance_ * (len(X) - 1) / len(X))
'''),
    Mutant(task="task7_4", name="shortcut: scipy.spatial.distance.cdist", source='''from scipy.spatial.distance import cdist


def pairwise_sq_dists(X):
    return cdist(X, X, "sqeuclidean")
'''),
]

"""Mutants and correct alternatives for unit 01 (linear classifiers).

Every mutant is a plausible wrong solution a student could hand in; its task's test cell
(visible + hidden tests) must fail on it. Every correct alternative is a different but valid
solution; its task's test cell must pass. Each ``source`` is the full replacement source of
the task's solution cell, made from the solution notebook by a checked text substitution
(``_swap`` fails loudly when the solution changes and the substitution no longer applies).
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.mutants import Mutant

UNIT = "01_linear_classifiers"
NOTEBOOK = "01_linear_classifiers.ipynb"

_PATH = Path(__file__).resolve().parents[2] / "solutions" / UNIT / NOTEBOOK


def _solution_sources() -> dict[str, str]:
    nb = json.loads(_PATH.read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            src = cell["source"]
            out[meta["grade_id"]] = "".join(src) if isinstance(src, list) else src
    return out


_SOURCES = _solution_sources()


def _student(src: str) -> str:
    """``src`` without the BEGIN/END SOLUTION marker lines: what a student's cell would contain."""
    return "\n".join(ln for ln in src.split("\n") if "### BEGIN SOLUTION" not in ln and "### END SOLUTION" not in ln)


def _swap(task: str, *pairs: tuple[str, str]) -> str:
    """The solution cell of ``task`` with each ``old`` replaced by ``new`` (each must occur once)."""
    src = _SOURCES[task]
    for old, new in pairs:
        count = src.count(old)
        if count != 1:
            raise ValueError(f"{task}: expected exactly one occurrence of {old!r}, found {count}")
        src = src.replace(old, new)
    return _student(src)


def _body(task: str, new_body: str) -> str:
    """The solution cell of ``task`` with the first BEGIN/END SOLUTION region's body replaced."""
    src = _SOURCES[task]
    begin = src.index("### BEGIN SOLUTION")
    begin = src.index("\n", begin) + 1
    end = src.index("### END SOLUTION")
    end = src.rindex("\n", 0, end) + 1
    return _student(src[:begin] + new_body.rstrip("\n") + "\n" + src[end:])


M = Mutant
MUTANTS = [
    # ---- task1_1: distances with two loops
    M("task1_1", "squared distances (no sqrt)",
      _swap("task1_1", ("np.sqrt(np.sum(diff * diff))", "np.sum(diff * diff)"))),
    M("task1_1", "L1 distance instead of L2",
      _swap("task1_1", ("np.sqrt(np.sum(diff * diff))", "np.sum(np.abs(diff))"))),
    M("task1_1", "returns the transpose (M, N)",
      _swap("task1_1", ("    return dists", "    return dists.T"))),
    # ---- task1_2: distances without loops
    M("task1_2", "broadcast (N, M, D) differences",
      _body("task1_2", "    dists = np.sqrt(np.sum((X_test[:, None, :] - X_train[None, :, :]) ** 2, axis=2))\n")),
    M("task1_2", "squared distances (no sqrt)",
      _swap("task1_2", ("dists = np.sqrt(np.maximum(sq, 0.0))", "dists = np.maximum(sq, 0.0)"))),
    M("task1_2", "forgot the factor 2 in -2ab",
      _swap("task1_2", ("- 2.0 * (X_test @ X_train.T)", "- (X_test @ X_train.T)"))),
    M("task1_2", "norms summed over the wrong axis",
      _swap("task1_2", ("np.sum(X_train * X_train, axis=1)[None, :]",
                        "np.sum(X_train * X_train)"))),
    M("task1_2", "one loop over test examples",
      _body("task1_2", "    dists = np.zeros((X_test.shape[0], X_train.shape[0]))\n"
                       "    for i in range(X_test.shape[0]):\n"
                       "        dists[i] = np.sqrt(np.sum((X_train - X_test[i]) ** 2, axis=1))\n")),
    # ---- task1_3: kNN vote
    M("task1_3", "ties broken toward the larger label",
      _swap("task1_3", ("y_pred[i] = np.argmax(votes)", "y_pred[i] = len(votes) - 1 - np.argmax(votes[::-1])"))),
    M("task1_3", "argmax of the neighbours' labels instead of their counts",
      _swap("task1_3", ("y_pred[i] = np.argmax(votes)", "y_pred[i] = np.argmax(y_train[nearest])"))),
    M("task1_3", "ties broken toward the nearest neighbour (Counter.most_common)",
      _body("task1_3", "        from collections import Counter\n"
                       "        nearest = np.argsort(dists[i], kind='stable')[:k]\n"
                       "        y_pred[i] = Counter(y_train[nearest].tolist()).most_common(1)[0][0]\n")),
    M("task1_3", "the k farthest neighbours",
      _swap("task1_3", ("np.argsort(dists[i], kind=\"stable\")[:k]", "np.argsort(dists[i], kind=\"stable\")[-k:]"))),
    M("task1_3", "k ignored (always 1-NN)",
      _swap("task1_3", ("np.argsort(dists[i], kind=\"stable\")[:k]", "np.argsort(dists[i], kind=\"stable\")[:1]"))),
    # ---- task1_4: SVM loss with loops
    M("task1_4", "counts the correct class's margin",
      _swap("task1_4", ("            if j == y[i]:\n                continue\n", ""))),
    M("task1_4", "missing regularisation gradient",
      _swap("task1_4", ("dW = dW / num_train + 2 * reg * W", "dW = dW / num_train"))),
    M("task1_4", "regularisation gradient without the factor 2",
      _swap("task1_4", ("dW = dW / num_train + 2 * reg * W", "dW = dW / num_train + reg * W"))),
    M("task1_4", "gradient not divided by N",
      _swap("task1_4", ("dW = dW / num_train + 2 * reg * W", "dW = dW + 2 * reg * W"))),
    M("task1_4", "loss divided by the number of classes",
      _swap("task1_4", ("loss = loss / num_train + reg", "loss = loss / num_classes + reg"))),
    M("task1_4", "loss summed, not averaged over the batch",
      _swap("task1_4", ("loss = loss / num_train + reg", "loss = loss + reg"))),
    M("task1_4", "sign of the correct-class gradient flipped",
      _swap("task1_4", ("dW[:, y[i]] -= X[i]", "dW[:, y[i]] += X[i]"))),
    # ---- task1_5: SVM loss vectorized
    M("task1_5", "np.max for np.maximum in the hinge",
      _swap("task1_5", ("np.maximum(0.0, scores - correct + 1.0)", "np.max(0.0, scores - correct + 1.0)"))),
    M("task1_5", "only the largest margin counts (Crammer-Singer mix-up)",
      _swap("task1_5", ("margins = np.maximum(0.0, scores - correct + 1.0)\n    margins[rows, y] = 0.0\n",
                        "margins = np.maximum(0.0, scores - correct + 1.0)\n    margins[rows, y] = 0.0\n"
                        "    margins = np.where(margins == margins.max(axis=1, keepdims=True), margins, 0.0)\n"))),
    M("task1_5", "counts the correct class's margin",
      _swap("task1_5", ("    margins[rows, y] = 0.0\n", ""))),
    M("task1_5", "missing regularisation gradient",
      _swap("task1_5", ("dW = X.T @ M / num_train + 2 * reg * W", "dW = X.T @ M / num_train"))),
    M("task1_5", "regularisation gradient without the factor 2",
      _swap("task1_5", ("dW = X.T @ M / num_train + 2 * reg * W", "dW = X.T @ M / num_train + reg * W"))),
    M("task1_5", "averaging over the wrong axis",
      _swap("task1_5", ("loss = margins.sum() / num_train", "loss = margins.sum(axis=0).mean()"))),
    M("task1_5", "correct-class gradient -1 instead of minus the count",
      _swap("task1_5", ("M[rows, y] = -M.sum(axis=1)", "M[rows, y] = -1.0"))),
    M("task1_5", "loop over examples (naive code in the vectorized task)",
      _body("task1_5", "    loss, dW = 0.0, np.zeros_like(W)\n"
                       "    for i in range(num_train):\n"
                       "        s = X[i] @ W\n"
                       "        m = np.maximum(0.0, s - s[y[i]] + 1.0)\n"
                       "        m[y[i]] = 0.0\n"
                       "        loss += m.sum()\n"
                       "        g = (m > 0).astype(float)\n"
                       "        g[y[i]] = -g.sum()\n"
                       "        dW += np.outer(X[i], g)\n"
                       "    loss = loss / num_train + reg * np.sum(W * W)\n"
                       "    dW = dW / num_train + 2 * reg * W\n")),
    # ---- task1_6: softmax loss with loops
    M("task1_6", "forgot to subtract the max",
      _swap("task1_6", ("        scores = scores - np.max(scores)          # stability: exp never overflows\n", ""))),
    M("task1_6", "missing regularisation gradient",
      _swap("task1_6", ("dW = dW / num_train + 2 * reg * W", "dW = dW / num_train"))),
    M("task1_6", "gradient without the -1 for the correct class",
      _swap("task1_6", ("dW[:, j] += (p - (j == y[i])) * X[i]", "dW[:, j] += p * X[i]"))),
    M("task1_6", "divides by the number of classes instead of N",
      _swap("task1_6", ("loss = loss / num_train + reg", "loss = loss / num_classes + reg"),
            ("dW = dW / num_train + 2", "dW = dW / num_classes + 2"))),
    M("task1_6", "regularisation gradient without the factor 2",
      _swap("task1_6", ("dW = dW / num_train + 2 * reg * W", "dW = dW / num_train + reg * W"))),
    # ---- task1_7: softmax loss vectorized
    M("task1_7", "forgot to subtract the max",
      _swap("task1_7", ("    scores = scores - scores.max(axis=1, keepdims=True)\n", ""))),
    M("task1_7", "subtracts the global max instead of each row's",
      _swap("task1_7", ("scores = scores - scores.max(axis=1, keepdims=True)", "scores = scores - scores.max()"))),
    M("task1_7", "normalises over the wrong axis",
      _swap("task1_7", ("sums = exp_scores.sum(axis=1, keepdims=True)", "sums = exp_scores.sum(axis=0, keepdims=True)"),
            ("np.log(sums[:, 0])", "np.log(exp_scores.sum(axis=1))"))),
    M("task1_7", "regularisation gradient without the factor 2",
      _swap("task1_7", ("dW = X.T @ P / num_train + 2 * reg * W", "dW = X.T @ P / num_train + reg * W"))),
    M("task1_7", "missing regularisation in the loss",
      _swap("task1_7", ("- scores[rows, y]) + reg * np.sum(W * W)", "- scores[rows, y])"))),
    M("task1_7", "gradient divided by the number of classes",
      _swap("task1_7", ("dW = X.T @ P / num_train", "dW = X.T @ P / W.shape[1]"))),
    # ---- task1_8: minibatch SGD
    M("task1_8", "whole training set at every step (no minibatch)",
      _swap("task1_8", ("loss, dW = loss_fn(W, X[idx], y[idx], reg)", "loss, dW = loss_fn(W, X, y, reg)"))),
    M("task1_8", "forgot to update W",
      _swap("task1_8", ("        W = W - learning_rate * dW\n", "        W_new = W - learning_rate * dW\n"))),
    M("task1_8", "gradient ascent (wrong sign)",
      _swap("task1_8", ("W = W - learning_rate * dW", "W = W + learning_rate * dW"))),
    M("task1_8", "the same first minibatch every time",
      _swap("task1_8", ("idx = rng.choice(num_train, size=batch_size, replace=True)", "idx = np.arange(batch_size)"))),
    M("task1_8", "X and y sampled with different indices",
      _swap("task1_8", ("loss, dW = loss_fn(W, X[idx], y[idx], reg)",
                        "loss, dW = loss_fn(W, X[idx], y[rng.choice(num_train, size=batch_size)], reg)"))),
    M("task1_8", "reg not passed on (0 instead)",
      _swap("task1_8", ("loss_fn(W, X[idx], y[idx], reg)", "loss_fn(W, X[idx], y[idx], 0.0)"))),
    M("task1_8", "re-initialises W with a fresh global-RNG draw",
      _swap("task1_8", ("    for it in range(num_iters):\n",
                        "    W = 0.001 * np.random.randn(dim, num_classes)\n    for it in range(num_iters):\n"))),
    # ---- task1_9: hyperparameter search
    M("task1_9", "returns the worst pair",
      _swap("task1_9", ("best_params, best_W, best_val_acc, results = None, None, -1.0, {}",
                        "best_params, best_W, best_val_acc, results = None, None, 2.0, {}"),
            ("if acc > best_val_acc:", "if acc < best_val_acc:"))),
    M("task1_9", "returns the last pair tried",
      _swap("task1_9", ("if acc > best_val_acc:", "if True:"))),
    M("task1_9", "on ties keeps the last pair",
      _swap("task1_9", ("if acc > best_val_acc:", "if acc >= best_val_acc:"))),
    M("task1_9", "regularisation strengths in the outer loop",
      _swap("task1_9", ("    for lr in learning_rates:\n        for reg in regularization_strengths:\n",
                        "    for reg in regularization_strengths:\n        for lr in learning_rates:\n"))),
    M("task1_9", "accuracy as a count of correct examples, not a fraction",
      _swap("task1_9", ("acc = float(np.mean(np.argmax(X_val @ W, axis=1) == y_val))",
                        "acc = float(np.sum(np.argmax(X_val @ W, axis=1) == y_val))"))),
    M("task1_9", "trains every pair twice",
      _swap("task1_9", ("            W = train_fn(lr, reg)\n",
                        "            W = train_fn(lr, reg)\n            W = train_fn(lr, reg)\n"))),
    M("task1_9", "best_W of the last pair, best accuracy of the best",
      _swap("task1_9", ("best_params, best_W, best_val_acc = (lr, reg), W, acc",
                        "best_params, best_val_acc = (lr, reg), acc\n            best_W = W"),
            ("    ### END SOLUTION\n    return best_params", "    best_W = W\n    ### END SOLUTION\n    return best_params"))),
    # ---- task1_10: a grid that reaches the bar
    M("task1_10", "a grid with learning rates far too small",
      _swap("task1_10", ("return [0.3, 1.0, 3.0], [1e-4, 1e-3]", "return [1e-3, 1e-2], [1e-4, 1e-3]"))),
    M("task1_10", "a grid with regularisation far too strong",
      _swap("task1_10", ("return [0.3, 1.0, 3.0], [1e-4, 1e-3]", "return [0.3, 1.0, 3.0], [0.5, 1.0]"))),
    M("task1_10", "a grid of 16 pairs (more than 12)",
      _swap("task1_10", ("return [0.3, 1.0, 3.0], [1e-4, 1e-3]", "return [0.3, 1.0, 3.0, 10.0], [1e-5, 1e-4, 1e-3, 1e-2]"))),
    # ---- issue #13: classes of bugs that earned full marks before
    M("task1_2", "no clip at 0 before the square root (nan for identical points)",
      _swap("task1_2", ("dists = np.sqrt(np.maximum(sq, 0.0))", "dists = np.sqrt(sq)"))),
    M("task1_4", "a margin of exactly 0 counted as violated",
      _swap("task1_4", ("if margin > 0:", "if margin >= 0:"))),
    M("task1_5", "a margin of exactly 0 counted as violated",
      _swap("task1_5", ("M = (margins > 0).astype(np.float64)", "M = (margins >= 0).astype(np.float64)"),
            ("    margins[rows, y] = 0.0\n", "    margins[rows, y] = 0.0\n    margins = np.where(scores - correct + 1.0 >= 0, margins, 0.0)\n"))),
    M("task1_8", "samples without replacement where the text says with",
      _swap("task1_8", ("idx = rng.choice(num_train, size=batch_size, replace=True)",
                        "idx = rng.choice(num_train, size=batch_size, replace=False)"))),
    M("task1_6", "softmax from scipy.special (ruled out by the task's text)",
      _body("task1_6", "    from scipy.special import softmax\n"
                       "    for i in range(num_train):\n"
                       "        p = softmax(X[i] @ W)\n"
                       "        loss -= np.log(p[y[i]])\n"
                       "        p[y[i]] -= 1\n"
                       "        dW += np.outer(X[i], p)\n"
                       "    loss = loss / num_train + reg * np.sum(W * W)\n"
                       "    dW = dW / num_train + 2 * reg * W\n")),
]


def _round_robin(mutants: list[Mutant]) -> list[Mutant]:
    """Interleave the tasks (first mutant of each task, then the second, ...), so that any prefix
    of the list (the demo's synthetic class takes one) spreads over all tasks."""
    by_task: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_task.setdefault(m.task, []).append(m)
    out = []
    for rank in range(max(len(v) for v in by_task.values())):
        out += [v[rank] for v in by_task.values() if rank < len(v)]
    return out


MUTANTS = _round_robin(MUTANTS)

# Correct numbers through what a task's course.forbid rules out: refused by the grading sandbox (the
# module is not there), so they are graded in tests/test_units_grading.py, not in-process.
SHORTCUTS = [
    M("task1_1", "shortcut: calls scipy's cdist",
      _body("task1_1", "            from scipy.spatial.distance import cdist\n"
                       "            dists[i, j] = cdist(X_test[i:i + 1], X_train[j:j + 1])[0, 0]\n")),
    M("task1_2", "shortcut: calls torch.cdist",
      _body("task1_2", "    import torch\n"
                       "    dists = torch.cdist(torch.from_numpy(X_test), torch.from_numpy(X_train)).numpy()\n")),
    M("task1_5", "shortcut: PyTorch's multi_margin_loss and autograd",
      _body("task1_5", "    import torch\n"
                       "    import torch.nn.functional as F\n"
                       "    w = torch.tensor(W, requires_grad=True)\n"
                       "    l = F.multi_margin_loss(torch.from_numpy(X) @ w, torch.from_numpy(y)) * W.shape[1]\n"
                       "    l = l + reg * (w ** 2).sum()\n"
                       "    l.backward()\n"
                       "    loss, dW = l.item(), w.grad.numpy()\n")),
    M("task1_7", "shortcut: torch.nn.functional.cross_entropy",
      _body("task1_7", "    import torch\n"
                       "    import torch.nn.functional as F\n"
                       "    w = torch.tensor(W, requires_grad=True)\n"
                       "    l = F.cross_entropy(torch.from_numpy(X) @ w, torch.from_numpy(y)) + reg * (w ** 2).sum()\n"
                       "    l.backward()\n"
                       "    loss, dW = l.item(), w.grad.numpy()\n")),
    M("task1_5", "shortcut: private torch._C entry point",
      _body("task1_5", "    import torch\n"
                       "    s = torch._C._nn.multi_margin_loss(torch.from_numpy(X @ W), torch.from_numpy(y), 1, 1.0, None, 1)\n"
                       "    loss, dW = float(s) * W.shape[1] + reg * np.sum(W * W), np.zeros_like(W)\n")),
]

# The mistakes the issues name (graded for real, one mutant per task per submission).
NAMED = [
    ("task1_6", "forgot to subtract the max"),
    ("task1_7", "forgot to subtract the max"),
    ("task1_5", "np.max for np.maximum in the hinge"),
    ("task1_4", "missing regularisation gradient"),
    ("task1_5", "missing regularisation gradient"),
    ("task1_6", "missing regularisation gradient"),
    ("task1_5", "averaging over the wrong axis"),
    ("task1_2", "no clip at 0 before the square root (nan for identical points)"),
    ("task1_4", "a margin of exactly 0 counted as violated"),
    ("task1_5", "a margin of exactly 0 counted as violated"),
    ("task1_8", "samples without replacement where the text says with"),
    ("task1_6", "softmax from scipy.special (ruled out by the task's text)"),
    ("task1_2", "broadcast (N, M, D) differences"),
    ("task1_2", "one loop over test examples"),
    ("task1_5", "loop over examples (naive code in the vectorized task)"),
    ("task1_1", "squared distances (no sqrt)"),
    ("task1_3", "ties broken toward the larger label"),
    ("task1_9", "returns the last pair tried"),
]

CORRECT_ALTERNATIVES = [
    # the student who follows only the hints of the task texts (contract item 6)
    M("task1_2", "hint-following student: one matrix product, np.maximum before np.sqrt",
      _body("task1_2", "    dot = X_test @ X_train.T\n"
                       "    sq = (X_test ** 2).sum(axis=1, keepdims=True) + (X_train ** 2).sum(axis=1) - 2 * dot\n"
                       "    dists = np.sqrt(np.maximum(sq, 0))\n")),
    M("task1_3", "hint-following student: np.bincount then np.argmax, stable argsort",
      _body("task1_3", "        order = np.argsort(dists[i], kind='stable')\n"
                       "        y_pred[i] = np.argmax(np.bincount(y_train[order[:k]]))\n")),
    M("task1_5", "hint-following student: scores[np.arange(N), y], (N, C) margins, X.T @ M",
      _body("task1_5", "    N = X.shape[0]\n"
                       "    scores = X @ W\n"
                       "    margins = np.maximum(0, scores - scores[np.arange(N), y][:, None] + 1)\n"
                       "    margins[np.arange(N), y] = 0\n"
                       "    loss = np.sum(margins) / N + reg * np.sum(W ** 2)\n"
                       "    M = np.where(margins > 0, 1.0, 0.0)\n"
                       "    M[np.arange(N), y] = -np.sum(M, axis=1)\n"
                       "    dW = X.T @ M / N + 2 * reg * W\n")),
    M("task1_8", "hint-following student: the four steps of the text, in order",
      _body("task1_8", "    for _ in range(num_iters):\n"
                       "        idx = rng.choice(X.shape[0], size=batch_size, replace=True)\n"
                       "        loss, dW = loss_fn(W, X[idx], y[idx], reg)\n"
                       "        loss_history.append(float(loss))\n"
                       "        W = W - learning_rate * dW\n")),
    M("task1_1", "hint-following student: the formula of the text, square root included",
      _body("task1_1", "            dists[i, j] = np.sqrt(np.sum((X_test[i] - X_train[j]) ** 2))\n")),
    M("task1_4", "hint-following student: per positive margin, +x_i to column j and -x_i to column y_i",
      _body("task1_4", "    for i in range(num_train):\n"
                       "        scores = X[i].dot(W)\n"
                       "        for j in range(num_classes):\n"
                       "            margin = scores[j] - scores[y[i]] + 1\n"
                       "            if j != y[i] and margin > 0:\n"
                       "                loss += margin\n"
                       "                dW[:, j] += X[i]\n"
                       "                dW[:, y[i]] -= X[i]\n"
                       "    loss /= num_train\n"
                       "    dW /= num_train\n"
                       "    loss += reg * np.sum(W * W)\n"
                       "    dW += 2 * reg * W\n")),
    M("task1_6", "hint-following student: subtract the row's maximum, gradient p_ij - [j = y_i]",
      _body("task1_6", "    for i in range(num_train):\n"
                       "        s = X[i] @ W\n"
                       "        s = s - np.max(s)\n"
                       "        p = np.exp(s) / np.sum(np.exp(s))\n"
                       "        loss += -np.log(p[y[i]])\n"
                       "        for j in range(num_classes):\n"
                       "            dW[:, j] += (p[j] - (1.0 if j == y[i] else 0.0)) * X[i]\n"
                       "    loss = loss / num_train + reg * np.sum(W * W)\n"
                       "    dW = dW / num_train + 2 * reg * W\n")),
    M("task1_7", "hint-following student: each row's max with keepdims, X.T @ (P - Y) / N",
      _body("task1_7", "    N = X.shape[0]\n"
                       "    scores = X @ W\n"
                       "    scores = scores - scores.max(axis=1, keepdims=True)\n"
                       "    P = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)\n"
                       "    loss = -np.mean(np.log(P[np.arange(N), y])) + reg * np.sum(W * W)\n"
                       "    Y = np.zeros_like(P)\n"
                       "    Y[np.arange(N), y] = 1\n"
                       "    dW = X.T @ (P - Y) / N + 2 * reg * W\n")),
    M("task1_1", "one loop (a vectorized inner loop passes the two-loop task)",
      _swap("task1_1", ("    for i in range(num_test):\n        for j in range(num_train):\n"
                        "            ### BEGIN SOLUTION\n"
                        "            diff = X_test[i] - X_train[j]\n"
                        "            dists[i, j] = np.sqrt(np.sum(diff * diff))\n"
                        "            ### END SOLUTION\n",
                        "    for i in range(num_test):\n"
                        "        ### BEGIN SOLUTION\n"
                        "        dists[i] = np.sqrt(np.sum((X_train - X_test[i]) ** 2, axis=1))\n"
                        "        ### END SOLUTION\n"))),
    M("task1_1", "np.linalg.norm of the difference",
      _swap("task1_1", ("diff = X_test[i] - X_train[j]\n            dists[i, j] = np.sqrt(np.sum(diff * diff))",
                        "dists[i, j] = np.linalg.norm(X_test[i] - X_train[j])"))),
    M("task1_2", "einsum for the norms, clip with np.clip",
      _body("task1_2", "    a2 = np.einsum('ij,ij->i', X_test, X_test)\n"
                       "    b2 = np.einsum('ij,ij->i', X_train, X_train)\n"
                       "    dists = np.sqrt(np.clip(a2[:, None] + b2[None, :] - 2 * X_test.dot(X_train.T), 0, None))\n")),
    M("task1_2", "float32-safe: centre the data first",
      _body("task1_2", "    mu = X_train.mean(axis=0) if X_train.shape[0] else 0.0\n"
                       "    A, B = X_test - mu, X_train - mu\n"
                       "    sq = (A ** 2).sum(1)[:, None] + (B ** 2).sum(1)[None, :] - 2 * A @ B.T\n"
                       "    dists = np.sqrt(np.maximum(sq, 0))\n")),
    M("task1_3", "Counter with explicit smallest-label tie-break",
      _body("task1_3", "        from collections import Counter\n"
                       "        order = sorted(range(dists.shape[1]), key=lambda j: dists[i, j])[:k]\n"
                       "        counts = Counter(int(y_train[j]) for j in order)\n"
                       "        top = max(counts.values())\n"
                       "        y_pred[i] = min(label for label, c in counts.items() if c == top)\n")),
    M("task1_3", "np.unique with return_counts",
      _body("task1_3", "        nearest = np.argpartition(dists[i], k - 1)[:k] if k < dists.shape[1] else np.arange(k)\n"
                       "        labels, counts = np.unique(y_train[nearest], return_counts=True)\n"
                       "        y_pred[i] = labels[np.argmax(counts)]\n")),
    M("task1_4", "scores computed once, margins as an array per example",
      _body("task1_4", "    S = X @ W\n"
                       "    for i in range(num_train):\n"
                       "        m = np.maximum(0, S[i] - S[i, y[i]] + 1)\n"
                       "        m[y[i]] = 0\n"
                       "        loss += m.sum()\n"
                       "        for j in np.nonzero(m)[0]:\n"
                       "            dW[:, j] += X[i]\n"
                       "            dW[:, y[i]] -= X[i]\n"
                       "    loss = loss / num_train + reg * (W ** 2).sum()\n"
                       "    dW = dW / num_train + reg * 2 * W\n")),
    M("task1_5", "loop-free with np.where and a one-hot matrix",
      _body("task1_5", "    S = X.dot(W)\n"
                       "    onehot = np.eye(W.shape[1])[y]\n"
                       "    m = S - np.sum(S * onehot, axis=1, keepdims=True) + 1\n"
                       "    m = np.where(onehot == 1, 0.0, np.where(m > 0, m, 0.0))\n"
                       "    loss = np.sum(m) / num_train + reg * np.sum(W ** 2)\n"
                       "    G = (m > 0) * 1.0\n"
                       "    G -= onehot * G.sum(axis=1, keepdims=True)\n"
                       "    dW = X.T.dot(G) / num_train + 2 * reg * W\n")),
    M("task1_6", "log-softmax with a class loop",
      _body("task1_6", "    for i in range(num_train):\n"
                       "        s = X[i] @ W\n"
                       "        m = s.max()\n"
                       "        log_z = m + np.log(np.sum(np.exp(s - m)))\n"
                       "        loss -= s[y[i]] - log_z\n"
                       "        for j in range(num_classes):\n"
                       "            dW[:, j] += np.exp(s[j] - log_z) * X[i]\n"
                       "        dW[:, y[i]] -= X[i]\n"
                       "    loss = loss / num_train + reg * np.sum(W ** 2)\n"
                       "    dW = dW / num_train + 2 * reg * W\n")),
    M("task1_7", "scipy.special.logsumexp",
      _body("task1_7", "    from scipy.special import logsumexp\n"
                       "    S = X @ W\n"
                       "    lse = logsumexp(S, axis=1, keepdims=True)\n"
                       "    log_p = S - lse\n"
                       "    loss = -np.mean(log_p[np.arange(num_train), y]) + reg * np.sum(W * W)\n"
                       "    P = np.exp(log_p)\n"
                       "    P[np.arange(num_train), y] -= 1\n"
                       "    dW = X.T @ P / num_train + 2 * reg * W\n")),
    M("task1_7", "one-hot matrix and log-probabilities",
      _body("task1_7", "    S = X @ W\n"
                       "    S = S - np.max(S, axis=1)[:, None]\n"
                       "    log_p = S - np.log(np.exp(S).sum(axis=1))[:, None]\n"
                       "    Y = np.zeros_like(log_p)\n"
                       "    Y[np.arange(num_train), y] = 1\n"
                       "    loss = -np.sum(Y * log_p) / num_train + reg * np.sum(W * W)\n"
                       "    dW = X.T @ (np.exp(log_p) - Y) / num_train + 2 * reg * W\n")),
    M("task1_8", "rng.integers sampling, in-place update, loss appended after the step",
      _body("task1_8", "    W = W.copy()\n"
                       "    for _ in range(num_iters):\n"
                       "        batch = rng.integers(0, num_train, size=batch_size)\n"
                       "        loss, grad = loss_fn(W, X[batch], y[batch], reg)\n"
                       "        W -= learning_rate * grad\n"
                       "        loss_history.append(float(loss))\n")),
    M("task1_10", "hint-following student: learning rates where the lecture's curves fall fast, a small reg",
      _body("task1_10", "    return [1.0, 3.0], [1e-4]\n")),
    M("task1_10", "a wide grid of 12 pairs, a far too large learning rate included",
      _body("task1_10", "    learning_rates = [0.1, 1.0, 10.0, 100.0]\n"
                        "    regularization_strengths = [0.0, 1e-4, 1e-2]\n"
                        "    return learning_rates, regularization_strengths\n")),
    M("task1_9", "hint-following student: the text's accuracy formula, a strict > keeps the first pair",
      _body("task1_9", "    for lr in learning_rates:\n"
                       "        for reg in regularization_strengths:\n"
                       "            W = train_fn(lr, reg)\n"
                       "            val_acc = np.mean(np.argmax(X_val @ W, axis=1) == y_val)\n"
                       "            results[(lr, reg)] = val_acc\n"
                       "            if val_acc > best_val_acc:\n"
                       "                best_val_acc = val_acc\n"
                       "                best_params = (lr, reg)\n"
                       "                best_W = W\n")),
    M("task1_9", "itertools.product and a max over the results dict",
      _body("task1_9", "    import itertools\n"
                       "    weights = {}\n"
                       "    for lr, reg in itertools.product(learning_rates, regularization_strengths):\n"
                       "        weights[(lr, reg)] = train_fn(lr, reg)\n"
                       "        results[(lr, reg)] = float((np.argmax(X_val @ weights[(lr, reg)], axis=1) == y_val).mean())\n"
                       "    best_params = max(results, key=results.get)  # max returns the first maximum\n"
                       "    best_W, best_val_acc = weights[best_params], results[best_params]\n")),
]

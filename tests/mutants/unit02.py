"""Mutants and correct alternatives of unit 02 (backpropagation and neural networks).

Each mutant is the full source of a solution cell with one plausible mistake; it is derived
from the solution cell by a textual edit (``_edit`` fails loudly when the edit no longer
applies, so the mutants cannot silently turn into copies of the solution).
"""
from __future__ import annotations

from tests.mutants import Mutant, edited_solution, solution_source

UNIT = "02_backprop"
NOTEBOOK = "02_backprop.ipynb"

def _solution(task: str) -> str:
    return solution_source(UNIT, NOTEBOOK, task)


def _edit(task: str, *pairs: tuple[str, str]) -> str:
    return edited_solution(UNIT, NOTEBOOK, task, *pairs)


def M(task: str, name: str, *pairs: tuple[str, str]) -> Mutant:
    return Mutant(task=task, name=name, source=_edit(task, *pairs))


_ITERATIVE_DFS = """    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            for child in node._prev:
                if id(child) not in seen:
                    stack.append((child, False))
    return order"""

MUTANTS = [
    # --- task 2.1: Value backward rules
    M("task2_1", "mul backward swaps the operands",
      ("self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
       "self.grad += self.data * out.grad\n            other.grad += other.data * out.grad")),
    M("task2_1", "gradient overwritten instead of accumulated (= instead of +=)",
      ("self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
       "self.grad = other.data * out.grad\n            other.grad = self.data * out.grad"),
      ("self.grad += out.grad\n            other.grad += out.grad",
       "self.grad = out.grad\n            other.grad = out.grad")),
    M("task2_1", "forgot the upstream gradient in tanh",
      ("self.grad += (1.0 - out.data ** 2) * out.grad", "self.grad += 1.0 - out.data ** 2")),
    M("task2_1", "tanh derivative written with the input instead of the output",
      ("self.grad += (1.0 - out.data ** 2) * out.grad", "self.grad += (1.0 - self.data ** 2) * out.grad")),
    M("task2_1", "pow derivative k * x**k",
      ("self.grad += k * self.data ** (k - 1) * out.grad", "self.grad += k * self.data ** k * out.grad")),
    M("task2_1", "log derivative 1/out",
      ("self.grad += out.grad / self.data", "self.grad += out.grad / out.data")),
    M("task2_1", "relu passes the gradient at x <= 0",
      ("self.grad += (1.0 if self.data > 0 else 0.0) * out.grad", "self.grad += out.grad")),
    M("task2_1", "relu gradient 1 at exactly 0",
      ("self.grad += (1.0 if self.data > 0 else 0.0) * out.grad",
       "self.grad += (1.0 if self.data >= 0 else 0.0) * out.grad")),
    # --- task 2.2: topological backward pass
    M("task2_2", "topological order not reversed in backward",
      ("for node in reversed(order):", "for node in order:")),
    M("task2_2", "recursive search without a seen set (shared nodes listed twice)",
      (_ITERATIVE_DFS, """    order = []

    def visit(node):
        for child in node._prev:
            visit(child)
        order.append(node)

    visit(root)
    return order""")),
    M("task2_2", "root gradient not seeded with 1",
      ("    root.grad = 1.0\n", "")),
    M("task2_2", "root placed first",
      ("    return order\n", "    return order[-1:] + order[:-1]\n")),
    # --- task 2.3: affine and ReLU layers
    M("task2_3", "bias gradient summed over the wrong axis",
      ("db = dout.sum(axis=0)", "db = dout.sum(axis=1)")),
    M("task2_3", "bias gradient averaged over the batch",
      ("db = dout.sum(axis=0)", "db = dout.mean(axis=0)")),
    M("task2_3", "relu backward forgets the upstream gradient",
      ("return dout * (x > 0)", "return (x > 0).astype(float)")),
    M("task2_3", "dx not reshaped to the input's shape",
      ("dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T")),
    M("task2_3", "affine forward without the bias",
      ("out = x.reshape(x.shape[0], -1) @ w + b", "out = x.reshape(x.shape[0], -1) @ w")),
    M("task2_3", "relu gradient 1 at exactly 0",
      ("return dout * (x > 0)", "return dout * (x >= 0)")),
    # --- task 2.4: MLP loss with L2 regularisation
    M("task2_4", "regularisation gradient missing its factor 2",
      ("grads[f\"W{l}\"] = dw + 2.0 * reg * W", "grads[f\"W{l}\"] = dw + reg * W")),
    M("task2_4", "regularisation missing from the loss",
      ("        loss += reg * float(np.sum(W * W))\n", "")),
    M("task2_4", "bias regularised too",
      ("grads[f\"b{l}\"] = db", "grads[f\"b{l}\"] = db + 2.0 * reg * params[f\"b{l}\"]\n"
                              "        loss += reg * float(np.sum(params[f\"b{l}\"] ** 2))")),
    M("task2_4", "ReLU after the last layer too",
      ("        if l < L:\n            h, cache_r = relu_forward(h)",
       "        h, cache_r = relu_forward(h)")),
    # --- task 2.5: momentum and RMSProp
    M("task2_5", "momentum velocity sign error",
      ("v = momentum * v + dw", "v = momentum * v - dw")),
    M("task2_5", "velocity not carried between steps",
      ("return w - lr * v, {\"velocity\": v}", "return w - lr * v, {\"velocity\": dw}")),
    M("task2_5", "RMSProp eps inside the square root",
      ("np.sqrt(s) + eps", "np.sqrt(s + eps)")),
    M("task2_5", "RMSProp alpha weights the new squared gradient",
      ("s = alpha * s + (1 - alpha) * dw * dw", "s = (1 - alpha) * s + alpha * dw * dw")),
    M("task2_5", "RMSProp without the square root",
      ("np.sqrt(s) + eps", "s + eps")),
    M("task2_5", "RMSProp running mean not carried between steps",
      ("s = np.zeros_like(w) if state is None else state[\"square_avg\"]", "s = np.zeros_like(w)")),
    # --- task 2.6: Adam
    M("task2_6", "Adam without bias correction",
      ("m_hat = m / (1 - beta1 ** t)", "m_hat = m"), ("v_hat = v / (1 - beta2 ** t)", "v_hat = v")),
    M("task2_6", "Adam eps inside the square root",
      ("np.sqrt(v_hat) + eps", "np.sqrt(v_hat + eps)")),
    M("task2_6", "Adam step counter not stored",
      ("return w - lr * m_hat / (np.sqrt(v_hat) + eps), {\"t\": t, \"m\": m, \"v\": v}",
       "return w - lr * m_hat / (np.sqrt(v_hat) + eps), {\"t\": 0, \"m\": m, \"v\": v}")),
    M("task2_6", "Adam state holds the bias-corrected moments",
      ("return w - lr * m_hat / (np.sqrt(v_hat) + eps), {\"t\": t, \"m\": m, \"v\": v}",
       "return w - lr * m_hat / (np.sqrt(v_hat) + eps), {\"t\": t, \"m\": m_hat, \"v\": v_hat}")),
    # --- task 2.7: batch normalisation forward
    M("task2_7", "momentum weights the old statistic",
      ("bn_param[\"running_mean\"] = (1 - momentum) * running_mean + momentum * mu",
       "bn_param[\"running_mean\"] = momentum * running_mean + (1 - momentum) * mu"),
      ("bn_param[\"running_var\"] = (1 - momentum) * running_var + momentum * var * N / (N - 1)",
       "bn_param[\"running_var\"] = momentum * running_var + (1 - momentum) * var * N / (N - 1)")),
    M("task2_7", "biased running variance",
      ("momentum * var * N / (N - 1)", "momentum * var")),
    M("task2_7", "eval mode uses the batch statistics",
      ("        x_hat = (x - running_mean) / np.sqrt(running_var + eps)",
       "        x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)")),
    M("task2_7", "eps added to the standard deviation",
      ("x_hat = (x - mu) / np.sqrt(var + eps)", "x_hat = (x - mu) / (np.sqrt(var) + eps)")),
    M("task2_7", "variance as E[x^2] - mu^2 (cancellation for inputs with a large offset)",
      ("var = x.var(axis=0)", "var = (x * x).mean(axis=0) - mu ** 2")),
    M("task2_7", "eps ignored from bn_param",
      ("eps = bn_param.get(\"eps\", 1e-5)", "eps = 1e-5")),
    # --- task 2.8: batch normalisation backward
    M("task2_8", "missing batch-sum in the backward pass",
      ("N * dx_hat - dx_hat.sum(axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)",
       "N * dx_hat - dx_hat - x_hat * dx_hat * x_hat")),
    M("task2_8", "backward ignores the mean and variance (treats them as constants)",
      ("dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0))",
       "dx = dx_hat * inv_std")),
    M("task2_8", "backward ignores the variance's dependence on x",
      ("dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0))",
       "dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0))")),
    M("task2_8", "dgamma without x_hat",
      ("dgamma = np.sum(dout * x_hat, axis=0)", "dgamma = np.sum(dout, axis=0)")),
    M("task2_8", "gamma left out of dx",
      ("dx_hat = dout * gamma", "dx_hat = dout")),
    M("task2_8", "eps left out of the backward's inverse standard deviation",
      ("inv_std = 1.0 / np.sqrt(cache.var + cache.eps)", "inv_std = 1.0 / np.sqrt(cache.var)")),
    # --- task 2.9: layer normalisation
    M("task2_9", "layer norm normalises over the batch axis",
      ("    mu = x.mean(axis=1, keepdims=True)\n    xc = x - mu\n    inv_std = 1.0 / np.sqrt(np.mean(xc * xc, axis=1, keepdims=True) + eps)",
       "    mu = x.mean(axis=0, keepdims=True)\n    xc = x - mu\n    inv_std = 1.0 / np.sqrt(np.mean(xc * xc, axis=0, keepdims=True) + eps)")),
    M("task2_9", "layer norm backward with the sums over the batch (batch norm's formula)",
      ("""    dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)
                        - x_hat * np.sum(dx_hat * x_hat, axis=1, keepdims=True))""",
       """    N = dout.shape[0]
    dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0, keepdims=True)
                        - x_hat * np.sum(dx_hat * x_hat, axis=0, keepdims=True))""")),
    M("task2_9", "layer norm dgamma summed over the features",
      ("dgamma = np.sum(dout * x_hat, axis=0)", "dgamma = np.sum(dout * x_hat, axis=1)[:1] * np.ones(D)")),
    M("task2_9", "layer norm with the unbiased variance",
      ("inv_std = 1.0 / np.sqrt(np.mean(xc * xc, axis=1, keepdims=True) + eps)",
       "inv_std = 1.0 / np.sqrt(np.sum(xc * xc, axis=1, keepdims=True) / (x.shape[1] - 1) + eps)")),
    M("task2_9", "layer norm backward treats the statistics as constants",
      ("""    dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)
                        - x_hat * np.sum(dx_hat * x_hat, axis=1, keepdims=True))""",
       "    dx = dx_hat * inv_std")),
    # --- task 2.10: inverted dropout
    M("task2_10", "dropout not rescaled",
      ("mask = (rng.random(x.shape) >= p) / (1.0 - p)", "mask = (rng.random(x.shape) >= p) * 1.0")),
    M("task2_10", "p used as the keep probability",
      ("mask = (rng.random(x.shape) >= p) / (1.0 - p)", "mask = (rng.random(x.shape) < p) / p")),
    M("task2_10", "scaled by (1 - p) instead of divided",
      ("mask = (rng.random(x.shape) >= p) / (1.0 - p)", "mask = (rng.random(x.shape) >= p) * (1.0 - p)")),
    M("task2_10", "backward ignores the mask",
      ("return dout if mask is None else dout * mask", "return dout")),
    M("task2_10", "dropout also at evaluation",
      ("if not train or p == 0:", "if p == 0:")),
    M("task2_10", "global RNG instead of the given seed",
      ("    rng = np.random.default_rng(rng)\n", "    rng = np.random.default_rng()\n")),
    # --- task 2.11: the training loop
    M("task2_11", "ignores the given loss and optimiser",
      ("loss_fn = mlp_loss if loss_fn is None else loss_fn\n    step_fn = adam if step_fn is None else step_fn",
       "loss_fn = mlp_loss\n    step_fn = adam")),
    M("task2_11", "one epoch with a tiny learning rate",
      ("num_epochs=20", "num_epochs=1"), ("lr=3e-3", "lr=1e-4")),
    M("task2_11", "updated parameters discarded",
      ("params[k], states[k] = step_fn(params[k], grads[k], states[k], lr=lr)",
       "_, states[k] = step_fn(params[k], grads[k], states[k], lr=lr)")),
    M("task2_11", "only the last minibatch of each epoch used",
      ("            idx = perm[start:start + batch_size]\n",
       "            idx = perm[-batch_size:]\n")),
    M("task2_11", "no reshuffle between epochs",
      ("    for epoch in range(num_epochs):\n        perm = rng.permutation(n)\n",
       "    perm = rng.permutation(n)\n    for epoch in range(num_epochs):\n")),
    M("task2_11", "a new optimiser state every epoch",
      ("    for epoch in range(num_epochs):\n",
       "    for epoch in range(num_epochs):\n        states = {k: None for k in params}\n")),
    M("task2_11", "the given params ignored",
      ("    if params is None:\n        params = init_mlp(", "    if True:\n        params = init_mlp(")),
    M("task2_11", "validation accuracy recorded before the epoch's updates",
      ("    for epoch in range(num_epochs):\n        perm = rng.permutation(n)\n",
       "    for epoch in range(num_epochs):\n"
       "        history[\"val_acc\"].append(accuracy(loss_fn(params, data.X_val), data.y_val))\n"
       "        perm = rng.permutation(n)\n"),
      ("        history[\"val_acc\"].append(accuracy(loss_fn(params, data.X_val), data.y_val))\n    return",
       "    return")),
    # --- task 2.12: choosing on the validation split
    M("task2_12", "chooses on the test split",
      ("val_accs.append(accuracy(predict_fn(params, data.X_val), data.y_val))",
       "val_accs.append(accuracy(predict_fn(params, data.X_test), data.y_test))")),
    M("task2_12", "scores on validation but chooses on test",
      ("        if best is None or val_accs[i] > val_accs[best]:\n",
       "        test_acc = accuracy(predict_fn(params, data.X_test), data.y_test)\n"
       "        if best is None or test_acc > best_test:\n            best_test = test_acc\n"),
      ("    val_accs, best, best_params = [], None, None\n",
       "    val_accs, best, best_params, best_test = [], None, None, -1.0\n")),
    M("task2_12", "chooses on the training split",
      ("val_accs.append(accuracy(predict_fn(params, data.X_val), data.y_val))",
       "val_accs.append(accuracy(predict_fn(params, data.X_train), data.y_train))")),
    M("task2_12", "a tie goes to the later config",
      ("if best is None or val_accs[i] > val_accs[best]:", "if best is None or val_accs[i] >= val_accs[best]:")),
    M("task2_12", "returns the last config's parameters",
      ("    return configs[best], best_params, val_accs", "    return configs[best], params, val_accs")),
    M("task2_12", "picks the lowest validation accuracy",
      ("if best is None or val_accs[i] > val_accs[best]:", "if best is None or val_accs[i] < val_accs[best]:")),
    # --- task 2.13: the MLP with batch norm and dropout
    M("task2_13", "dropout also at evaluation",
      ("            if train and p_drop > 0:", "            if p_drop > 0:"),
      ("                h, cache_d = dropout_forward(h, p_drop, train=True, rng=(seed, l))",
       "                h, cache_d = dropout_forward(h, p_drop, train=True, rng=(seed, l))\n"
       "                cache_d = cache_d if train else None")),
    M("task2_13", "batch norm in training mode at evaluation too",
      ("bn_params[l - 1][\"mode\"] = \"train\" if train else \"eval\"", "bn_params[l - 1][\"mode\"] = \"train\"")),
    M("task2_13", "batch norm after the ReLU",
      ("            if f\"gamma{l}\" in params:\n", "            h, cache_r = relu_forward(h)\n            if f\"gamma{l}\" in params:\n"),
      ("            h, cache_r = relu_forward(h)\n            if train and p_drop > 0:",
       "            if train and p_drop > 0:"),
      ("        if cache_r is not None:\n            dh = relu_backward(dh, cache_r)\n"
       "        if cache_b is not None:\n            dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = batchnorm_backward(dh, cache_b)\n",
       "        if cache_b is not None:\n            dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = batchnorm_backward(dh, cache_b)\n"
       "        if cache_r is not None:\n            dh = relu_backward(dh, cache_r)\n")),
    M("task2_13", "gamma regularised too",
      ("        grads[f\"b{l}\"] = db\n",
       "        grads[f\"b{l}\"] = db\n        if f\"gamma{l}\" in params:\n"
       "            loss += reg * float(np.sum(params[f\"gamma{l}\"] ** 2))\n"
       "            grads[f\"gamma{l}\"] = grads[f\"gamma{l}\"] + 2.0 * reg * params[f\"gamma{l}\"]\n")),
    M("task2_13", "the same dropout mask in every layer",
      ("rng=(seed, l))", "rng=seed)")),
    M("task2_13", "running statistics not kept in bn_params",
      ("h, cache_b = batchnorm_forward(h, params[f\"gamma{l}\"], params[f\"beta{l}\"], bn_params[l - 1])",
       "h, cache_b = batchnorm_forward(h, params[f\"gamma{l}\"], params[f\"beta{l}\"], dict(bn_params[l - 1]))")),
    M("task2_13", "batch-norm gradients of gamma and beta dropped",
      ("            dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = batchnorm_backward(dh, cache_b)",
       "            dh, _, _ = batchnorm_backward(dh, cache_b)\n"
       "            grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = np.zeros_like(params[f\"gamma{l}\"]), np.zeros_like(params[f\"beta{l}\"])")),
]

# Shortcuts: correct results obtained through what the unit's course.forbid rules out. The grading
# sandbox takes those modules away, so they are graded in tests/test_units_grading.py, not in-process.
SHORTCUTS = [
    Mutant(task="task2_2", name="shortcut: course_lib.autograd.topological_order", source="""
from course_lib.autograd import topological_order as _topo


def topological_sort(root):
    return _topo(root)


def backward(root):
    order = topological_sort(root)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()
"""),
    Mutant(task="task2_3", name="shortcut: course_lib.nn affine and relu", source="""
import course_lib.nn as _nn


def affine_forward(x, w, b):
    return _nn.affine_forward(x, w, b)


def affine_backward(dout, cache):
    return tuple(_nn.affine_backward(dout, cache))


def relu_forward(x):
    return _nn.relu_forward(x)


def relu_backward(dout, cache):
    return _nn.relu_backward(dout, cache)
"""),
    Mutant(task="task2_4", name="shortcut: torch autograd for the gradients", source="""
def mlp_loss(params, X, y=None, reg=0.0):
    import torch
    import torch.nn.functional as F
    L = len(params) // 2
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(X)
    for l in range(1, L + 1):
        h = h @ tp[f"W{l}"] + tp[f"b{l}"]
        if l < L:
            h = torch.relu(h)
    if y is None:
        return h.detach().numpy()
    loss = F.cross_entropy(h, torch.as_tensor(y)) + reg * sum((tp[f"W{l}"] ** 2).sum() for l in range(1, L + 1))
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in tp.items()}
"""),
    Mutant(task="task2_5", name="shortcut: course_lib.optim steps", source="""
from course_lib import optim as _optim


def sgd_momentum(w, dw, state=None, lr=1e-2, momentum=0.9):
    return _optim.sgd_step(w, dw, state, lr=lr, momentum=momentum)


def rmsprop(w, dw, state=None, lr=1e-2, alpha=0.99, eps=1e-8):
    return _optim.rmsprop_step(w, dw, state, lr=lr, alpha=alpha, eps=eps)
"""),
    Mutant(task="task2_6", name="shortcut: course_lib.optim.adam_step", source="""
from course_lib import optim as _optim


def adam(w, dw, state=None, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return _optim.adam_step(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
"""),
    Mutant(task="task2_7", name="shortcut: course_lib.nn batch norm", source="""
from course_lib.nn import BatchNormState as _State, batchnorm_forward as _bf


def batchnorm_forward(x, gamma, beta, bn_param):
    D = x.shape[1]
    eps = bn_param.get("eps", 1e-5)
    st = _State(num_features=D, mode=bn_param["mode"], momentum=bn_param.get("momentum", 0.1),
                eps=eps, running_mean=bn_param.get("running_mean", np.zeros(D)),
                running_var=bn_param.get("running_var", np.ones(D)))
    out, c = _bf(x, gamma, beta, st)
    if bn_param["mode"] != "train":
        return out, None
    bn_param["running_mean"], bn_param["running_var"] = st.running_mean, st.running_var
    var = 1.0 / c.inv_std ** 2 - eps
    return out, BatchNormCache(x=x, mu=x - c.xc, var=var, eps=eps, gamma=gamma, x_hat=c.x_hat)
"""),
    Mutant(task="task2_8", name="shortcut: course_lib.nn batch norm backward", source="""
from course_lib.nn.norm import BatchNormCache as _Cache, batchnorm_backward as _bb


def batchnorm_backward(dout, cache):
    c = _Cache(x_hat=cache.x_hat, inv_std=1.0 / np.sqrt(cache.var + cache.eps), gamma=cache.gamma,
               xc=cache.x - cache.mu, mode="train")
    return tuple(_bb(dout, c))
"""),
    Mutant(task="task2_9", name="shortcut: course_lib.nn layer norm", source="""
from course_lib.nn import layernorm_backward as _lb, layernorm_forward as _lf


def layernorm_forward(x, gamma, beta, eps=1e-5):
    return _lf(x, gamma, beta, eps=eps)


def layernorm_backward(dout, cache):
    return tuple(_lb(dout, cache))
"""),
    Mutant(task="task2_10", name="shortcut: course_lib.nn dropout", source="""
from course_lib.nn import dropout_backward as _db, dropout_forward as _df


def dropout_forward(x, p, train=True, rng=None):
    return _df(x, p, train=train, rng=np.random.default_rng(rng))


def dropout_backward(dout, cache):
    return _db(dout, cache)
"""),
    Mutant(task="task2_11", name="shortcut: scikit-learn's MLPClassifier", source="""
def train_mlp(data, hidden_dims=(128,), num_epochs=20, batch_size=64, lr=3e-3, reg=1e-4,
              seed=0, loss_fn=None, step_fn=None, params=None):
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=hidden_dims, alpha=reg, batch_size=batch_size,
                        learning_rate_init=lr, max_iter=num_epochs, random_state=seed)
    clf.fit(data.X_train, data.y_train)
    params = {}
    for l, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_), start=1):
        params[f"W{l}"], params[f"b{l}"] = W, b
    return params, {"loss": list(clf.loss_curve_), "val_acc": [float(clf.score(data.X_val, data.y_val))]}
"""),
]

# Issue #13: classes of bugs that earned full marks before.
MUTANTS += [
    M("task2_2", "reversed pre-order instead of a post-order",
      (_ITERATIVE_DFS, """    order, seen = [], set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        for child in node._prev:
            stack.append(child)
    return order[::-1]""")),
    M("task2_3", "relu forward writes into its input",
      ("    out = np.maximum(x, 0)\n    cache = x\n",
       "    cache = x.copy()\n    x[x < 0] = 0\n    out = x\n")),
]

# The mistakes the issues name (graded for real, one mutant per task per submission).
NAMED = [
    ("task2_8", "missing batch-sum in the backward pass"),
    ("task2_1", "forgot the upstream gradient in tanh"),
    ("task2_3", "relu backward forgets the upstream gradient"),
    ("task2_3", "bias gradient summed over the wrong axis"),
    ("task2_6", "Adam without bias correction"),
    ("task2_10", "dropout not rescaled"),
    ("task2_4", "regularisation gradient missing its factor 2"),
    ("task2_2", "reversed pre-order instead of a post-order"),
    ("task2_3", "relu forward writes into its input"),
    ("task2_11", "no reshuffle between epochs"),
    ("task2_11", "a new optimiser state every epoch"),
    # issue #16: the new tasks
    ("task2_5", "RMSProp eps inside the square root"),
    ("task2_7", "momentum weights the old statistic"),
    ("task2_9", "layer norm normalises over the batch axis"),
    ("task2_12", "chooses on the test split"),
    ("task2_13", "dropout also at evaluation"),
]

# The student who follows the hints of Task 2.9: layer norm as batch norm of x.T, with their own Task 2.7/2.8.
_LAYERNORM_BY_BATCHNORM = '''def layernorm_forward(x, gamma, beta, eps=1e-5):
    """x: (N, D), gamma, beta: (D,) -> out (N, D), cache."""
    n = x.shape[0]
    xt_hat, bn_cache = batchnorm_forward(x.T, np.ones(n), np.zeros(n), {"mode": "train", "eps": eps})
    x_hat = xt_hat.T
    return gamma * x_hat + beta, (bn_cache, x_hat, gamma)


def layernorm_backward(dout, cache):
    """dout: (N, D) -> dx (N, D), dgamma (D,), dbeta (D,)."""
    bn_cache, x_hat, gamma = cache
    dxt, _, _ = batchnorm_backward((dout * gamma).T, bn_cache)
    return dxt.T, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)
'''

CORRECT_ALTERNATIVES = [
    M("task2_1", "relu backward with the output mask",
      ("self.grad += (1.0 if self.data > 0 else 0.0) * out.grad",
       "self.grad += (out.data > 0) * out.grad"),
      ("self.grad += out.data * out.grad", "self.grad += math.exp(self.data) * out.grad")),
    M("task2_2", "recursive depth-first search",
      (_ITERATIVE_DFS,
       """    order, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node._prev:
            visit(child)
        order.append(node)

    visit(root)
    return order""")),
    M("task2_3", "relu backward with the output mask, dict caches",
      ("    out = np.maximum(x, 0)\n    cache = x\n", "    out = np.maximum(x, 0)\n    cache = out\n"),
      ("    x = cache\n    return dout * (x > 0)", "    return np.where(cache > 0, dout, 0.0)"),
      ("cache = (x, w)", "cache = {\"x\": x, \"w\": w}"),
      ("x, w = cache", "x, w = cache[\"x\"], cache[\"w\"]")),
    M("task2_3", "loops over the batch",
      ("db = dout.sum(axis=0)", "db = sum(dout[i] for i in range(dout.shape[0]))")),
    M("task2_4", "regularisation added in the forward loop",
      ("        loss += reg * float(np.sum(W * W))\n", ""),
      ("    loss, dh = softmax_loss(h, y)\n",
       "    loss, dh = softmax_loss(h, y)\n    loss += reg * sum(np.sum(params[f\"W{l}\"] ** 2) for l in range(1, L + 1))\n")),
    M("task2_5", "cs231n-style velocity (v = mu v - lr g, w += v) with constant lr; RMSProp as a cache",
      ("""    v = np.zeros_like(w) if state is None else state["velocity"]
    v = momentum * v + dw
    return w - lr * v, {"velocity": v}""",
       """    v = np.zeros_like(w) if state is None else -lr * state["velocity"]
    v = momentum * v - lr * dw
    return w + v, {"velocity": v / -lr}"""),
      ("    s = alpha * s + (1 - alpha) * dw * dw\n", "    s = s * alpha\n    s += (1 - alpha) * dw ** 2\n")),
    M("task2_6", "Adam with an explicitly bias-corrected learning rate",
      ("""    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}""",
       """    lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    eps_t = eps * np.sqrt(1 - beta2 ** t)
    return w - lr_t * m / (np.sqrt(v) + eps_t), {"t": t, "m": m, "v": v}""")),
    M("task2_7", "centred variance written out, running statistics updated in place",
      ("        var = x.var(axis=0)\n", "        var = np.mean((x - mu) ** 2, axis=0)\n"),
      ("        bn_param[\"running_mean\"] = (1 - momentum) * running_mean + momentum * mu\n",
       "        bn_param[\"running_mean\"] = running_mean * (1 - momentum)\n"
       "        bn_param[\"running_mean\"] += momentum * mu\n")),
    M("task2_8", "backward in the long (computational graph) form",
      ("""    x_hat, gamma = cache.x_hat, cache.gamma
    inv_std = 1.0 / np.sqrt(cache.var + cache.eps)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0))""",
       """    xc = cache.x - cache.mu
    inv_std = 1.0 / np.sqrt(cache.var + cache.eps)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xc * inv_std, axis=0)
    dx_hat = dout * cache.gamma
    dinv_std = np.sum(dx_hat * xc, axis=0)
    dvar = -0.5 * inv_std ** 3 * dinv_std
    dxc = dx_hat * inv_std + 2.0 * xc * dvar / N
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / N""")),
    Mutant(task="task2_9", name="the hint: batch norm of x.T with the student's own Tasks 2.7 and 2.8",
           source=_LAYERNORM_BY_BATCHNORM),
    M("task2_9", "the statistics with keepdims-free broadcasting",
      ("    mu = x.mean(axis=1, keepdims=True)\n    xc = x - mu\n",
       "    mu = x.mean(axis=1)\n    xc = x - mu[:, None]\n")),
    M("task2_10", "mask stored unscaled, scale applied in both passes",
      ("""    mask = (rng.random(x.shape) >= p) / (1.0 - p)
    return x * mask, mask""",
       """    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1.0 - p), 0.0), keep / (1.0 - p)""")),
    M("task2_11", "two hidden layers, larger batches",
      ("hidden_dims=(128,)", "hidden_dims=(96, 64)"), ("batch_size=64", "batch_size=100"),
      ("num_epochs=20", "num_epochs=25")),
    M("task2_12", "argmax over the list of accuracies",
      ("""    val_accs, best, best_params = [], None, None
    for i, config in enumerate(configs):
        params, _ = train_fn(data, **config)
        val_accs.append(accuracy(predict_fn(params, data.X_val), data.y_val))
        if best is None or val_accs[i] > val_accs[best]:
            best, best_params = i, params
    return configs[best], best_params, val_accs""",
       """    trained = [train_fn(data, **config)[0] for config in configs]
    val_accs = [float(np.mean(predict_fn(p, data.X_val).argmax(axis=1) == data.y_val)) for p in trained]
    best = int(np.argmax(val_accs))
    return configs[best], trained[best], val_accs""")),
    M("task2_13", "dropout called with train=... in every layer, mode set from a flag",
      ("            if train and p_drop > 0:\n                h, cache_d = dropout_forward(h, p_drop, train=True, rng=(seed, l))",
       "            h, cache_d = dropout_forward(h, p_drop, train=train, rng=(seed, l))"),
      ("        if cache_d is not None:\n            dh = dropout_backward(dh, cache_d)\n",
       "        dh = dropout_backward(dh, cache_d)\n")),
]

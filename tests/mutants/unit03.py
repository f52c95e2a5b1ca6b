"""Unit 03 (convolutional networks): plausible wrong implementations of the graded tasks
(each must be killed by its task's test cell) and other correct implementations (each must pass).

A mutant's ``source`` is the full replacement source of that task's solution cell in
solutions/03_cnn/03_cnn.ipynb. Most are built from the solution itself with ``_swap`` (one edit),
so that they break loudly when the solution changes; the older ones are written out in full.
"""
from __future__ import annotations

from tests.mutants import Mutant, edited_solution, solution_source

UNIT = "03_cnn"
NOTEBOOK = "03_cnn.ipynb"


def _solution(task: str) -> str:
    """The solution cell of ``task`` without its BEGIN/END SOLUTION marker lines."""
    return solution_source(UNIT, NOTEBOOK, task, markers=False)


def _swap(task: str, *pairs: tuple[str, str]) -> str:
    """The solution of ``task`` with each ``old`` (which must occur exactly once) replaced by ``new``."""
    return edited_solution(UNIT, NOTEBOOK, task, *pairs, markers=False)


MUTANTS = [
    Mutant(task='task3_1', name='raises when the stride does not divide (the old convention)', source=r'''def conv_output_size(W, F, P, S):
    if S < 1:
        raise ValueError(f"stride must be at least 1, got {S}")
    if P < 0:
        raise ValueError(f"padding must be non-negative, got {P}")
    span = W - F + 2 * P
    if span < 0:
        raise ValueError(f"a filter of size {F} does not fit in an input of size {W} padded by {P}")
    if span % S != 0:
        raise ValueError(f"stride {S} does not divide W - F + 2P = {span}")
    return int(span // S + 1)
'''),
    Mutant(task='task3_1', name='returns a float (true division)', source=r'''def conv_output_size(W, F, P, S):
    """Output size of a convolution along one axis.

    Args:
        W: input size; F: filter size; P: zero padding on each side; S: stride.

    Returns:
        int, (W - F + 2P) / S + 1.

    Raises:
        ValueError: S < 1, P < 0, the filter does not fit, or S does not divide W - F + 2P.
    """
    if S < 1:
        raise ValueError(f"stride must be at least 1, got {S}")
    if P < 0:
        raise ValueError(f"padding must be non-negative, got {P}")
    span = W - F + 2 * P
    if span < 0:
        raise ValueError(f"a filter of size {F} does not fit in an input of size {W} padded by {P}")
    if span % S != 0:
        raise ValueError(f"stride {S} does not divide W - F + 2P = {span}")
    return span / S + 1
'''),
    Mutant(task='task3_1', name='padding counted on one side only', source=r'''def conv_output_size(W, F, P, S):
    """Output size of a convolution along one axis.

    Args:
        W: input size; F: filter size; P: zero padding on each side; S: stride.

    Returns:
        int, (W - F + 2P) / S + 1.

    Raises:
        ValueError: S < 1, P < 0, the filter does not fit, or S does not divide W - F + 2P.
    """
    if S < 1:
        raise ValueError(f"stride must be at least 1, got {S}")
    if P < 0:
        raise ValueError(f"padding must be non-negative, got {P}")
    span = W - F + P
    if span < 0:
        raise ValueError(f"a filter of size {F} does not fit in an input of size {W} padded by {P}")
    if span % S != 0:
        raise ValueError(f"stride {S} does not divide W - F + 2P = {span}")
    return int(span // S + 1)
'''),
    Mutant(task='task3_1', name='no check that the filter fits', source=r'''def conv_output_size(W, F, P, S):
    """Output size of a convolution along one axis.

    Args:
        W: input size; F: filter size; P: zero padding on each side; S: stride.

    Returns:
        int, (W - F + 2P) / S + 1.

    Raises:
        ValueError: S < 1, P < 0, the filter does not fit, or S does not divide W - F + 2P.
    """
    if S < 1:
        raise ValueError(f"stride must be at least 1, got {S}")
    if P < 0:
        raise ValueError(f"padding must be non-negative, got {P}")
    span = W - F + 2 * P
    if span % S != 0:
        raise ValueError(f"stride {S} does not divide W - F + 2P = {span}")
    return int(span // S + 1)
'''),
    Mutant(task='task3_2', name='flipped kernel (true convolution)', source=r'''@dataclass
class ConvCache:
    """What conv_backward_naive needs: the input and filters, and the hyperparameters."""
    x: np.ndarray   # (N, C, H, W)
    w: np.ndarray   # (F, C, HH, WW)
    b: np.ndarray   # (F,)
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) forward pass, with loops.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride, pad: ints.

    Returns:
        out: (N, F, H_out, W_out); cache: for conv_backward_naive.
    """
    N, C, H, W = x.shape
    F_, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"x has {C} channels but w has {Cw}")
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, f, i, j] = np.sum(xp[n, :, hs:hs + HH, ws:ws + WW] * w[f, :, ::-1, ::-1]) + b[f]
    cache = ConvCache(x=x, w=w, b=b, stride=stride, pad=pad)
    return out, cache
'''),
    Mutant(task='task3_2', name='padding applied to one side only', source=r'''@dataclass
class ConvCache:
    """What conv_backward_naive needs: the input and filters, and the hyperparameters."""
    x: np.ndarray   # (N, C, H, W)
    w: np.ndarray   # (F, C, HH, WW)
    b: np.ndarray   # (F,)
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) forward pass, with loops.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride, pad: ints.

    Returns:
        out: (N, F, H_out, W_out); cache: for conv_backward_naive.
    """
    N, C, H, W = x.shape
    F_, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"x has {C} channels but w has {Cw}")
    H_out = 1 + (H + pad - HH) // stride
    W_out = 1 + (W + pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, 0), (pad, 0)))
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, f, i, j] = np.sum(xp[n, :, hs:hs + HH, ws:ws + WW] * w[f]) + b[f]
    cache = ConvCache(x=x, w=w, b=b, stride=stride, pad=pad)
    return out, cache
'''),
    Mutant(task='task3_2', name='channels paired in the wrong order', source=r'''@dataclass
class ConvCache:
    """What conv_backward_naive needs: the input and filters, and the hyperparameters."""
    x: np.ndarray   # (N, C, H, W)
    w: np.ndarray   # (F, C, HH, WW)
    b: np.ndarray   # (F,)
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) forward pass, with loops.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride, pad: ints.

    Returns:
        out: (N, F, H_out, W_out); cache: for conv_backward_naive.
    """
    N, C, H, W = x.shape
    F_, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"x has {C} channels but w has {Cw}")
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, f, i, j] = np.sum(xp[n, :, hs:hs + HH, ws:ws + WW] * w[f, ::-1]) + b[f]
    cache = ConvCache(x=x, w=w, b=b, stride=stride, pad=pad)
    return out, cache
'''),
    Mutant(task='task3_2', name='stride ignored when placing the window', source=r'''@dataclass
class ConvCache:
    """What conv_backward_naive needs: the input and filters, and the hyperparameters."""
    x: np.ndarray   # (N, C, H, W)
    w: np.ndarray   # (F, C, HH, WW)
    b: np.ndarray   # (F,)
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) forward pass, with loops.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride, pad: ints.

    Returns:
        out: (N, F, H_out, W_out); cache: for conv_backward_naive.
    """
    N, C, H, W = x.shape
    F_, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"x has {C} channels but w has {Cw}")
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i, j
                    out[n, f, i, j] = np.sum(xp[n, :, hs:hs + HH, ws:ws + WW] * w[f]) + b[f]
    cache = ConvCache(x=x, w=w, b=b, stride=stride, pad=pad)
    return out, cache
'''),
    Mutant(task='task3_2', name='bias added once per channel', source=r'''@dataclass
class ConvCache:
    """What conv_backward_naive needs: the input and filters, and the hyperparameters."""
    x: np.ndarray   # (N, C, H, W)
    w: np.ndarray   # (F, C, HH, WW)
    b: np.ndarray   # (F,)
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) forward pass, with loops.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); stride, pad: ints.

    Returns:
        out: (N, F, H_out, W_out); cache: for conv_backward_naive.
    """
    N, C, H, W = x.shape
    F_, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"x has {C} channels but w has {Cw}")
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, f, i, j] = np.sum(xp[n, :, hs:hs + HH, ws:ws + WW] * w[f] + b[f] / HH / WW)
    cache = ConvCache(x=x, w=w, b=b, stride=stride, pad=pad)
    return out, cache
'''),
    Mutant(task="task3_9", name="optimizer never steps",
           source=_swap("task3_9", ("            opt.step()\n", ""))),
    Mutant(task="task3_9", name="an MLP without convolutions",
           source=_swap("task3_9", ("""    return nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (N, 16, 8, 8)
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (N, 32, 4, 4)
        nn.Flatten(), nn.Linear(32 * 4 * 4, num_classes))""",
                                    """    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 128), nn.ReLU(), nn.Linear(128, num_classes))"""))),
    Mutant(task="task3_9", name="epochs argument ignored",
           source=_swap("task3_9", ("    for _ in range(epochs):\n", "    for _ in range(10):\n"))),
    Mutant(task="task3_9", name="num_classes ignored",
           source=_swap("task3_9", ("nn.Linear(32 * 4 * 4, num_classes))", "nn.Linear(32 * 4 * 4, 10))"))),
    Mutant(task="task3_9", name="trains far too long (1000 epochs by default)",
           source=_swap("task3_9", ("epochs=10, lr=3e-3", "epochs=1000, lr=3e-3"))),
    Mutant(task="task3_9", name="model left in train mode",
           source=_swap("task3_9", ("    model.eval()\n", ""))),
    Mutant(task="task3_9", name="shuffled once: the same order every epoch",
           source=_swap("task3_9", ("    losses = []\n", "    losses = []\n    perm = torch.randperm(len(Xt), generator=gen).to(device)\n"),
                        ("        perm = torch.randperm(len(Xt), generator=gen).to(device)\n", ""))),
    Mutant(task="task3_9", name="shuffled with the global generator (seed ignored)",
           source=_swap("task3_9", ("torch.randperm(len(Xt), generator=gen)", "torch.randperm(len(Xt))"))),
    Mutant(task="task3_9", name="never shuffled",
           source=_swap("task3_9", ("torch.randperm(len(Xt), generator=gen)", "torch.arange(len(Xt))"))),
    Mutant(task="task3_9", name="get_device() ignored (always the CPU)",
           source=_swap("task3_9", ("    device = get_device()\n", "    device = torch.device('cpu')\n"))),
    Mutant(task="task3_9", name="learning rate far too small by default",
           source=_swap("task3_9", ("epochs=10, lr=3e-3", "epochs=10, lr=1e-5"))),
    Mutant(task="task3_9", name="learning rate 100x too large by default",
           source=_swap("task3_9", ("epochs=10, lr=3e-3", "epochs=10, lr=3e-1"))),
    Mutant(task="task3_9", name="gradients never zeroed (no opt.zero_grad())",
           source=_swap("task3_9", ("            opt.zero_grad()\n", ""))),
    Mutant(task="task3_9", name="model never put in train() mode",
           source=_swap("task3_9", ("    model.to(device).train()\n", "    model.to(device)\n"))),
    Mutant(task='task3_10', name='saliency without abs', source=r'''def saliency(model, x, y):
    """|d score_y / d x|, max over channels. x: (N, C, H, W) tensor, y: (N,) -> (N, H, W) ndarray."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)                                   # (N, K)
    picked = scores.gather(1, y.view(-1, 1)).sum()      # images do not interact, so one backward
    (grad,) = torch.autograd.grad(picked, x)
    return grad.amax(dim=1).detach().cpu().numpy()
'''),
    Mutant(task='task3_10', name='sum over channels instead of max', source=r'''def saliency(model, x, y):
    """|d score_y / d x|, max over channels. x: (N, C, H, W) tensor, y: (N,) -> (N, H, W) ndarray."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)                                   # (N, K)
    picked = scores.gather(1, y.view(-1, 1)).sum()      # images do not interact, so one backward
    (grad,) = torch.autograd.grad(picked, x)
    return grad.abs().sum(dim=1).detach().cpu().numpy()
'''),
    Mutant(task='task3_10', name='max over channels before abs', source=r'''def saliency(model, x, y):
    """|d score_y / d x|, max over channels. x: (N, C, H, W) tensor, y: (N,) -> (N, H, W) ndarray."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)                                   # (N, K)
    picked = scores.gather(1, y.view(-1, 1)).sum()      # images do not interact, so one backward
    (grad,) = torch.autograd.grad(picked, x)
    return grad.amax(dim=1).abs().detach().cpu().numpy()
'''),
    Mutant(task='task3_10', name='dropout left on (no eval)', source=r'''def saliency(model, x, y):
    """|d score_y / d x|, max over channels. x: (N, C, H, W) tensor, y: (N,) -> (N, H, W) ndarray."""
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)                                   # (N, K)
    picked = scores.gather(1, y.view(-1, 1)).sum()      # images do not interact, so one backward
    (grad,) = torch.autograd.grad(picked, x)
    return grad.abs().amax(dim=1).detach().cpu().numpy()
'''),
    Mutant(task='task3_10', name='gradient of the loss instead of the class score', source=r'''def saliency(model, x, y):
    """|d score_y / d x|, max over channels. x: (N, C, H, W) tensor, y: (N,) -> (N, H, W) ndarray."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)                                   # (N, K)
    picked = F.cross_entropy(scores, y, reduction='sum')      # images do not interact, so one backward
    (grad,) = torch.autograd.grad(picked, x)
    return grad.abs().amax(dim=1).detach().cpu().numpy()
'''),
    # ---- task3_2 (issue #13)
    Mutant(task="task3_2", name="forward returns float32 for float64 input",
           source=_swap("task3_2", ("    return out, cache", "    return out.astype(np.float32), cache"))),
    # ---- task3_3: conv_backward_weights
    Mutant(task="task3_3", name="stride ignored in the backward pass",
           source=_swap("task3_3", ("hs, ws = i * stride, j * stride", "hs, ws = i, j"))),
    Mutant(task="task3_3", name="bias gradient missing",
           source=_swap("task3_3", ("    db = dout.sum(axis=(0, 2, 3))", "    db = np.zeros(w.shape[0])"))),
    Mutant(task="task3_3", name="bias gradient averaged over positions",
           source=_swap("task3_3", ("    db = dout.sum(axis=(0, 2, 3))", "    db = dout.mean(axis=(2, 3)).sum(axis=0)"))),
    Mutant(task="task3_3", name="channels summed into dw (wrong axis)",
           source=_swap("task3_3", ("dw[f] += dout[n, f, i, j] * xp[n, :, hs:hs + HH, ws:ws + WW]",
                                    "dw[f] += dout[n, f, i, j] * xp[n, :, hs:hs + HH, ws:ws + WW].sum(axis=0) / x.shape[1]"))),
    Mutant(task="task3_3", name="dw read from the unpadded input",
           source=_swap("task3_3", ("dw[f] += dout[n, f, i, j] * xp[n, :, hs:hs + HH, ws:ws + WW]",
                                    "dw[f] += dout[n, f, i, j] * np.pad(x[n, :, hs:hs + HH, ws:ws + WW], "
                                    "((0, 0), (0, HH - min(HH, x.shape[2] - hs)), (0, WW - min(WW, x.shape[3] - ws))))"))),
    Mutant(task="task3_3", name="backward writes the padding into the cached input",
           source=_swap("task3_3", ("    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n",
                                    "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
                                    "    H, W = x.shape[2:]\n"
                                    "    x[...] = xp[:, :, pad:pad + H, pad:pad + W] * 2.0 if pad else x * 2.0\n"))),
    # ---- task3_4: conv_backward_naive (dx)
    Mutant(task="task3_4", name="stride ignored in the input gradient",
           source=_swap("task3_4", ("hs, ws = i * stride, j * stride", "hs, ws = i, j"))),
    Mutant(task="task3_4", name="dx cropped at the wrong offset",
           source=_swap("task3_4", ("    dx = dxp[:, :, pad:pad + H, pad:pad + W]", "    dx = dxp[:, :, :H, :W]"))),
    Mutant(task="task3_4", name="kernel flipped in the input gradient",
           source=_swap("task3_4", ("+= dout[n, f, i, j] * w[f]", "+= dout[n, f, i, j] * w[f, :, ::-1, ::-1]"))),
    Mutant(task="task3_4", name="overlapping windows overwrite instead of adding",
           source=_swap("task3_4", ("dxp[n, :, hs:hs + HH, ws:ws + WW] += dout[n, f, i, j] * w[f]",
                                    "dxp[n, :, hs:hs + HH, ws:ws + WW] = dout[n, f, i, j] * w[f] if f == 0 else "
                                    "dxp[n, :, hs:hs + HH, ws:ws + WW] + dout[n, f, i, j] * w[f]"))),
    Mutant(task="task3_4", name="channels of the filter summed in the input gradient",
           source=_swap("task3_4", ("+= dout[n, f, i, j] * w[f]", "+= dout[n, f, i, j] * w[f].sum(axis=0) / C"))),
    # ---- task3_5: max pooling forward
    Mutant(task="task3_5", name="output size rounded up (ceil mode)",
           source=_swap("task3_5", ("    H_out = (H - pool_h) // stride + 1\n    W_out = (W - pool_w) // stride + 1\n",
                                    "    H_out = -(-(H - pool_h) // stride) + 1\n    W_out = -(-(W - pool_w) // stride) + 1\n"),
                        ("x[:, :, hs:hs + pool_h, ws:ws + pool_w].max(axis=(2, 3))",
                         "np.pad(x, ((0, 0), (0, 0), (0, pool_h), (0, pool_w)), constant_values=-np.inf)"
                         "[:, :, hs:hs + pool_h, ws:ws + pool_w].max(axis=(2, 3))"))),
    Mutant(task="task3_5", name="windows placed at pool_h, not stride",
           source=_swap("task3_5", ("hs, ws = i * stride, j * stride", "hs, ws = i * pool_h, j * pool_w"))),
    Mutant(task="task3_5", name="pool_h and pool_w swapped in the cache",
           source=_swap("task3_5", ("PoolCache(x=x, pool_h=pool_h, pool_w=pool_w, stride=stride)",
                                    "PoolCache(x=x, pool_h=pool_w, pool_w=pool_h, stride=stride)"))),
    Mutant(task="task3_5", name="average pooling",
           source=_swap("task3_5", ("ws:ws + pool_w].max(axis=(2, 3))", "ws:ws + pool_w].mean(axis=(2, 3))"))),
    # ---- task3_6: max pooling backward
    Mutant(task="task3_6", name="gradient routed to every max in a window",
           source=_swap("task3_6", ("            k = window.argmax(axis=2)            # first maximum in row-major order\n"
                                    "            dx[n_idx, c_idx, hs + k // pw, ws + k % pw] += dout[:, :, i, j]\n",
                                    "            mask = window == window.max(axis=2, keepdims=True)\n"
                                    "            dx[:, :, hs:hs + ph, ws:ws + pw] += (mask * dout[:, :, i, j][..., None]).reshape(N, C, ph, pw)\n"))),
    Mutant(task="task3_6", name="gradient routed to the last max",
           source=_swap("task3_6", ("            k = window.argmax(axis=2)            # first maximum in row-major order\n",
                                    "            k = ph * pw - 1 - window[:, :, ::-1].argmax(axis=2)\n"))),
    Mutant(task="task3_6", name="gradient split evenly among tied maxima",
           source=_swap("task3_6", ("            k = window.argmax(axis=2)            # first maximum in row-major order\n"
                                    "            dx[n_idx, c_idx, hs + k // pw, ws + k % pw] += dout[:, :, i, j]\n",
                                    "            mask = window == window.max(axis=2, keepdims=True)\n"
                                    "            share = mask / mask.sum(axis=2, keepdims=True)\n"
                                    "            dx[:, :, hs:hs + ph, ws:ws + pw] += (share * dout[:, :, i, j][..., None]).reshape(N, C, ph, pw)\n"))),
    Mutant(task="task3_6", name="overlapping windows overwrite instead of adding",
           source=_swap("task3_6", ("dx[n_idx, c_idx, hs + k // pw, ws + k % pw] += dout[:, :, i, j]",
                                    "dx[n_idx, c_idx, hs + k // pw, ws + k % pw] = dout[:, :, i, j]"))),
    Mutant(task="task3_6", name="argmax position read as (k // ph, k % ph)",
           source=_swap("task3_6", ("dx[n_idx, c_idx, hs + k // pw, ws + k % pw]", "dx[n_idx, c_idx, hs + k // ph, ws + k % ph]"))),
    # ---- task3_7: im2col
    Mutant(task="task3_7", name="im2col columns in (kh, kw, c) order",
           source=_swap("task3_7", ("    cols = np.empty((N, H_out, W_out, C, HH, WW))\n", "    cols = np.empty((N, H_out, W_out, HH, WW, C))\n"),
                        ("            cols[:, :, :, :, kh, kw] = patch.transpose(0, 2, 3, 1)\n",
                         "            cols[:, :, :, kh, kw, :] = patch.transpose(0, 2, 3, 1)\n"))),
    Mutant(task="task3_7", name="rows ordered by position before image",
           source=_swap("task3_7", ("    return cols.reshape(N * H_out * W_out, C * HH * WW)",
                                    "    return cols.transpose(1, 2, 0, 3, 4, 5).reshape(N * H_out * W_out, C * HH * WW)"))),
    Mutant(task="task3_7", name="stride ignored in im2col",
           source=_swap("task3_7", ("kh:kh + stride * (H_out - 1) + 1:stride, kw:kw + stride * (W_out - 1) + 1:stride",
                         "kh:kh + H_out, kw:kw + W_out"))),
    Mutant(task="task3_7", name="padding on one side only",
           source=_swap("task3_7", ("    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
                                    "    xp = np.pad(x, ((0, 0), (0, 0), (pad, 2 * pad), (pad, 2 * pad)))[:, :, pad:, pad:]"))),
    # ---- task3_8: conv_forward_im2col
    Mutant(task="task3_8", name="output reshaped without transposing",
           source=_swap("task3_8", ("    return out.reshape(N, H_out, W_out, F_).transpose(0, 3, 1, 2)",
                                    "    return out.reshape(N, F_, H_out, W_out)"))),
    Mutant(task="task3_8", name="filters reshaped in the wrong order",
           source=_swap("task3_8", ("cols @ w.reshape(F_, -1).T + b", "cols @ w.reshape(-1, F_) + b"))),
    Mutant(task="task3_8", name="bias added to the wrong axis",
           source=_swap("task3_8", ("cols @ w.reshape(F_, -1).T + b", "cols @ w.reshape(F_, -1).T + b.sum() / F_"))),
    Mutant(task="task3_8", name="loops of Task 3.2 behind an unused im2col",
           source="""def conv_forward_im2col(x, w, b, stride=1, pad=0):
    im2col(x, w.shape[2], w.shape[3], stride, pad)     # called, but the loops do the work
    return conv_forward_naive(x, w, b, stride, pad)[0]
"""),
    Mutant(task="task3_8", name="im2col rewritten inline instead of called",
           source=_swap("task3_8", ("    cols = im2col(x, HH, WW, stride, pad)\n",
                                    "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
                                    "    cols = np.array([xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW].ravel()\n"
                                    "                     for n in range(N) for i in range(H_out) for j in range(W_out)])\n"))),
    # ---- task3_9 (issue #13)
    Mutant(task="task3_9", name="a new optimiser every epoch",
           source=_swap("task3_9", ("    opt = torch.optim.Adam(model.parameters(), lr=lr)\n", ""),
                        ("    for _ in range(epochs):\n", "    for _ in range(epochs):\n        opt = torch.optim.Adam(model.parameters(), lr=lr)\n"))),
]

# Correct numbers through what a task's course.forbid rules out: refused by the grading sandbox, so
# graded in tests/test_units_grading.py, not in-process.
SHORTCUTS = [
    Mutant(task='task3_2', name='shortcut: torch.nn.functional.conv2d', source=r'''@dataclass
class ConvCache:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=stride, padding=pad)
    return out.numpy(), ConvCache(x, w, b, stride, pad)
'''),
    Mutant(task='task3_2', name='shortcut: course_lib.nn.conv_forward_naive under an alias', source=r'''from course_lib.nn import conv_forward_naive as _reference_conv


@dataclass
class ConvCache:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    out, _ = _reference_conv(x, w, b, stride, pad)
    return out, ConvCache(x, w, b, stride, pad)
'''),
    Mutant(task="task3_3", name="shortcut: PyTorch autograd through F.conv2d", source="""def conv_backward_weights(dout, cache):
    import torch
    import torch.nn.functional as F
    wt = torch.tensor(cache.w, requires_grad=True)
    bt = torch.tensor(cache.b, requires_grad=True)
    F.conv2d(torch.from_numpy(cache.x), wt, bt, stride=cache.stride, padding=cache.pad).backward(torch.from_numpy(dout))
    return wt.grad.numpy(), bt.grad.numpy()
"""),
    Mutant(task="task3_4", name="shortcut: course_lib's reference backward pass", source="""def conv_backward_naive(dout, cache):
    from course_lib.nn import conv_backward_naive as _reference, conv_forward_naive as _forward
    _, ref_cache = _forward(cache.x, cache.w, cache.b, cache.stride, cache.pad)
    g = _reference(dout, ref_cache)
    return g.dx, g.dw, g.db
"""),
    Mutant(task="task3_5", name="shortcut: F.max_pool2d", source="""def max_pool_forward_naive(x, pool_h=2, pool_w=2, stride=2):
    import torch
    out = torch.nn.functional.max_pool2d(torch.from_numpy(x), (pool_h, pool_w), stride=stride)
    return out.numpy(), PoolCache(x=x, pool_h=pool_h, pool_w=pool_w, stride=stride)
"""),
    Mutant(task="task3_6", name="shortcut: F.max_pool2d and autograd", source="""def max_pool_backward_naive(dout, cache):
    import torch
    xt = torch.tensor(cache.x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, (cache.pool_h, cache.pool_w), stride=cache.stride).backward(torch.from_numpy(dout))
    return xt.grad.numpy()
"""),
    Mutant(task="task3_7", name="shortcut: F.unfold", source="""def im2col(x, HH, WW, stride=1, pad=0):
    import torch
    cols = torch.nn.functional.unfold(torch.from_numpy(x), (HH, WW), padding=pad, stride=stride)   # (N, C*HH*WW, L)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1]).numpy()
"""),
    Mutant(task="task3_9", name="shortcut: course_lib SmallCNN and fit", source=r"""def make_cnn(num_classes=10):
    from course_lib.models import SmallCNN
    return SmallCNN(in_channels=3, num_classes=num_classes, image_size=16, channels=(16, 32))


def train_cnn(model, X, y, *, epochs=10, lr=3e-3, batch_size=64, seed=0):
    from torch.utils.data import DataLoader, TensorDataset
    from course_lib.train import fit
    ds = TensorDataset(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    history = fit(model, loader, epochs=epochs, optimizer=torch.optim.Adam(model.parameters(), lr=lr),
                  loss_fn=F.cross_entropy, progress=False)
    model.eval()
    return history["train_loss"]
"""),
    Mutant(task="task3_2", name="shortcut: private torch._C convolution",
           source=_swap("task3_2", ("    out = np.zeros((N, F_, H_out, W_out))\n",
                                    "    import torch\n"
                                    "    out = torch._C._nn.slow_conv2d_forward if False else None\n"
                                    "    out = torch.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, pad).numpy()\n"
                                    "    cache = ConvCache(x=x, w=w, b=b, stride=stride, pad=pad)\n"
                                    "    return out, cache\n"
                                    "    out = np.zeros((N, F_, H_out, W_out))\n"))),
]

# Test cells that train a network (seconds each): rerun after the first mutant of each earlier
# task whose functions Task 3.9 calls, which is none (tests/unit_harness.py, UnitNotebook.expect_killed)
EXPENSIVE_TESTS = ["test_task3_9"]

NAMED = [
    ("task3_2", "flipped kernel (true convolution)"),
    ("task3_2", "padding applied to one side only"),
    ("task3_1", "padding counted on one side only"),
    ("task3_3", "stride ignored in the backward pass"),
    ("task3_6", "gradient routed to every max in a window"),
    ("task3_2", "channels paired in the wrong order"),
    ("task3_3", "channels summed into dw (wrong axis)"),
    ("task3_3", "backward writes the padding into the cached input"),
    ("task3_2", "forward returns float32 for float64 input"),
    ("task3_9", "a new optimiser every epoch"),
    ("task3_9", "shuffled once: the same order every epoch"),
    ("task3_9", "model left in train mode"),
    ("task3_9", "model never put in train() mode"),
    ("task3_1", "raises when the stride does not divide (the old convention)"),
    ("task3_4", "stride ignored in the input gradient"),
    ("task3_5", "output size rounded up (ceil mode)"),
    ("task3_7", "stride ignored in im2col"),
    ("task3_8", "loops of Task 3.2 behind an unused im2col"),
]

CORRECT_ALTERNATIVES = [
    # hint-following students: each calls the earlier function its task's text offers
    Mutant(task="task3_2", name="hint-following student: calls conv_output_size for the output size",
           source=_swap("task3_2", ("    H_out = 1 + (H + 2 * pad - HH) // stride\n    W_out = 1 + (W + 2 * pad - WW) // stride\n",
                                    "    H_out = conv_output_size(H, HH, pad, stride)\n    W_out = conv_output_size(W, WW, pad, stride)\n"))),
    Mutant(task="task3_5", name="hint-following student: calls conv_output_size for the pooled size",
           source=_swap("task3_5", ("    H_out = (H - pool_h) // stride + 1\n    W_out = (W - pool_w) // stride + 1\n",
                                    "    H_out = conv_output_size(H, pool_h, 0, stride)\n    W_out = conv_output_size(W, pool_w, 0, stride)\n"))),
    Mutant(task="task3_7", name="hint-following student: calls conv_output_size for the output size",
           source=_swap("task3_7", ("    H_out = 1 + (H + 2 * pad - HH) // stride\n    W_out = 1 + (W + 2 * pad - WW) // stride\n",
                                    "    H_out = conv_output_size(H, HH, pad, stride)\n    W_out = conv_output_size(W, WW, pad, stride)\n"))),
    Mutant(task="task3_9", name="hint-following student: lecture 03's shapes_cnn and train_one_cycle (DataLoader, one-cycle Adam)",
           source='''def make_cnn(num_classes=10):
    """Lecture 03's shapes_cnn (section 7.1), without its Standardize (the shapes here are standardised)."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),    # 16 -> 8
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),   # 8 -> 4
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes))


def train_cnn(model, X, y, *, epochs=6, lr=1e-2, batch_size=64, seed=0):
    """Lecture 03's train_one_cycle (a DataLoader, Adam, a one-cycle schedule stepped every batch), written
    out instead of calling course_lib.train.fit, which this task may not use."""
    from torch.utils.data import DataLoader, TensorDataset
    device = get_device()
    data = TensorDataset(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(loader))
    losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(xb)
        losses.append(total / len(data))
    model.eval()
    return losses
'''),
    Mutant(task='task3_1', name='divmod', source=r'''def conv_output_size(W, F, P, S):
    """Output size of a convolution along one axis (divmod version)."""
    if S < 1 or P < 0:
        raise ValueError("need S >= 1 and P >= 0")
    if W + 2 * P - F < 0:
        raise ValueError(f"a filter of size {F} does not fit an input of size {W} padded by {P}")
    q, _ = divmod(W + 2 * P - F, S)     # the remainder is what rounding down drops
    return q + 1
'''),
    Mutant(task='task3_2', name='vectorized: sliding_window_view + einsum', source=r'''@dataclass
class ConvCache:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    stride: int
    pad: int


def conv_forward_naive(x, w, b, stride=1, pad=0):
    """Vectorized: all windows at once with sliding_window_view, then one einsum."""
    HH, WW = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("ncijkl,fckl->nfij", win, w) + b[None, :, None, None]
    return out, ConvCache(x, w, b, stride, pad)
'''),
    Mutant(task="task3_3", name="loops over kernel offsets + einsum", source="""def conv_backward_weights(dout, cache):
    \"\"\"Loops over the HH*WW kernel offsets only; einsum does the rest.\"\"\"
    x, w, s, p = cache.x, cache.w, cache.stride, cache.pad
    HH, WW = w.shape[2:]
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.empty(w.shape)
    for kh in range(HH):
        for kw in range(WW):
            rows = slice(kh, kh + s * (Ho - 1) + 1, s)
            cols = slice(kw, kw + s * (Wo - 1) + 1, s)
            dw[:, :, kh, kw] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
    return dw, dout.sum(axis=(0, 2, 3))
"""),
    Mutant(task="task3_4", name="loops over kernel offsets + einsum, dw and db computed here", source="""def conv_backward_naive(dout, cache):
    \"\"\"Loops over the HH*WW kernel offsets only; einsum does the rest. Does not call Task 3.3.\"\"\"
    x, w, s, p = cache.x, cache.w, cache.stride, cache.pad
    N, C, H, W = x.shape
    F_, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.empty_like(w)
    for kh in range(HH):
        for kw in range(WW):
            rows = slice(kh, kh + s * (Ho - 1) + 1, s)
            cols = slice(kw, kw + s * (Wo - 1) + 1, s)
            dw[:, :, kh, kw] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, kh, kw])
    return dxp[:, :, p:p + H, p:p + W], dw, dout.sum(axis=(0, 2, 3))
"""),
    Mutant(task="task3_5", name="scalar loops", source="""def max_pool_forward_naive(x, pool_h=2, pool_w=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - pool_h) // stride + 1, (W - pool_w) // stride + 1
    out = np.empty((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(x[n, c, i * stride:i * stride + pool_h, j * stride:j * stride + pool_w])
    return out, PoolCache(x, pool_h, pool_w, stride)
"""),
    Mutant(task="task3_6", name="scalar loops, argmax per window", source="""def max_pool_backward_naive(dout, cache):
    \"\"\"Scalar loops; argmax per window picks the first maximum.\"\"\"
    x, ph, pw, s = cache.x, cache.pool_h, cache.pool_w, cache.stride
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    a, bb = np.unravel_index(np.argmax(win), win.shape)
                    dx[n, c, i * s + a, j * s + bb] += dout[n, c, i, j]
    return dx
"""),
    Mutant(task="task3_6", name="vectorized argmax + np.add.at", source="""def max_pool_backward_naive(dout, cache):
    \"\"\"Fully vectorized: sliding windows, argmax per window, np.add.at.\"\"\"
    x, ph, pw, s = cache.x, cache.pool_h, cache.pool_w, cache.stride
    N, C, Ho, Wo = dout.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))
    k = win[:, :, ::s, ::s][:, :, :Ho, :Wo].reshape(N, C, Ho, Wo, ph * pw).argmax(axis=-1)
    rows = np.arange(Ho)[None, None, :, None] * s + k // pw
    cols = np.arange(Wo)[None, None, None, :] * s + k % pw
    n = np.broadcast_to(np.arange(N)[:, None, None, None], k.shape)
    c = np.broadcast_to(np.arange(C)[None, :, None, None], k.shape)
    dx = np.zeros(x.shape)
    np.add.at(dx, (n, c, rows, cols), dout)
    return dx
"""),
    Mutant(task="task3_7", name="sliding_window_view im2col", source="""def im2col(x, HH, WW, stride=1, pad=0):
    \"\"\"sliding_window_view instead of loops.\"\"\"
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    Ho, Wo = win.shape[2:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * HH * WW)
"""),
    Mutant(task="task3_8", name="W @ cols.T", source="""def conv_forward_im2col(x, w, b, stride=1, pad=0):
    F_, C, HH, WW = w.shape
    N, _, H, W = x.shape
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.dot(w.reshape(F_, -1), im2col(x, HH, WW, stride, pad).T) + b[:, None]   # (F, N*Ho*Wo)
    return out.reshape(F_, N, Ho, Wo).transpose(1, 0, 2, 3)
"""),
    Mutant(task="task3_9", name="NumPy generator shuffle, dropout, summed loss", source="""def make_cnn(num_classes=10):
    \"\"\"Two conv blocks with pooling, dropout before the classifier.\"\"\"
    return nn.Sequential(
        nn.Conv2d(3, 24, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # 24x8x8
        nn.Conv2d(24, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 32x4x4
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(512, num_classes))


def train_cnn(model, X, y, *, epochs=12, lr=3e-3, batch_size=64, seed=0):
    \"\"\"NumPy generator for the shuffling, batches moved to the device one at a time.\"\"\"
    rng = np.random.default_rng(seed)
    dev = get_device()
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    losses = []
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(X))
        batch_losses = []
        for start in range(0, len(X), batch_size):
            sel = order[start:start + batch_size]
            xb, yb = torch.from_numpy(X[sel]).to(dev), torch.from_numpy(y[sel]).to(dev)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb, reduction="sum")
            (loss / len(sel)).backward()
            opt.step()
            batch_losses.append(loss.item())
        losses.append(sum(batch_losses) / len(X))
    model.eval()
    return losses
"""),
    Mutant(task='task3_10', name='one image at a time with backward()', source=r'''def saliency(model, x, y):
    """One image at a time, with .backward()."""
    model.eval()
    maps = []
    for n in range(x.shape[0]):
        xn = x[n:n + 1].detach().clone()
        xn.requires_grad = True
        model.zero_grad()
        model(xn)[0, y[n]].backward()
        maps.append(torch.max(torch.abs(xn.grad[0]), dim=0).values)
    return torch.stack(maps).cpu().numpy()
'''),
]

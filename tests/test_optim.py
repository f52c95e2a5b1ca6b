"""course_lib.optim and course_lib.init: trajectories against torch.optim (float64), schedules, init statistics."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib import init, optim

# A fixed small least-squares problem: loss(w) = 0.5 * ||A w - b||^2 / N, w of shape (4, 3).
_rng = np.random.default_rng(11)
A = _rng.standard_normal((10, 4))
B = _rng.standard_normal((10, 3))
W0 = _rng.standard_normal((4, 3)) * 0.7 + 0.3


def grad(w):
    return A.T @ (A @ w - B) / len(A)


def torch_trajectory(cls, steps=20, **kw):
    w = torch.tensor(W0.copy(), requires_grad=True)
    opt = cls([w], **kw)
    At, Bt = torch.tensor(A), torch.tensor(B)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * ((At @ w - Bt) ** 2).sum() / len(A)
        loss.backward()
        opt.step()
        out.append(w.detach().numpy().copy())
    return np.array(out)


def functional_trajectory(fn, steps=20, **kw):
    w, state, out = W0.copy(), None, []
    for _ in range(steps):
        w, state = fn(w, grad(w), state, **kw)
        out.append(w.copy())
    return np.array(out)


def object_trajectory(opt_cls, steps=20, **kw):
    params = {"W": W0.copy()}
    opt = opt_cls(params, **kw)
    out = []
    for _ in range(steps):
        opt.step({"W": grad(params["W"])})
        out.append(params["W"].copy())
    return np.array(out)


CASES = [
    ("sgd", optim.sgd_step, optim.SGD, torch.optim.SGD, dict(lr=0.1), {}),
    ("sgd_wd", optim.sgd_step, optim.SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.05), {}),
    ("momentum", optim.sgd_step, optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9), {}),
    ("nesterov", optim.sgd_step, optim.SGD, torch.optim.SGD,
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), {}),
    ("adagrad", optim.adagrad_step, optim.Adagrad, torch.optim.Adagrad, dict(lr=0.3, weight_decay=0.02), {}),
    ("rmsprop", optim.rmsprop_step, optim.RMSProp, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9), {}),
    ("rmsprop_mom", optim.rmsprop_step, optim.RMSProp, torch.optim.RMSprop,
     dict(lr=0.01, alpha=0.95, momentum=0.7, weight_decay=0.03), {}),
    ("adam", optim.adam_step, optim.Adam, torch.optim.Adam, dict(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-6),
     dict(betas=(0.8, 0.95))),
    ("adam_wd", optim.adam_step, optim.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1),
     {}),
    ("adamw", optim.adam_step, optim.Adam, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1, decoupled=True),
     {}),
]


def _torch_kwargs(kw, extra):
    out = {k: v for k, v in kw.items() if k not in ("beta1", "beta2", "decoupled")}
    out.update(extra)
    return out


@pytest.mark.parametrize("name,fn,cls,tcls,kw,extra", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(name, fn, cls, tcls, kw, extra):
    expected = torch_trajectory(tcls, **_torch_kwargs(kw, extra))
    np.testing.assert_allclose(functional_trajectory(fn, **kw), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(object_trajectory(cls, **kw), expected, rtol=1e-10, atol=1e-12)


def test_functional_step_does_not_modify_inputs():
    w, dw = W0.copy(), grad(W0)
    _, state = optim.adam_step(w, dw, None, lr=0.1)
    m_before = state["m"].copy()
    w2, state2 = optim.adam_step(w, dw, state, lr=0.1)
    np.testing.assert_array_equal(w, W0)
    np.testing.assert_array_equal(state["m"], m_before)
    assert state2["t"] == 2 and state["t"] == 1


def test_adam_eps_after_sqrt():
    # With v_hat = g^2, the first Adam step is lr * g / (|g| + eps); eps inside the root would differ.
    w, g, eps = np.zeros(1), np.array([1e-4]), 1e-4
    w1, _ = optim.adam_step(w, g, lr=1.0, eps=eps)
    assert math.isclose(-w1[0], 1e-4 / (1e-4 + eps), rel_tol=1e-9)


def test_make_optimizer_names_and_lr_change():
    p = {"W": W0.copy()}
    assert isinstance(optim.make_optimizer("nesterov", p, lr=0.1), optim.SGD)
    assert optim.make_optimizer("adamw", p).hyper["decoupled"] is True
    with pytest.raises(ValueError):
        optim.make_optimizer("lion", p)
    opt = optim.SGD(p, lr=0.1)
    opt.lr = 0.0
    opt.step({"W": np.ones_like(W0)})
    np.testing.assert_array_equal(p["W"], W0)


def test_optimizer_accepts_list_of_params():
    params = [W0.copy(), np.ones(3)]
    opt = optim.SGD(params, lr=0.5)
    opt.step([np.ones_like(W0), np.ones(3)])
    np.testing.assert_allclose(params[0], W0 - 0.5)
    np.testing.assert_allclose(params[1], 0.5)


def _torch_lrs(scheduler_factory, steps):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.4)
    sched = scheduler_factory(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs)


def test_step_lr_matches_torch():
    ours = [optim.step_lr(t, base_lr=0.4, step_size=7, gamma=0.5) for t in range(30)]
    theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, 7, gamma=0.5), 30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cosine_lr_matches_torch():
    ours = [optim.cosine_lr(t, base_lr=0.4, total_steps=25, min_lr=0.01) for t in range(25)]
    theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 25, eta_min=0.01), 25)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert optim.cosine_lr(25, base_lr=0.4, total_steps=25, min_lr=0.01) == pytest.approx(0.01)
    assert optim.cosine_lr(99, base_lr=0.4, total_steps=25, min_lr=0.01) == pytest.approx(0.01)


def test_warmup_schedules():
    lrs = [optim.linear_warmup(t, base_lr=1.0, warmup_steps=4) for t in range(6)]
    assert lrs == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    wc = [optim.warmup_cosine(t, base_lr=1.0, warmup_steps=4, total_steps=14) for t in range(16)]
    assert wc[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert wc[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(wc[3:], wc[4:]))     # non-increasing after warm-up
    assert wc[14] == pytest.approx(0.0) and wc[15] == pytest.approx(0.0)


# ---- init -------------------------------------------------------------------------

def test_fans():
    assert init.fans((64, 10)) == (64, 10)
    assert init.fans((8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError):
        init.fans((5,))


@pytest.mark.parametrize("fn,shape,var", [
    (init.xavier_uniform, (300, 200), 2.0 / 500),
    (init.xavier_normal, (300, 200), 2.0 / 500),
    (init.he_normal, (300, 200), 2.0 / 300),
    (init.he_uniform, (300, 200), 2.0 / 300),
    (init.he_normal, (32, 16, 3, 3), 2.0 / 144),
])
def test_init_variance(fn, shape, var):
    w = fn(shape, np.random.default_rng(0))
    assert w.shape == shape
    n = w.size
    # the sample variance of n draws has relative standard error about sqrt(2 / n) (normal) or less
    assert abs(w.var() / var - 1) < 5 * math.sqrt(2.0 / n)
    assert abs(w.mean()) < 5 * math.sqrt(var / n)


def test_init_bounds_and_rng_behaviour():
    state = np.random.get_state()
    a = init.xavier_uniform((50, 30), np.random.default_rng(3), gain=init.gain("tanh"))
    bound = 5 / 3 * math.sqrt(6 / 80)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
    np.testing.assert_array_equal(a, init.xavier_uniform((50, 30), 3, gain=5 / 3))
    assert np.all(np.random.get_state()[1] == state[1])   # the global RNG is untouched
